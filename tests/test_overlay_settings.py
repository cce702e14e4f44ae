"""Overlay settings, manifests, the registry, static files and the overlay routes (no browser)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest

from dxbus.assemble import RunOptions
from dxbus.overlays.assets import Assets
from dxbus.overlays.hot_reload import OverlayReloader
from dxbus.overlays.registry import ManifestError, Registry, load_manifest
from dxbus.overlays.settings import Setting, SettingError, make_setting, resolve

BUILTINS = {"alerts", "boss", "damage", "deaths", "hp", "room", "stats"}


def test_each_setting_type_parses_and_rejects_with_a_reason() -> None:
    flag = make_setting("show", {"type": "bool", "default": True}, "t")
    assert flag.parse("0") is False and flag.parse(" YES ") is True
    with pytest.raises(ValueError, match="true/false"):
        flag.parse("maybe")
    size = make_setting("size", {"type": "int", "default": 10, "min": 1, "max": 99}, "t")
    assert size.parse("42") == 42
    for bad in ("0", "100", "4.5", "ten", "nan"):
        with pytest.raises(ValueError):
            size.parse(bad)
    scale = make_setting("scale", {"type": "float", "default": 1.0, "min": 0.5, "max": 2}, "t")
    assert scale.parse("1.25") == 1.25
    with pytest.raises(ValueError, match="finite"):
        scale.parse("inf")
    color = make_setting("c", {"type": "color", "default": "#fff"}, "t")
    assert color.default == "#ffffff"
    assert color.parse("F00") == "#ff0000" and color.parse("#11223344") == "#11223344"
    for bad in ("red", "#12345", "javascript:x", "#fff;}body{x"):
        with pytest.raises(ValueError, match="hex color"):
            color.parse(bad)
    theme = make_setting("theme", {"type": "choice", "default": "a", "choices": ["a", "b"]}, "t")
    with pytest.raises(ValueError, match="one of a, b"):
        theme.parse("c")
    label = make_setting("label", {"type": "string", "default": "RIP", "max_length": 5}, "t")
    assert label.parse("<b>") == "<b>"  # kept as text; templates escape it
    with pytest.raises(ValueError, match="longer than 5"):
        label.parse("toolong")


def test_manifest_settings_that_cannot_work_are_refused_by_name() -> None:
    cases = [
        ({"type": "colour", "default": "#fff"}, "type"),
        ({"type": "int"}, "default is required"),
        ({"type": "int", "default": 500, "min": 0, "max": 10}, "default"),
        ({"type": "choice", "default": "x"}, "choices"),
        ({"type": "bool", "default": True, "colour": 1}, "unknown key"),
    ]
    for spec, words in cases:
        with pytest.raises(SettingError, match=words):
            make_setting("knob", spec, "hp.toml: settings")
    with pytest.raises(SettingError, match="must match"):
        make_setting("Bad-Name", {"type": "bool", "default": True}, "x")


def test_resolve_clamps_rounds_or_falls_back_with_reasons() -> None:
    settings = {
        "size": Setting("size", "int", 10, min=1, max=20),
        "on": Setting("on", "bool", True),
    }
    out = resolve(settings, {"size": "99", "on": "0", "zap": "1", "token": "secret"}, "hp")
    assert out.values == {"size": 20, "on": False}
    assert len(out.warnings) == 2
    assert "size='99'" in out.warnings[0] and "above the maximum 20; using 20" in out.warnings[0]
    assert out.notes == {"size": "above the maximum 20; using 20"}
    assert "unknown setting 'zap'" in out.warnings[1]
    assert not any("secret" in w for w in out.warnings)  # the token is never echoed


def test_every_builtin_manifest_loads_with_common_settings() -> None:
    registry = Registry()
    overlays = {o.name: o for o in registry.all()}
    assert set(overlays) >= BUILTINS and not registry.errors  # (other parts add their own too)
    for overlay in overlays.values():
        assert {"theme", "font", "scale", "position", "motion"} <= set(overlay.settings)
        assert 16 <= overlay.width <= 1920 and 16 <= overlay.height <= 1080
    # a manifest may change a common setting's default without restating it
    assert overlays["alerts"].settings["position"].default == "top-center"
    assert overlays["alerts"].settings["position"].choices == overlays["hp"].settings["position"].choices


def test_broken_manifests_are_reported_with_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "a.html.j2").write_text("x")
    for text, words in [("width = 5", "width = 5"), ("[settings.x]\ntype = 'int'", "default is required"),
                        ("colour = 1", "unknown key"), ("width = ", "not valid TOML")]:
        (tmp_path / "a.toml").write_text(text)
        with pytest.raises(ManifestError, match=words) as err:
            load_manifest("a", tmp_path / "a.html.j2", tmp_path / "a.toml", builtin=False)
        assert "a.toml" in str(err.value)


def test_user_folder_replaces_builtins_and_picks_up_new_files(tmp_path: Path) -> None:
    (tmp_path / "hp.html.j2").write_text("mine")
    (tmp_path / "_partial.html.j2").write_text("not an overlay")
    registry = Registry(tmp_path)
    hp = registry.get("hp")
    assert hp is not None and not hp.builtin and hp.path == tmp_path / "hp.html.j2"
    assert registry.get("_partial") is None
    assert registry.get("damage") is not None and registry.get("damage").builtin  # type: ignore[union-attr]
    (tmp_path / "extra.html.j2").write_text("new")
    (tmp_path / "extra.toml").write_text('title = "Extra"\nwidth = 300\nheight = 100\n')
    extra = registry.get("extra")
    assert extra is not None and extra.title == "Extra" and extra.width == 300


def test_assets_never_leave_their_folders(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "img").mkdir(parents=True)
    (static / "img" / "a.png").write_bytes(b"png")
    (static / ".secret.css").write_text("x")
    (tmp_path / "outside.css").write_text("x")
    os.symlink(tmp_path / "outside.css", static / "link.css")
    assets = Assets(static)
    assert assets.find("img/a.png") == (static / "img" / "a.png").resolve()
    assert assets.find("bus.js") is not None  # built-in, behind the user's folder
    for bad in ("../outside.css", "img/../../outside.css", "/etc/passwd", ".secret.css", "link.css",
                "__init__.py", "img\\..\\..\\outside.css", "", "img/a.png\x00.css"):
        assert assets.find(bad) is None, bad


@pytest.fixture
async def overlay_bus(bus_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    user = tmp_path / "user"
    (user / "static").mkdir(parents=True)
    (user / "static" / "mine.css").write_text("p{}")
    return await bus_factory(options=RunOptions(overlays_dir=user),
                             overrides={"Security": {"AuthToken": "s3cret"}})


async def raw_get(bus, path: str) -> int:  # type: ignore[no-untyped-def]
    """Status of a GET sent byte for byte (no client-side path normalization)."""
    host, port = bus.url("http").removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer s3cret\r\n"
                 "Connection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_static_route_refuses_traversal(overlay_bus) -> None:  # type: ignore[no-untyped-def]
    for path in ("/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml", "/static/..%2fpyproject.toml",
                 "/static/themes/../../server/app.py", "/static/__init__.py", "/static/%2Fetc%2Fpasswd"):
        assert await raw_get(overlay_bus, path) in (403, 404), path
    assert await raw_get(overlay_bus, "/static/bus.js") == 200
    assert await raw_get(overlay_bus, "/static/mine.css") == 200


async def test_pages_carry_the_token_to_assets_and_the_socket(overlay_bus) -> None:  # type: ignore[no-untyped-def]
    base = overlay_bus.url("http")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/overlays/hp") as r:
            assert r.status == 401
        async with http.get(f"{base}/overlays/hp?token=s3cret&scale=3&mask_color=%23ABC") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/html")
            html = await r.text()
        assert "/static/bus.js?v=" in html and "token=s3cret" in html
        assert "--dx-scale: 3.0;" in html and "--hp-full: #aabbcc;" in html
        async with http.get(f"{base}/static/bus.js?token=s3cret") as r:
            assert r.status == 200 and "javascript" in r.headers["Content-Type"]
            assert r.headers["Cache-Control"] == "no-cache"
        # assets hold no game data, and a stylesheet's fonts could never carry the token
        async with http.get(f"{base}/static/overlay.css") as r:
            assert r.status == 200
        async with http.get(f"{base}/api/state") as r:
            assert r.status == 401
        async with http.get(f"{base}/api/overlays?token=s3cret") as r:
            catalog = await r.json()
        assert {o["name"] for o in catalog["overlays"]} >= BUILTINS
        preview = overlay_bus.hub.subscribe(include_test=True)
        async with http.post(f"{base}/api/overlays/alerts/test?token=s3cret") as r:
            assert (await r.json())["published"] == 1
        [shown] = preview.get_nowait()  # a test event: previews get it, the history does not
        assert shown.data["message"].startswith("Test alert") and shown.is_test
        assert overlay_bus.hub.latest("alert") is None
        async with http.get(f"{base}/overlays/nope?token=s3cret") as r:
            assert r.status == 404


async def test_bad_values_render_the_default_into_the_page(bus) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        url = f"{bus.url('http')}/overlays/hp?mask_color=red;}}body{{display:none&scale=-1&theme=../../x"
        async with http.get(url) as r:
            html = await r.text()
    head, config = html.split('<script id="dx-config"')
    assert "display:none" not in head and "--hp-full: #f5f1e8;" in head and "--dx-scale: 0.25;" in head
    assert "themes/silk.css" in head and "../../x" not in head
    # the server-side warnings travel in the page config, JSON-escaped (no markup can break out)
    assert "mask_color" in config and "<" not in config.split("</script>")[0][1:]


async def test_reloader_publishes_relative_paths(bus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "watched"
    folder.mkdir()
    reloader = OverlayReloader(bus, [folder, folder / "static"])
    assert reloader.folders == [folder.resolve()]
    reloader.publish([str(folder.resolve() / "static" / "x.css")])
    event = bus.hub.latest("overlay_reload")
    assert event is not None and event.data == {"path": "static/x.css", "paths": ["static/x.css"]}
    # the bus's own watcher follows the built-in templates and assets (and a user folder, if any)
    service = next(s for s in bus.services if s.name == "overlay-reload")
    builtin = Path(__file__).resolve().parent.parent
    assert {builtin / "overlays", builtin / "static"} <= set(service.folders)
    status = bus.status_providers["overlays"]()
    assert status["hot_reload"] is True and set(status["overlays"]) >= BUILTINS


async def test_a_user_theme_is_offered_and_served(bus_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "pack"
    (user / "static" / "themes").mkdir(parents=True)
    (user / "static" / "themes" / "neon.css").write_text(":root { --dx-panel: #0ff3; }")
    (user / "mine.html.j2").write_text('{% extends "_base.html.j2" %}{% block body %}x{% endblock %}')
    (user / "mine.toml").write_text('[settings.theme]\nchoices = ["silk", "neon"]\n')
    bus = await bus_factory(options=RunOptions(overlays_dir=user))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bus.url('http')}/overlays/mine?theme=neon") as r:
            html = await r.text()
        href = html.split('href="')[3].split('"')[0]  # icon, overlay.css, then the theme
        assert href.startswith("/static/themes/neon.css?v=") and not href.endswith("v=0")
        async with http.get(bus.url("http") + href) as r:
            assert r.status == 200 and "--dx-panel" in await r.text()
