"""`dxbus doctor`: checks the OBS side of the overlays through obs-websocket, and fixes what it can.

It lists the browser sources whose URL points at this bus's overlays and the text sources reading
the bus's text files, then checks each browser source against what the bus knows:
- the port and token in its URL are this bus's (an old port or token shows nothing, or an error page);
- its width and height hold the overlay's largest content at its settings (`overlays/sizing.py`);
- "Control audio via OBS" (`reroute_audio`) is on for an overlay that plays sound;
- "Shutdown source when not visible" (`shutdown`) is off for an overlay that keeps state in the page.
Text sources must read a file the bus writes. A finding may carry a fix (new input settings, then a
refresh of the source, `PressInputPropertiesButton refreshnocache`); `apply` performs those.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dxbus.overlays.registry import Registry
from dxbus.overlays.settings import resolve
from dxbus.overlays.sizing import recommended_size

BROWSER_KINDS = ("browser_source",)
TEXT_KINDS = ("text_ft2_source_v2", "text_ft2_source", "text_gdiplus_v2", "text_gdiplus")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
# Overlays whose page holds state a reload loses (in-page clocks, the alert queue, floating numbers).
STATEFUL = frozenset({"alerts", "boss", "damage", "practice", "room", "splits", "stats"})

Send = Callable[[str, dict[str, Any] | None], dict[str, Any]]  # obsws-python ReqClient.send(raw=True)


@dataclass
class Finding:
    """One problem with one OBS source, and the settings that would fix it (empty: no automatic fix)."""

    source: str
    problem: str
    fix: dict[str, Any] = field(default_factory=dict)
    fixed: bool = False

    def to_json(self) -> dict[str, Any]:
        """For `dxbus doctor --json` and the dashboard."""
        return {"source": self.source, "problem": self.problem, "fix": self.fix, "fixed": self.fixed}


@dataclass
class Source:
    """An OBS input that points at this bus."""

    name: str
    kind: str
    settings: dict[str, Any]
    overlay: str = ""
    scenes: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What the doctor saw and found."""

    sources: list[Source] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON."""
        return {"sources": [{"name": s.name, "kind": s.kind, "overlay": s.overlay, "scenes": s.scenes,
                             "url": s.settings.get("url", ""), "file": _text_file(s.settings)}
                            for s in self.sources],
                "findings": [f.to_json() for f in self.findings]}


@dataclass
class BusFacts:
    """What the doctor compares OBS against: this bus's port, token and text-file folder."""

    http_port: int
    token: str = ""
    text_dir: Path | None = None
    registry: Registry = field(default_factory=Registry)


def _text_file(settings: dict[str, Any]) -> str:
    return str(settings.get("text_file") or settings.get("file") or "")


def _overlay_of(url: str) -> tuple[str, dict[str, str], str, int | None] | None:
    """(overlay name, query, host, port) of a URL that names an overlay page, else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    segments = [p for p in parts.path.split("/") if p]
    if parts.scheme not in ("http", "https") or len(segments) != 2 or segments[0].lower() != "overlays":
        return None
    return segments[1].lower(), dict(parse_qsl(parts.query)), (parts.hostname or ""), port


def check_browser(source: Source, bus: BusFacts) -> list[Finding]:
    """The findings for one browser source that points at an overlay."""
    url = str(source.settings.get("url", ""))
    found = _overlay_of(url)
    if found is None:
        return []
    name, query, _host, port = found
    out: list[Finding] = []
    if port != bus.http_port:
        fixed_url = url.replace(f":{port}/", f":{bus.http_port}/", 1) if port else url
        out.append(Finding(source.name, f"its URL uses port {port}; the bus listens on {bus.http_port}",
                           {"url": fixed_url} if port else {}))
    if bus.token and not hmac.compare_digest(query.get("token", ""), bus.token):
        out.append(Finding(source.name, "its URL has an old or no token: copy the URL again from the "
                           "gallery (/overlays)"))
    overlay = bus.registry.get(name)
    if overlay is None:
        out.append(Finding(source.name, f"its URL names no overlay ({name!r})"))
        return out
    values = resolve(overlay.settings, query, name).values
    size = recommended_size(name, values, (overlay.width, overlay.height), overlay.builtin)
    width, height = int(source.settings.get("width", 800)), int(source.settings.get("height", 600))
    if width < size.width or height < size.height:
        needed = {"width": size.width, "height": size.height}
        out.append(Finding(source.name, f"{width}x{height} cuts content: {name} needs {size.width}x"
                           f"{size.height} (fits {size.basis})", needed))
    plays_sound = name == "alerts" and bool(values.get("sound", False))
    if plays_sound and not source.settings.get("reroute_audio", False):
        out.append(Finding(source.name, "plays sound but \"Control audio via OBS\" is off: the sound goes "
                           "to the desktop, not the stream", {"reroute_audio": True}))
    if name in STATEFUL and source.settings.get("shutdown", False):
        out.append(Finding(source.name, "\"Shutdown source when not visible\" is on: each scene change "
                           "reloads the page and loses what it shows", {"shutdown": False}))
    return out


def check_text(source: Source, bus: BusFacts) -> list[Finding]:
    """A text source reading one of our files must read one the bus writes."""
    path = _text_file(source.settings)
    # FreeType 2 (Linux, macOS) says `from_file`, GDI+ (Windows) `read_from_file`.
    reads_file = source.settings.get("from_file") or source.settings.get("read_from_file")
    if not path or bus.text_dir is None or not reads_file:
        return []
    if not Path(path).exists():
        return [Finding(source.name, f"reads {path}, which the bus does not write (see {bus.text_dir})")]
    return []


def _is_ours_text(settings: dict[str, Any], bus: BusFacts) -> bool:
    path = _text_file(settings)
    if not path or bus.text_dir is None:
        return False
    try:
        return Path(path).resolve().is_relative_to(bus.text_dir.resolve())
    except OSError:
        return False


def examine(send: Send, bus: BusFacts) -> Report:
    """Ask OBS for its inputs and scenes (GetInputList, GetInputSettings, GetSceneList,
    GetSceneItemList) and check every source that points at this bus."""
    report = Report()
    inputs = send("GetInputList", None).get("inputs", [])
    scenes = [s["sceneName"] for s in send("GetSceneList", None).get("scenes", [])]
    where: dict[str, list[str]] = {}
    for scene in scenes:
        for item in send("GetSceneItemList", {"sceneName": scene}).get("sceneItems", []):
            where.setdefault(str(item.get("sourceName")), []).append(scene)
    for entry in inputs:
        kind = str(entry.get("unversionedInputKind") or entry.get("inputKind") or "")
        full_kind = str(entry.get("inputKind") or kind)
        if full_kind not in BROWSER_KINDS + TEXT_KINDS and kind not in BROWSER_KINDS + TEXT_KINDS:
            continue
        name = str(entry["inputName"])
        settings = dict(send("GetInputSettings", {"inputName": name}).get("inputSettings", {}))
        source = Source(name, full_kind, settings, scenes=sorted(where.get(name, [])))
        if full_kind in BROWSER_KINDS:
            found = _overlay_of(str(settings.get("url", "")))
            if found is None or found[2] not in LOCAL_HOSTS:
                continue
            source.overlay = found[0]
            report.sources.append(source)
            report.findings += check_browser(source, bus)
        elif _is_ours_text(settings, bus):
            report.sources.append(source)
            report.findings += check_text(source, bus)
    return report


def apply(send: Send, report: Report, only: Iterable[str] | None = None) -> int:
    """Apply the fixes (SetInputSettings, then refresh the browser source); returns how many."""
    wanted = set(only) if only is not None else None
    by_source: dict[str, dict[str, Any]] = {}
    for finding in report.findings:
        if finding.fix and (wanted is None or finding.source in wanted):
            by_source.setdefault(finding.source, {}).update(finding.fix)
    for source, settings in by_source.items():
        send("SetInputSettings", {"inputName": source, "inputSettings": settings, "overlay": True})
        send("PressInputPropertiesButton", {"inputName": source, "propertyName": "refreshnocache"})
        for finding in report.findings:
            if finding.source == source and finding.fix:
                finding.fixed = True
    return sum(1 for f in report.findings if f.fixed)


def format_report(report: Report) -> str:
    """The report as text for the terminal."""
    lines = [f"{len(report.sources)} OBS source(s) point at this bus:"]
    for s in report.sources:
        target = s.settings.get("url") or _text_file(s.settings)
        lines.append(f"  {s.name} ({s.kind}) in {', '.join(s.scenes) or 'no scene'}: {target}")
    if not report.findings:
        lines.append("No problems found.")
    for f in report.findings:
        state = "fixed" if f.fixed else ("fixable: dxbus doctor --fix" if f.fix else "fix by hand")
        lines.append(f"- {f.source}: {f.problem} [{state}]")
    return "\n".join(lines)


def connect(host: str, port: int, password: str, timeout: float = 5.0) -> tuple[Send, Callable[[], None]]:
    """An obsws-python client: (send(requestType, data) -> responseData, close)."""
    import obsws_python as obsws

    client = obsws.ReqClient(host=host, port=port, password=password, timeout=timeout)

    def send(request: str, data: dict[str, Any] | None) -> dict[str, Any]:
        answer = client.send(request, data, raw=True)
        return dict(answer or {})

    return send, client.disconnect


def add_doctor_command(commands: Any, add_common: Callable[[Any], None]) -> None:
    """Register `dxbus doctor [--fix] [--json]` (server/cli.py calls this)."""
    doctor = commands.add_parser(
        "doctor", help="check the OBS sources that show this bus's overlays (and fix them with --fix)",
        description="Through obs-websocket ([OBS] Host, Port, Password): list the browser sources "
        "pointing at this bus's overlays and the text sources reading its text files; check the "
        "port and token in their URLs, their size against the overlay's recommended size, "
        "\"Control audio via OBS\" for overlays with sound and \"Shutdown source when not visible\" "
        "for overlays that keep state. --fix applies the fixes it offers and refreshes the sources.")
    add_common(doctor)
    doctor.add_argument("--fix", action="store_true", help="apply the fixes (set the size, refresh)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")


class ObsUnreachable(Exception):
    """obs-websocket did not answer (or refused the password); the message says where and what to do."""


def facts_for(config: Any, base: Path, http_port: int | None = None) -> BusFacts:
    """What the doctor checks OBS against, from the bus's configuration (and its bound port)."""
    text_dir = Path(config.text_files.directory).expanduser()
    return BusFacts(http_port=http_port or int(config.http.port), token=str(config.security.auth_token),
                    text_dir=text_dir if text_dir.is_absolute() else base / text_dir)


def check(config: Any, facts: BusFacts, fix: bool = False, only: Iterable[str] | None = None) -> Report:
    """Connect to OBS ([OBS] Host, Port, Password), examine, apply the fixes when asked (blocking)."""
    from obsws_python.error import OBSSDKError

    section = config.obs
    try:
        send, close = connect(section.host, section.port, section.password, section.request_timeout_seconds)
    except (OSError, OBSSDKError, TimeoutError) as exc:
        raise ObsUnreachable(f"cannot reach OBS at {section.host}:{section.port} ([OBS] Host/Port/Password; "
                             f"obs-websocket on in Tools > WebSocket Server Settings): {exc}") from exc
    try:
        report = examine(send, facts)
        if fix:
            apply(send, report, only)
        return report
    finally:
        close()


def run_doctor(config: Any, fix: bool = False, as_json: bool = False, base_dir: Path | None = None) -> int:
    """`dxbus doctor`: 0 when nothing is left to fix, 1 when findings remain, 2 when OBS is unreachable."""
    import json
    import sys

    try:
        report = check(config, facts_for(config, base_dir or Path.cwd()), fix)
    except ObsUnreachable as exc:
        print(f"dxbus doctor: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2) if as_json else format_report(report))
    return 1 if any(not f.fixed for f in report.findings) else 0
