"""Settings are resolved once, on the server; every error an overlay URL answers is a page OBS can show."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import aiohttp
import pytest

from dxbus.assemble import RunOptions
from dxbus.overlays.registry import Registry
from dxbus.overlays.settings import canonical_query, make_setting, resolve


def test_numbers_are_clamped_rounded_or_defaulted_with_a_reason() -> None:
    size = make_setting("mask_size", {"type": "int", "default": 44, "min": 12, "max": 160}, "t")
    cases = {
        "500": (160, "above the maximum 160"), "-3": (12, "below the minimum 12"),
        "60.5": (61, "whole numbers only"), "60.4": (60, "whole numbers only"), "1e2": (100, ""),
        "2_0": (44, "not a number"), "0x20": (44, "not a number"), "abc": (44, "not a number"),
        "": (44, "empty"), " 72 ": (72, ""), "1e999": (44, "too large"),
    }
    for raw, (value, reason) in cases.items():
        got, why = size.coerce(raw)
        assert got == value and type(got) is int and why.startswith(reason), (raw, got, why)
        if reason:
            assert why.endswith(f"using {value}") or why.endswith(f"using the default {value}"), why
    spec = {"type": "float", "default": 1.0, "min": 0.25, "max": 4.0, "step": 0.05}
    scale = make_setting("scale", spec, "t")
    assert scale.coerce("1.237") == (1.25, "steps of 0.05; using 1.25")
    assert scale.coerce("1,5") == (1.5, "")  # a decimal comma is a point
    assert scale.coerce("0.26") == (0.25, "steps of 0.05; using 0.25")
    assert scale.coerce("nan")[0] == 1.0 and scale.coerce("inf")[0] == 1.0
    label = make_setting("label", {"type": "string", "default": "RIP", "max_length": 5}, "t")
    assert label.coerce("toolong") == ("toolo", "cut to 5 characters")
    color = make_setting("c", {"type": "color", "default": "#fff"}, "t")
    assert color.coerce("nope") == ("#ffffff", "expected a hex color like #ff4040 or ff404080; "
                                               "using the default #ffffff")


def test_the_canonical_query_reopens_the_same_values() -> None:
    hp = Registry().get("hp")
    assert hp is not None
    out = resolve(hp.settings, {"mask_size": "500", "scale": "1.237", "show_numbers": "yes",
                                "mask_color": "F00", "theme": "neon"}, "hp")
    query = canonical_query(hp.settings, out.values)
    assert query == {"scale": "1.25", "mask_color": "#ff0000", "mask_size": "160", "show_numbers": "1"}
    again = resolve(hp.settings, query, "hp")
    assert again.values == out.values and not again.notes and not again.warnings
    assert set(out.notes) == {"mask_size", "scale", "theme"}


async def test_the_page_uses_what_the_server_resolved(bus) -> None:  # type: ignore[no-untyped-def]
    """`mask_size=2_0` used to be 20 px in the CSS and 44 in the script: now one value, in both."""
    url = f"{bus.url('http')}/overlays/hp?mask_size=2_0&scale=9"
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        html = await r.text()
    assert "--hp-size: 44px;" in html and "--dx-scale: 4.0;" in html
    config = html.split('<script id="dx-config" type="application/json">')[1].split("</script>")[0]
    page = json.loads(config)
    assert page["values"]["mask_size"] == 44 and page["values"]["scale"] == 4.0
    assert page["notes"]["mask_size"].startswith("not a number")
    assert page["notes"]["scale"] == "above the maximum 4; using 4"


async def test_resolve_endpoint_answers_values_reasons_and_query(bus) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bus.url('http')}/api/overlays/HP/resolve?mask_size=60.5&show_silk=0") as r:
            assert r.status == 200
            body = await r.json()
        assert body["values"]["mask_size"] == 61
        assert body["notes"] == {"mask_size": "whole numbers only; using 61"}
        assert body["query"] == "mask_size=61&show_silk=0"
        async with http.get(f"{bus.url('http')}/api/overlays/nope/resolve") as r:
            assert r.status == 404 and r.content_type == "application/json"  # an API: JSON errors


def _is_stream_page(html: str) -> None:
    assert html.startswith("<!doctype html>") and "background:transparent" in html
    assert "font:600 28px" in html and "text-shadow" in html  # large, outlined: reads over any scene
    assert '"error"' not in html  # not JSON


async def test_overlay_urls_forgive_case_and_a_trailing_slash(bus) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        for path in ("/overlays/HP/", "/overlays/hp/", "/overlays/Hp?scale=2", "/overlays/DEATHS"):
            async with http.get(bus.url("http") + path) as r:
                assert r.status == 200 and r.content_type == "text/html", path
                html = await r.text()
                assert 'data-overlay="' in html and "dx-config" in html, path


async def test_every_overlay_url_error_is_an_html_page_logged_with_its_url(
        bus_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "mine"
    user.mkdir()
    (user / "broken.html.j2").write_text('{% extends "_base.html.j2" %}\n{% block body %}\n'
                                         '<p>{{ s.no_such_setting }}</p>\n{% endblock %}\n')
    (user / "syntax.html.j2").write_text('{% extends "_base.html.j2" %}\n{% block body %}\n{% if %}\n')
    (user / "bad.html.j2").write_text("x")
    (user / "bad.toml").write_text("width = 'wide'\n")
    bus = await bus_factory(options=RunOptions(overlays_dir=user),
                            overrides={"Security": {"AuthToken": "s3cret"}})
    base = bus.url("http")
    caplog.set_level(logging.WARNING, logger="dxbus.overlays")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/overlays/hpp?token=s3cret&scale=2") as r:
            assert r.status == 404 and r.content_type == "text/html"
            html = await r.text()
        _is_stream_page(html)
        assert "No such overlay" in html and "did you mean /overlays/hp ?" in html
        assert "/overlays/hpp?token=***&scale=2 answered 404" in caplog.text  # the source's URL, token masked
        async with http.get(f"{base}/overlays/hp") as r:  # no token: the gate's 401, as a page
            assert r.status == 401 and r.content_type == "text/html"
            html = await r.text()
        _is_stream_page(html)
        assert "Token needed" in html and "copy the URL again" in html
        async with http.get(f"{base}/overlays/hp/extra/part?token=s3cret") as r:  # the router's 404
            assert r.status == 404 and r.content_type == "text/html"
        async with http.get(f"{base}/overlays/broken?token=s3cret") as r:
            assert r.status == 500 and r.content_type == "text/html"
            html = await r.text()
        _is_stream_page(html)
        assert "template error" in html and "no_such_setting" in html
        assert f"{user / 'broken.html.j2'}, line 3" in html and "{{ s.no_such_setting }}" in html
        async with http.get(f"{base}/overlays/syntax?token=s3cret") as r:
            assert r.status == 500
            html = await r.text()
        assert f"{user / 'syntax.html.j2'}, line 3" in html
        async with http.get(f"{base}/overlays/bad?token=s3cret") as r:
            assert r.status == 500
            html = await r.text()
        _is_stream_page(html)
        assert "bad.toml" in html and "width" in html
        async with http.get(f"{base}/api/state?token=wrong") as r:  # APIs keep their JSON errors
            assert r.status in (401, 403) and r.content_type == "application/json"
    assert "broken.html.j2, line 3" in caplog.text and "/overlays/broken?token=***" in caplog.text
