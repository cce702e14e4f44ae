import pandas as pd
import matplotlib.pyplot as plt
from datetime import datetime
import json

class GameSessionAnalyzer:
    def __init__(self, export_file: str):
        self.events = []
        with open(export_file) as f:
            for line in f:
                self.events.append(json.loads(line))

        self.df = pd.DataFrame(self.events)
        self.df['Timestamp'] = pd.to_datetime(self.df['Timestamp'])

    def plot_health_over_time(self):
        """Visualize health changes during session"""
        health_events = self.df[self.df['EventType'] == 'player_update'].copy()
        health_events['health'] = health_events['Data'].apply(lambda x: x.get('health_current', 0))

        plt.figure(figsize=(12, 6))
        plt.plot(health_events['Timestamp'], health_events['health'], 'b-')
        plt.fill_between(health_events['Timestamp'], 0, health_events['health'], alpha=0.3)
        plt.ylabel('Health')
        plt.xlabel('Time')
        plt.title('Health Over Time')
        plt.xticks(rotation=45)
        plt.tight_layout()
        plt.show()

    def analyze_combat_performance(self):
        """Calculate combat statistics"""
        combat = self.df[self.df['EventType'] == 'combat_damage']

        player_damage = combat[combat['Data'].apply(lambda x: x.get('is_player_damage', False))]
        enemy_damage = combat[~combat['Data'].apply(lambda x: x.get('is_player_damage', False))]

        stats = {
            'total_damage_dealt': enemy_damage['Data'].apply(lambda x: x.get('damage', 0)).sum(),
            'total_damage_taken': player_damage['Data'].apply(lambda x: x.get('damage', 0)).sum(),
            'avg_damage_dealt': enemy_damage['Data'].apply(lambda x: x.get('damage', 0)).mean(),
            'avg_damage_taken': player_damage['Data'].apply(lambda x: x.get('damage', 0)).mean(),
            'combat_encounters': len(combat),
            'damage_ratio': enemy_damage['Data'].apply(lambda x: x.get('damage', 0)).sum() /
                           (player_damage['Data'].apply(lambda x: x.get('damage', 0)).sum() or 1)
        }

        return stats

    def scene_heatmap(self):
        """Generate heatmap of time spent in each scene"""
        scenes = self.df[self.df['EventType'] == 'scene_transition']
        scene_times = {}

        for i, row in scenes.iterrows():
            scene = row['Data'].get('from_scene')
            time_spent = row['Data'].get('total_scene_time', 0)

            if scene not in scene_times:
                scene_times[scene] = []
            scene_times[scene].append(time_spent)

        # Calculate averages
        scene_avg = {scene: sum(times)/len(times)
                    for scene, times in scene_times.items()}

        # Create heatmap
        plt.figure(figsize=(10, 8))
        scenes = list(scene_avg.keys())
        times = list(scene_avg.values())

        plt.barh(scenes, times, color=plt.cm.coolwarm([t/max(times) for t in times]))
        plt.xlabel('Average Time (seconds)')
        plt.title('Scene Difficulty Heatmap')
        plt.tight_layout()
        plt.show()

        return scene_avg
