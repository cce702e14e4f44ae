"""Where a race's input lives: the runners' events, in arrival order, read back by every hub process.

Every hub process appends what its runners send (`append`) and reads the whole stream back
(`read`), so all processes derive the same standings from the same input, and a restarted process
rebuilds the race by reading it from the start. `MemoryStore` is the one-process case (the default);
`RedisStore` keeps each race in a Redis Stream (`dxbus:race:<id>`), shared by every process pointed
at the same Redis (`dxbus race --redis redis://HOST:6379/0`).

A record is a dict: `{"k": "ev", "r": runner, "i": instance, "e": wire event}` or
`{"k": "forfeit", "r": runner}`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import orjson

Record = dict[str, Any]
START = "0"


class RaceStore(Protocol):
    """Append-only race input, readable from any position by any number of readers."""

    async def append(self, race: str, records: list[Record]) -> None:
        """Add records at the end, in order."""

    async def read(self, race: str, after: str, block: float = 1.0) -> list[tuple[str, Record]]:
        """Records after position `after` (`START` for all); waits up to `block` s for new ones."""

    async def last_id(self, race: str) -> str:
        """The position of the last record (`START` if none)."""

    async def close(self) -> None:
        """Release connections."""


class MemoryStore:
    """One process: a list per race and a condition to wake readers."""

    def __init__(self) -> None:
        self._records: dict[str, list[Record]] = {}
        self._changed: asyncio.Condition | None = None

    def _cond(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def append(self, race: str, records: list[Record]) -> None:
        """Add records and wake every reader."""
        if not records:
            return
        self._records.setdefault(race, []).extend(records)
        async with self._cond():
            self._cond().notify_all()

    async def read(self, race: str, after: str, block: float = 1.0) -> list[tuple[str, Record]]:
        """Records after `after` (a list index as text); waits for new ones (a real wait, no timer)."""
        start = int(after)
        records = self._records.setdefault(race, [])
        if len(records) <= start and block > 0:
            cond = self._cond()
            async with cond:
                try:
                    await asyncio.wait_for(cond.wait_for(lambda: len(records) > start), block)
                except TimeoutError:
                    return []
        return [(str(i + 1), records[i]) for i in range(start, len(records))]

    async def last_id(self, race: str) -> str:
        """How many records the race has, as text."""
        return str(len(self._records.get(race, [])))

    async def close(self) -> None:
        """Nothing to release."""


class RedisStore:
    """Races in Redis Streams, shared by hub processes (the `redis` package, `[race]` extra)."""

    def __init__(self, url: str, prefix: str = "dxbus:race:") -> None:
        import redis.asyncio as aioredis  # the optional extra: imported only when asked for

        self.url = url
        self.prefix = prefix
        self.redis: Any = aioredis.Redis.from_url(url)
        # A blocking XREAD holds its connection; readers get a client of their own so appends
        # never queue behind them.
        self.reader: Any = aioredis.Redis.from_url(url)

    def key(self, race: str) -> str:
        """The stream key of a race."""
        return self.prefix + race

    async def check(self) -> None:
        """Fail early with a clear error if Redis cannot be reached."""
        try:
            await self.redis.ping()
        except Exception as exc:
            raise ConnectionError(f"Redis at {self.url}: {exc}") from None

    async def append(self, race: str, records: list[Record]) -> None:
        """XADD every record (one round trip)."""
        if not records:
            return
        key = self.key(race)
        async with self.redis.pipeline(transaction=False) as pipe:
            for record in records:
                pipe.xadd(key, {b"d": orjson.dumps(record)})
            await pipe.execute()

    async def read(self, race: str, after: str, block: float = 1.0) -> list[tuple[str, Record]]:
        """XREAD after a stream id (`0` for all), blocking up to `block` s."""
        stream_id = "0-0" if after == START else after
        reply = await self.reader.xread({self.key(race): stream_id}, count=2000,
                                        block=max(1, int(block * 1000)) if block > 0 else None)
        out: list[tuple[str, Record]] = []
        for _key, entries in reply or []:
            for entry_id, fields in entries:
                ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                out.append((ident, orjson.loads(fields[b"d"])))
        return out

    async def last_id(self, race: str) -> str:
        """The id of the stream's last entry (`0` if empty)."""
        entries = await self.redis.xrevrange(self.key(race), count=1)
        if not entries:
            return START
        entry_id = entries[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def close(self) -> None:
        """Close both connections."""
        for client in (self.redis, self.reader):
            await client.aclose()


def before(a: str, b: str) -> bool:
    """Whether position `a` comes before `b` (list indexes or Redis stream ids)."""
    def parts(x: str) -> tuple[int, int]:
        ms, _, n = x.partition("-")
        return int(ms), int(n or 0)
    return parts(a) < parts(b)


__all__ = ["START", "MemoryStore", "RaceStore", "Record", "RedisStore", "before"]
