"""The one gate: every port asks it whether a connection or a request may go on.

One place, one meaning per `[Security]` setting, for the HTTP routes (8080), the stream (`/ws` and
9091) and the timer port (9090):

- **Host** (HTTP and the stream): the `Host` header must name this machine: `localhost`, an IP address,
  the bind address or a name in `AllowedHosts`. A page that reached the bus through DNS rebinding
  carries its own domain in `Host` and is refused.
- **Origin** (HTTP and the stream): a request without `Origin` comes from a program (the game, mods,
  curl, Python) and is not limited by it. A browser request may read and write from the bus's own pages
  and from `AllowedOrigins`; it may only read (GET routes, the stream) from `ReadOnlyOrigins` (default
  `null`: pages opened from `file://`); every other origin is refused.
- **Token** (`AuthToken`): compared in constant time, on every port.
- **Rate** (`EnableRateLimiting`, `RateLimitPerMinute`) and **connections** (`MaxConnectionsPerIP`):
  counted per client IP and per *kind* of use: `http` (plain requests on 8080), `stream` (WebSocket
  connections, 9091 and `/ws` together) and `tcp` (timer clients on 9090), so 64 overlays never lock out
  the game's `POST /api/events` or the timer.
- **Sockets** (`MaxConnectionsPerPort`): open sockets per listening port, lowered if needed so that
  all ports together stay under the process's descriptor limit.
"""

from __future__ import annotations

import ipaddress
import logging
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from .http_errors import ApiError
from .security import ConnectionLimiter, RateDecision, RateLimiter, presented_token, token_matches

if TYPE_CHECKING:
    from .clock import Clock
    from .config import Config

log = logging.getLogger(__name__)

KINDS = ("http", "stream", "tcp", "ingest")  # ingest: the persistent NDJSON port (ingest_tcp.py)
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RACE_PREFIX, RACE_PUSH_SUFFIX = "/api/race/", "/push"  # dxbus.race's push socket
PUBLIC_PREFIX = "/static/"  # shipped assets: no game data, and a stylesheet's fonts cannot carry ?token=
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="dxbus"'}
# Descriptors kept free for files (export, state, logs), the listeners and outgoing connections, plus
# one accept burst: asyncio accepts up to `backlog` (128) sockets per wake-up before any refused one
# is closed again.
RESERVED_DESCRIPTORS = 100 + 128
LISTENING_PORTS = 3


class Rights(IntEnum):
    """What a browser origin may do."""

    NONE = 0
    READ = 1
    WRITE = 2


def split_list(text: str) -> frozenset[str]:
    """A comma-separated setting as a set of lower-case items (a trailing `/` on origins dropped)."""
    return frozenset(item.strip().rstrip("/").lower() for item in text.split(",") if item.strip())


def host_name(host: str) -> str:
    """The name part of a `Host` header: no port, no IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_ip(name: str) -> bool:
    """An IP literal: a browser that used one reached exactly the machine it names (no DNS to rebind)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def descriptor_limit() -> int:
    """The soft limit on open files of this process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


@dataclass
class PortBudget:
    """Open sockets on one listening port, at most `limit` (beyond it, new ones are closed at once)."""

    name: str
    limit: int
    open: int = 0
    refused: int = 0
    _warned_at: int = field(default=0, repr=False)

    def admit(self) -> bool:
        """Count a new socket; False (and not counted) if the port is full."""
        if self.open >= self.limit:
            self.refused += 1
            if self.refused >= self._warned_at * 2 or self._warned_at == 0:
                # Log-once-ish: at 1, 2, 4, 8... refusals, so a flood is one line per doubling.
                self._warned_at = self.refused
                log.warning("%s port: %d sockets open, the limit ([Security] MaxConnectionsPerPort); "
                            "refusing new ones (%d so far)", self.name, self.limit, self.refused)
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open = max(0, self.open - 1)


class Gate:
    """The `[Security]` decisions for every port; built once per bus (`bus.gate`)."""

    def __init__(self, config: Config, clock: Clock, ports: Mapping[str, int] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.ports: Mapping[str, int] = ports if ports is not None else {}
        sec = config.security
        self.budgets = {kind: ConnectionLimiter(sec.max_connections_per_ip) for kind in KINDS}
        self.rates: dict[str, RateLimiter] | None = None
        if sec.enable_rate_limiting:
            self.rates = {kind: RateLimiter(sec.rate_limit_per_minute, clock) for kind in KINDS}
        per_port = max(8, (descriptor_limit() - RESERVED_DESCRIPTORS) // LISTENING_PORTS)
        self.port_limit = min(sec.max_connections_per_port, per_port)
        if self.port_limit < sec.max_connections_per_port:
            log.info("[Security] MaxConnectionsPerPort lowered to %d: the open-file limit is %d",
                     self.port_limit, descriptor_limit())
        self.port_budgets: dict[str, PortBudget] = {}
        # Parsed settings, remade when the text they come from changes (see `_parsed`): every request
        # asks, and splitting the same strings each time was a measurable part of a POST's cost.
        self._parsed_key: tuple[object, ...] = ()
        self._write_origins: frozenset[str] = frozenset()
        self._read_origins: frozenset[str] = frozenset()
        self._hosts: frozenset[str] = frozenset()
        self._own_origins: frozenset[str] | None = None
        self._own_ports: list[int] = []
        self._host_verdicts: dict[str, bool] = {}

    # -- settings, read live (tests and /api/configure-like changes see them at once) ---------
    def _parsed(self) -> None:
        sec, http = self.config.security, self.config.http
        key = (sec.allowed_origins, sec.read_only_origins, sec.allowed_hosts, http.bind_address)
        if key == self._parsed_key:
            return
        self._parsed_key = key
        self._write_origins = split_list(sec.allowed_origins)
        self._read_origins = split_list(sec.read_only_origins)
        bind = http.bind_address.strip().lower()
        self._hosts = LOOPBACK_NAMES | split_list(sec.allowed_hosts) | ({bind} if bind else set())
        self._own_origins = None
        self._host_verdicts = {}

    @property
    def token(self) -> str:
        return self.config.security.auth_token

    @property
    def write_origins(self) -> frozenset[str]:
        self._parsed()
        return self._write_origins

    @property
    def read_origins(self) -> frozenset[str]:
        self._parsed()
        return self._read_origins

    @property
    def hosts(self) -> frozenset[str]:
        """Names the `Host` header may carry (IP literals are always fine)."""
        self._parsed()
        return self._hosts

    def port_budget(self, name: str) -> PortBudget:
        """The socket budget of one listening port (made on first use)."""
        budget = self.port_budgets.get(name)
        if budget is None:
            budget = self.port_budgets[name] = PortBudget(name, self.port_limit)
        return budget

    # -- Host ----------------------------------------------------------------------------------
    def check_host(self, host: str | None) -> None:
        """Raise 403 HOST_NOT_ALLOWED unless `Host` names this machine (no header: a program)."""
        if host is None:
            return
        hosts = self.hosts  # (re)parses the settings, and so clears the verdicts when they change
        verdict = self._host_verdicts.get(host)
        if verdict is None:
            name = host_name(host)
            verdict = name in hosts or is_ip(name) or "*" in hosts
            if len(self._host_verdicts) < 256:  # a flood of made-up names is not remembered
                self._host_verdicts[host] = verdict
        if verdict:
            return
        raise ApiError(403, "HOST_NOT_ALLOWED",
                       f"Host {host[:100]!r} does not name this bus; use localhost or 127.0.0.1, or add the "
                       "name to [Security] AllowedHosts", host=host[:100])

    # -- Origin --------------------------------------------------------------------------------
    def own_origins(self) -> frozenset[str]:
        """The bus's own pages: `http://NAME:PORT` of its HTTP and stream ports, for every allowed name.

        The stream port serves no pages, but some WebSocket libraries (websocket-client) send the
        target's own address as Origin.
        """
        ports = [self.ports[kind] for kind in ("http", "websocket") if kind in self.ports]
        hosts = self.hosts
        cached = self._own_origins
        if cached is not None and self._own_ports == ports:
            return cached
        out = set()
        for name in hosts:
            shown = f"[{name}]" if ":" in name else name
            for port in ports:
                out.add(f"http://{shown}:{port}")
                if port == 80:
                    out.add(f"http://{shown}")
        self._own_ports = ports
        self._own_origins = frozenset(out)
        return self._own_origins

    def rights(self, origin: str | None) -> Rights:
        """What a request with this `Origin` may do (None: not a browser, or a same-origin GET)."""
        if origin is None:
            return Rights.WRITE
        wanted = origin.strip().rstrip("/").lower()
        writers = self.write_origins
        if "*" in writers or wanted in writers or wanted in self.own_origins():
            return Rights.WRITE
        readers = self.read_origins
        if "*" in readers or wanted in readers:
            return Rights.READ
        return Rights.NONE

    def check_origin(self, headers: Mapping[str, str], write: bool) -> None:
        """Raise 403 ORIGIN_NOT_ALLOWED if a browser page may not do this (read, or write)."""
        origin = headers.get("Origin")
        if origin is None:
            if write and headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
                # A browser that left Origin out of a write is still a page from elsewhere.
                raise ApiError(403, "ORIGIN_NOT_ALLOWED", "a page on another site may not change this "
                               "bus (Sec-Fetch-Site without Origin)", origin=None)
            return
        rights = self.rights(origin)
        if rights >= (Rights.WRITE if write else Rights.READ):
            return
        shown = (origin or "")[:100]
        if rights == Rights.READ:
            raise ApiError(403, "ORIGIN_NOT_ALLOWED",
                           f"a page from {shown!r} may read the bus but not change it; add the origin to "
                           "[Security] AllowedOrigins to let it write", origin=shown)
        raise ApiError(403, "ORIGIN_NOT_ALLOWED",
                       f"a page from {shown!r} may not use this bus; add the origin to [Security] "
                       "AllowedOrigins (read and write) or ReadOnlyOrigins (read)", origin=shown)

    def cors_origin(self, origin: str | None) -> str | None:
        """The `Access-Control-Allow-Origin` to send, if any."""
        if "*" in self.write_origins:
            return "*"
        if origin is not None and self.rights(origin) > Rights.NONE:
            return origin
        return None

    # -- token ---------------------------------------------------------------------------------
    def check_token(self, headers: Mapping[str, str], query: Mapping[str, str], method: str = "GET",
                    path: str = "") -> None:
        """Raise 401 unless no token is set or the request carries it (header or `?token=`)."""
        if not self.token:
            return
        if method in ("GET", "HEAD") and path.startswith(PUBLIC_PREFIX):
            return
        if method == "GET" and path.startswith(RACE_PREFIX) and path.endswith(RACE_PUSH_SUFFIX):
            return  # a race runner's push socket: its own runner token decides (check_runner_token)
        presented = presented_token(headers, query)
        if presented is None:
            raise ApiError(401, "AUTH_REQUIRED",
                           "this bus needs a token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN",
                           headers=CHALLENGE)
        if not token_matches(self.token, presented):
            raise ApiError(401, "AUTH_FAILED", "the token is not valid", headers=CHALLENGE)

    def token_ok(self, presented: object) -> bool:
        """A token sent in a message or line (constant time; True if no token is set)."""
        return isinstance(presented, str) and token_matches(self.token, presented) if self.token else True

    def check_runner_token(self, runner: str, expected: str | None, presented: str | None) -> None:
        """A race runner publishing as `runner` (`dxbus.race`): 401 unless `presented` is that runner's
        own token. Constant time; unlike the bus token, an empty expected token never lets anyone in."""
        if not expected or presented is None or not token_matches(expected, presented):
            raise ApiError(401, "RUNNER_TOKEN_INVALID",
                           f"no valid token for runner {runner[:60]!r}: send the runner's own token in "
                           "the X-Runner-Token header", headers=CHALLENGE)

    # -- rate and connections --------------------------------------------------------------------
    def check_rate(self, kind: str, ip: str) -> RateDecision | None:
        """Take one request of `kind` from `ip`'s bucket; raise 429 when it is empty."""
        if self.rates is None:
            return None
        decision = self.rates[kind].check(ip)
        if not decision.allowed:
            raise ApiError(429, "RATE_LIMIT_EXCEEDED",
                           f"more than {decision.limit} requests per minute ({kind}); retry in "
                           f"{decision.retry_after} s", headers=decision.headers(),
                           retry_after=decision.retry_after)
        return decision

    def acquire(self, kind: str, ip: str) -> None:
        """Count one open connection of `kind` for `ip` (undo with `release`). Raises 429 when full.

        The closure-free form of `lease`, for the per-request path.
        """
        budget = self.budgets[kind]
        if not budget.acquire(ip):
            raise ApiError(429, "CONNECTION_LIMIT",
                           f"too many open {kind} connections from {ip} ([Security] MaxConnectionsPerIP = "
                           f"{budget.max_per_ip}, counted per kind: http, stream, tcp, ingest)",
                           headers={"Retry-After": "1"}, retry_after=1)

    def release(self, kind: str, ip: str) -> None:
        """Give back what `acquire` counted."""
        self.budgets[kind].release(ip)

    def lease(self, kind: str, ip: str) -> Callable[[], None]:
        """Count one open connection of `kind` for `ip`; returns its release. Raises 429 when full."""
        self.acquire(kind, ip)
        budget = self.budgets[kind]
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                budget.release(ip)

        return release

    # -- whole decisions -----------------------------------------------------------------------
    def admit_stream(self, headers: Mapping[str, str], ip: str) -> tuple[Callable[[], None],
                                                                          RateDecision | None]:
        """A WebSocket handshake (9091 or `/ws`): Host, Origin (read), rate, stream budget.

        The token is the stream's to check: it may also come in a first `auth` message.
        """
        self.check_host(headers.get("Host"))
        self.check_origin(headers, write=False)
        decision = self.check_rate("stream", ip)
        return self.lease("stream", ip), decision

    def status(self) -> dict[str, object]:
        """For `/api/status`: the budgets as they stand."""
        return {
            "max_connections_per_port": self.port_limit,
            "ports": {name: {"open": b.open, "refused": b.refused} for name, b in self.port_budgets.items()},
            "own_origins": sorted(self.own_origins()),
        }
