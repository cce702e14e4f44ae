"""Event frames built once and shared by every client, compressed ones included.

The stream writes its event frames itself (one socket write per client per batch, see
`ws_stream.StreamClient.pump`). Each event's frame is built once per flavour and reused for every
client that gets it: the plain text frame, and for permessage-deflate clients the deflated frame.

Deflating once works because the stream always negotiates `server_no_context_takeover`
(RFC 7692 section 7.1.1.1; a server may include it even when the client did not ask): every
message is compressed on its own, from an empty window, so the same bytes are valid for every
client with the same window size. That costs a little ratio on tiny frames (no shared dictionary
between messages) and saves a deflate per client per frame, which on loopback was 28 us of CPU per
delivery against 3 us uncompressed (bench/README.md).
"""

from __future__ import annotations

import ipaddress
import zlib
from typing import Literal

from aiohttp import hdrs, web
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from .events import Event
from .ws_protocol import TEXT, TEXT_DEFLATED, frame_header

Compression = Literal["off", "auto", "on"]
_DEFLATE_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with; RFC 7692 7.2.1


def negotiates_deflate(mode: Compression, remote: str | None) -> bool:
    """Whether to accept permessage-deflate from a client at `remote` (`[WebSocket] Compression`).

    `off`: never. `on`: whenever the client offers it. `auto` (the default): only for clients that are
    not on this machine; over loopback, compressing ~200-byte frames costs CPU and saves nothing.
    """
    if mode == "off":
        return False
    if mode == "on":
        return True
    return not is_loopback(remote)


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 (also IPv4-mapped); an unknown peer counts as remote."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class SharedDeflateResponse(web.WebSocketResponse):
    """A WebSocketResponse that, when it accepts permessage-deflate, always answers with
    `server_no_context_takeover`, so the stream can share one compressed copy of each event.

    aiohttp only echoes the parameter when the client asked for it; this adds it in every case.
    (It overrides aiohttp's `_handshake`, tested in tests/test_ws_compression.py.)
    """

    def _handshake(self, request: BaseRequest) -> tuple[CIMultiDict[str], str | None, int, bool]:
        headers, protocol, compress, _ = super()._handshake(request)
        if compress:
            extension = "permessage-deflate; server_no_context_takeover"
            if compress < 15:
                extension += f"; server_max_window_bits={compress}"
            headers[hdrs.SEC_WEBSOCKET_EXTENSIONS] = extension
        return headers, protocol, compress, True


class Deflater:
    """One raw-deflate compressor for one window size, flushed fully after every message."""

    def __init__(self, wbits: int) -> None:
        self._zlib = zlib.compressobj(1, zlib.DEFLATED, -wbits)

    def message(self, payload: bytes) -> bytes:
        """The payload of a permessage-deflate message, independent of every message before it."""
        z = self._zlib
        out = z.compress(payload) + z.flush(zlib.Z_FULL_FLUSH)
        return out[:-4] if out.endswith(_DEFLATE_TAIL) else out


def deflated_frame(payload: bytes, deflater: Deflater) -> bytes:
    """A whole text frame for a deflate client; sent uncompressed if deflating would not shrink it
    (RFC 7692 section 6: a message without RSV1 is not compressed)."""
    body = deflater.message(payload)
    if len(body) >= len(payload):
        return frame_header(len(payload), TEXT) + payload
    return frame_header(len(body), TEXT_DEFLATED) + body


class FrameCache:
    """Each event's frames, built on first use: `frame(event, 0)` plain, `frame(event, wbits)` deflated.

    Bounded: the recent events only (a client that resumes from far back rebuilds a few frames).
    Keyed by the event's identity; the entry holds the event, so the identity is not reused meanwhile.
    """

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._frames: dict[tuple[int, int], tuple[Event, bytes]] = {}
        self._deflaters: dict[int, Deflater] = {}
        self.deflated = 0  # messages deflated (once per event and window size, not per client)

    def frame(self, event: Event, wbits: int = 0) -> bytes:
        """The frame that carries `event` to a client with this window size (0: no deflate)."""
        key = (id(event), wbits)
        hit = self._frames.get(key)
        if hit is not None and hit[0] is event:
            return hit[1]
        frame = self.build(event.raw, wbits)
        if len(self._frames) >= self.limit:
            self._frames.clear()
        self._frames[key] = (event, frame)
        return frame

    def build(self, payload: bytes, wbits: int = 0) -> bytes:
        """A frame for any payload (a snapshot, say), not cached."""
        if not wbits:
            return frame_header(len(payload), TEXT) + payload
        deflater = self._deflaters.get(wbits)
        if deflater is None:
            deflater = self._deflaters[wbits] = Deflater(wbits)
        self.deflated += 1
        return deflated_frame(payload, deflater)
