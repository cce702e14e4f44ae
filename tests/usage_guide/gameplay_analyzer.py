"""
Statistical analysis of gameplay patterns using exported data
Identifies inefficiencies and suggests optimizations
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
import json
from typing import List, Dict
from collections import defaultdict

class GameplayAnalyzer:
    def __init__(self, session_file: str):
        self.events = self.load_session(session_file)
        self.segments = self.extract_segments()

    def load_session(self, filename: str) -> List[Dict]:
        events = []
        with open(filename) as f:
            for line in f:
                events.append(json.loads(line))
        return events

    def extract_segments(self) -> Dict:
        """Extract room segments for analysis"""
        segments = defaultdict(list)
        current_scene = None
        segment_data = None

        for event in self.events:
            if event['EventType'] == 'scene_transition':
                if segment_data:
                    segments[current_scene].append(segment_data)

                current_scene = event['Data']['to_scene']
                segment_data = {
                    'scene': current_scene,
                    'start_time': event['Timestamp'],
                    'damage_taken': 0,
                    'damage_dealt': 0,
                    'abilities_used': [],
                    'path': [],
                    'duration': 0
                }

            elif segment_data:
                if event['EventType'] == 'player_update':
                    segment_data['path'].append({
                        'x': event['Data']['position_x'],
                        'y': event['Data']['position_y'],
                        'velocity': np.sqrt(
                            event['Data']['velocity_x']**2 +
                            event['Data']['velocity_y']**2
                        )
                    })

                elif event['EventType'] == 'combat_damage':
                    if event['Data']['is_player_damage']:
                        segment_data['damage_taken'] += event['Data']['damage']
                    else:
                        segment_data['damage_dealt'] += event['Data']['damage']

                elif event['EventType'] == 'ability_used':
                    segment_data['abilities_used'].append(event['Data']['ability'])

        return dict(segments)

    def analyze_routes(self, scene: str):
        """Cluster and analyze different routes through a scene"""
        if scene not in self.segments:
            return None

        attempts = self.segments[scene]
        if len(attempts) < 3:
            return None

        # Extract features for clustering
        features = []
        for attempt in attempts:
            # Calculate path efficiency
            path = attempt['path']
            if len(path) < 2:
                continue

            total_distance = sum(
                np.sqrt((path[i+1]['x'] - path[i]['x'])**2 +
                       (path[i+1]['y'] - path[i]['y'])**2)
                for i in range(len(path)-1)
            )

            avg_velocity = np.mean([p['velocity'] for p in path])

            features.append([
                total_distance,
                avg_velocity,
                attempt['damage_taken'],
                attempt['damage_dealt'],
                len(attempt['abilities_used'])
            ])

        if len(features) < 2:
            return None

        # Normalize and cluster
        scaler = StandardScaler()
        normalized = scaler.fit_transform(features)

        # Find optimal number of clusters (max 3)
        n_clusters = min(3, len(features))
        kmeans = KMeans(n_clusters=n_clusters, random_state=42)
        clusters = kmeans.fit_predict(normalized)

        # Analyze clusters
        cluster_stats = defaultdict(list)
        for i, cluster_id in enumerate(clusters):
            cluster_stats[cluster_id].append({
                'distance': features[i][0],
                'velocity': features[i][1],
                'damage_taken': features[i][2],
                'damage_dealt': features[i][3],
                'abilities': features[i][4]
            })

        # Find best performing cluster
        best_cluster = None
        best_score = float('inf')

        for cluster_id, stats in cluster_stats.items():
            # Score based on low damage taken and high velocity
            avg_damage = np.mean([s['damage_taken'] for s in stats])
            avg_velocity = np.mean([s['velocity'] for s in stats])
            score = avg_damage / (avg_velocity + 1)  # Lower is better

            if score < best_score:
                best_score = score
                best_cluster = cluster_id

        return {
            'total_attempts': len(attempts),
            'route_variants': n_clusters,
            'best_route': {
                'cluster_id': best_cluster,
                'avg_damage': np.mean([s['damage_taken']
                                       for s in cluster_stats[best_cluster]]),
                'avg_velocity': np.mean([s['velocity']
                                        for s in cluster_stats[best_cluster]]),
                'characteristics': self.describe_route(cluster_stats[best_cluster])
            },
            'recommendations': self.generate_recommendations(cluster_stats, best_cluster)
        }

    def describe_route(self, stats: List[Dict]) -> str:
        """Generate human-readable description of route characteristics"""
        avg_damage = np.mean([s['damage_taken'] for s in stats])
        avg_velocity = np.mean([s['velocity'] for s in stats])

        descriptions = []

        if avg_damage < 1:
            descriptions.append("damage-free")
        elif avg_damage < 3:
            descriptions.append("low-damage")
        else:
            descriptions.append("high-risk")

        if avg_velocity > 8:
            descriptions.append("high-speed")
        elif avg_velocity > 5:
            descriptions.append("moderate-pace")
        else:
            descriptions.append("cautious")

        return ", ".join(descriptions)

    def generate_recommendations(self, clusters: Dict, best_cluster: int) -> List[str]:
        """Generate improvement recommendations"""
        recommendations = []

        # Compare user's most recent attempt to best cluster
        best_stats = clusters[best_cluster]
        worst_stats = clusters[0] if best_cluster != 0 else clusters[1] if len(clusters) > 1 else None

        if worst_stats:
            damage_diff = np.mean([s['damage_taken'] for s in worst_stats]) - \
                         np.mean([s['damage_taken'] for s in best_stats])
            velocity_diff = np.mean([s['velocity'] for s in best_stats]) - \
                           np.mean([s['velocity'] for s in worst_stats])

            if damage_diff > 2:
                recommendations.append(f"Optimal route takes {damage_diff:.1f} less damage on average")

            if velocity_diff > 2:
                recommendations.append(f"Optimal route is {velocity_diff:.1f} units/s faster")
                recommendations.append("Consider maintaining momentum through jumps")

            ability_usage_best = np.mean([s['abilities'] for s in best_stats])
            ability_usage_worst = np.mean([s['abilities'] for s in worst_stats])

            if ability_usage_best > ability_usage_worst + 1:
                recommendations.append("Best route uses abilities more frequently for movement")
            elif ability_usage_best < ability_usage_worst - 1:
                recommendations.append("Consider conserving abilities - optimal route uses fewer")

        return recommendations

