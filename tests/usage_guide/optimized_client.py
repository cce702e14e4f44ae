"""
Optimized client with batching and compression
"""

import asyncio
import aiohttp
import gzip
import json
from typing import List, Dict
from collections import deque

class OptimizedClient:
    def __init__(self, base_url: str, batch_size: int = 10,
                 batch_timeout: float = 1.0):
        self.base_url = base_url
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout
        self.pending_requests = deque()
        self.metrics_cache = {}

    async def get_metrics_batch(self, requests: List[Dict]) -> List[Dict]:
        """Batch multiple metric requests into one"""
        # Combine filters
        all_types = set()
        for req in requests:
            if 'type' in req:
                all_types.add(req['type'])

        # Single request for all types
        params = {'limit': 1000}
        if all_types:
            params['types'] = ','.join(all_types)

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.base_url}/api/metrics",
                                  params=params) as resp:
                data = await resp.json()

        # Distribute results to original requests
        results = []
        for req in requests:
            filtered = [m for m in data
                       if not req.get('type') or m['EventType'] == req['type']]
            results.append(filtered[:req.get('limit', 100)])

        return results

    async def stream_compressed(self):
        """Stream with compression to reduce bandwidth"""
        headers = {'Accept-Encoding': 'gzip'}

        async with aiohttp.ClientSession() as session:
            # Request compressed WebSocket upgrade
            async with session.ws_connect(
                self.base_url.replace('http', 'ws') + ':9091',
                compress=15  # Enable per-message deflate
            ) as ws:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        yield json.loads(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        # Handle compressed binary data
                        decompressed = gzip.decompress(msg.data)
                        yield json.loads(decompressed)

    def cache_metrics(self, metrics: List[Dict], ttl: int = 60):
        """Cache metrics to reduce repeated requests"""
        for metric in metrics:
            key = f"{metric['EventType']}_{metric.get('Timestamp', '')}"
            self.metrics_cache[key] = {
                'data': metric,
                'expires': asyncio.get_event_loop().time() + ttl
            }

    async def get_cached_or_fetch(self, event_type: str) -> List[Dict]:
        """Try cache first, then fetch if needed"""
        # Check cache
        now = asyncio.get_event_loop().time()
        cached = []

        for key, value in list(self.metrics_cache.items()):
            if value['expires'] < now:
                del self.metrics_cache[key]
            elif value['data']['EventType'] == event_type:
                cached.append(value['data'])

        if cached:
            return cached

        # Fetch if not cached
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.base_url}/api/metrics",
                                 params={'type': event_type}) as resp:
                metrics = await resp.json()
                self.cache_metrics(metrics)
                return metrics
