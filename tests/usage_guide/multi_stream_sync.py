"""
Multi-stream synchronization for races or co-op
Aggregates data from multiple Data Export Bus instances
"""

import asyncio
import aiohttp
from typing import Dict, List
import json

class MultiStreamSync:
    def __init__(self, players: Dict[str, str]):
        """
        players: Dict mapping player names to their Data Export Bus URLs
        e.g., {"Player1": "http://192.168.1.100:8080", "Player2": "http://192.168.1.101:8080"}
        """
        self.players = players
        self.player_states = {name: {} for name in players}

    async def sync_loop(self):
        """Continuously sync all player states"""
        while True:
            await self.update_all_states()
            self.render_comparison()
            await asyncio.sleep(0.5)  # 2Hz update rate

    async def update_all_states(self):
        """Fetch current state from all players"""
        tasks = []
        for name, url in self.players.items():
            tasks.append(self.fetch_player_state(name, url))

        await asyncio.gather(*tasks, return_exceptions=True)

    async def fetch_player_state(self, name: str, url: str):
        """Fetch state for a single player"""
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{url}/api/metrics") as resp:
                    metrics = await resp.json()

                    # Extract relevant data
                    for metric in metrics:
                        if metric['EventType'] == 'player_update':
                            self.player_states[name]['position'] = {
                                'x': metric['Data']['position_x'],
                                'y': metric['Data']['position_y']
                            }
                            self.player_states[name]['health'] = metric['Data']['health_current']

                        elif metric['EventType'] == 'timing_update':
                            self.player_states[name]['game_time'] = metric['Data']['session_time']

                        elif metric['EventType'] == 'scene_transition':
                            self.player_states[name]['current_scene'] = metric['Data']['to_scene']

        except Exception as e:
            print(f"Error fetching {name}: {e}")

    def render_comparison(self):
        """Display synchronized comparison"""
        print("\n" + "="*50)
        print("RACE STATUS")
        print("="*50)

        # Sort by game time (race position)
        sorted_players = sorted(self.player_states.items(),
                              key=lambda x: x[1].get('game_time', float('inf')))

        for i, (name, state) in enumerate(sorted_players, 1):
            if 'game_time' in state:
                time_str = f"{state['game_time']:.1f}s"
                scene = state.get('current_scene', 'Unknown')
                health = state.get('health', 0)

                # Calculate relative position
                if i > 1:
                    time_behind = state['game_time'] - sorted_players[0][1]['game_time']
                    print(f"{i}. {name}: {scene} | HP: {health} | Time: {time_str} (+{time_behind:.1f}s)")
                else:
                    print(f"{i}. {name}: {scene} | HP: {health} | Time: {time_str} (LEADER)")

# Usage for race
async def main():
    sync = MultiStreamSync({
        "Speedrunner1": "http://192.168.1.100:8080",
        "Speedrunner2": "http://192.168.1.101:8080",
        "Speedrunner3": "http://192.168.1.102:8080"
    })
    await sync.sync_loop()

asyncio.run(main())
