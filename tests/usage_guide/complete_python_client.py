"""
Data Export Bus Python Client
Full-featured client for interacting with all protocols
"""

import asyncio
import aiohttp
import websockets
import json
from typing import Dict, List, Optional, Callable
from datetime import datetime
import logging

class DataExportBusClient:
    def __init__(self,
                 http_url: str = "http://localhost:8080",
                 ws_url: str = "ws://localhost:9091",
                 tcp_host: str = "localhost",
                 tcp_port: int = 9090):
        self.http_url = http_url
        self.ws_url = ws_url
        self.tcp_host = tcp_host
        self.tcp_port = tcp_port
        self.handlers: Dict[str, List[Callable]] = {}
        self.logger = logging.getLogger(__name__)

    # HTTP Methods
    async def get_status(self) -> Dict:
        """Get current service status"""
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.http_url}/api/status") as resp:
                return await resp.json()

    async def get_metrics(self, event_type: Optional[str] = None,
                          limit: int = 100) -> List[Dict]:
        """Get recent metrics with optional filtering"""
        params = {"limit": limit}
        if event_type:
            params["type"] = event_type

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.http_url}/api/metrics",
                                  params=params) as resp:
                return await resp.json()

    async def configure(self, **settings) -> Dict:
        """Update configuration dynamically"""
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{self.http_url}/api/configure",
                                   json=settings) as resp:
                return await resp.json()

    # WebSocket Streaming
    def on_event(self, event_type: str):
        """Decorator for event handlers"""
        def decorator(func):
            if event_type not in self.handlers:
                self.handlers[event_type] = []
            self.handlers[event_type].append(func)
            return func
        return decorator

    async def stream(self):
        """Start WebSocket streaming with event handlers"""
        async with websockets.connect(self.ws_url) as ws:
            self.logger.info("Connected to WebSocket stream")

            async for message in ws:
                try:
                    data = json.loads(message)
                    event_type = data.get('EventType')

                    # Call registered handlers
                    if event_type in self.handlers:
                        for handler in self.handlers[event_type]:
                            await handler(data) if asyncio.iscoroutinefunction(handler) else handler(data)

                    # Call wildcard handlers
                    if '*' in self.handlers:
                        for handler in self.handlers['*']:
                            await handler(data) if asyncio.iscoroutinefunction(handler) else handler(data)

                except json.JSONDecodeError:
                    self.logger.error(f"Invalid JSON: {message}")
                except Exception as e:
                    self.logger.error(f"Handler error: {e}")

    # TCP LiveSplit Integration
    async def livesplit_bridge(self, callback: Optional[Callable] = None):
        """Bridge TCP commands to LiveSplit or custom handler"""
        reader, writer = await asyncio.open_connection(self.tcp_host, self.tcp_port)
        self.logger.info("Connected to TCP server")

        try:
            while True:
                data = await reader.readline()
                if not data:
                    break

                command = data.decode().strip()
                self.logger.debug(f"TCP command: {command}")

                if callback:
                    await callback(command) if asyncio.iscoroutinefunction(callback) else callback(command)

        finally:
            writer.close()
            await writer.wait_closed()

# Example usage
async def main():
    client = DataExportBusClient()

    # Register event handlers
    @client.on_event('player_update')
    def handle_player_update(data):
        print(f"Player at ({data['Data']['position_x']:.1f}, {data['Data']['position_y']:.1f})")

    @client.on_event('combat_damage')
    async def handle_damage(data):
        if data['Data']['is_player_damage']:
            print(f"Player took {data['Data']['damage']} damage!")
            # Could trigger external API call here

    @client.on_event('scene_transition')
    def handle_scene_change(data):
        print(f"Entered: {data['Data']['to_scene']}")

    # Start streaming
    await client.stream()

if __name__ == "__main__":
    asyncio.run(main())
