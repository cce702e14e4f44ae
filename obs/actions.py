"""OBS actions beyond switching scenes: show/hide a source, set a text source, refresh browser sources.

`actions_for` turns a fired rule into action records (pure); `run` performs one against an obsws-python
`ReqClient` and must only be called on the OBS worker thread (the client is not thread-safe).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from .scene_rules import Fired

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Requester(Protocol):
    """What `run` needs: obsws-python's `ReqClient.send` with `raw=True`."""

    def send(self, param: str, data: dict[str, Any] | None = None, raw: bool = False) -> Any: ...


@dataclass(frozen=True)
class SetScene:
    """Make a scene live: the program, or the preview in studio mode."""

    scene: str
    preview: bool = False

    def describe(self) -> str:
        return f"switch {'preview' if self.preview else 'program'} to {self.scene!r}"


@dataclass(frozen=True)
class SetItemEnabled:
    """Show or hide a source in a scene."""

    scene: str
    source: str
    enabled: bool

    def describe(self) -> str:
        return f"{'show' if self.enabled else 'hide'} {self.source!r} in {self.scene!r}"


@dataclass(frozen=True)
class SetText:
    """Set a text source's text (OBS text sources keep it in the `text` setting on every platform)."""

    source: str
    text: str

    def describe(self) -> str:
        return f"set text of {self.source!r} to {self.text!r}"


@dataclass(frozen=True)
class RefreshBrowserSources:
    """Reload every browser source whose URL contains `url_contains` (our overlays)."""

    url_contains: str

    def describe(self) -> str:
        return f"refresh browser sources showing {self.url_contains!r}"


Action = SetScene | SetItemEnabled | SetText | RefreshBrowserSources


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` fields from `values`; unknown names stay as written so typos are visible."""
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def actions_for(fired: Fired, live_scene: str | None) -> list[Action]:
    """The actions a fired rule asks for, in the order Show, Hide, SetText."""
    spec = fired.rule.spec
    item_scene = spec.item_scene or spec.scene or live_scene or ""
    values = dict(fired.values, scene=live_scene or "")
    out: list[Action] = [SetItemEnabled(item_scene, s, True) for s in spec.show]
    out += [SetItemEnabled(item_scene, s, False) for s in spec.hide]
    out += [SetText(source, render(t, values)) for source, t in spec.set_text.items()]
    return out


def run(client: Requester, action: Action) -> str:
    """Perform `action` (worker thread only); returns a short description of what was done."""
    if isinstance(action, SetScene):
        request = "SetCurrentPreviewScene" if action.preview else "SetCurrentProgramScene"
        client.send(request, {"sceneName": action.scene}, raw=True)
        return action.describe()
    if isinstance(action, SetItemEnabled):
        if not action.scene:
            raise ValueError(f"no scene to find {action.source!r} in (set ItemScene on the rule)")
        found = client.send("GetSceneItemId", {"sceneName": action.scene, "sourceName": action.source},
                            raw=True)
        client.send("SetSceneItemEnabled", {"sceneName": action.scene, "sceneItemId": found["sceneItemId"],
                                            "sceneItemEnabled": action.enabled}, raw=True)
        return action.describe()
    if isinstance(action, SetText):
        client.send("SetInputSettings", {"inputName": action.source, "inputSettings": {"text": action.text},
                                         "overlay": True}, raw=True)
        return action.describe()
    refreshed = []
    listing = client.send("GetInputList", {"inputKind": "browser_source"}, raw=True) or {}
    for item in listing.get("inputs", []):
        name = item.get("inputName")
        settings = client.send("GetInputSettings", {"inputName": name}, raw=True) or {}
        url = str(settings.get("inputSettings", {}).get("url", ""))
        if action.url_contains in url:
            client.send("PressInputPropertiesButton", {"inputName": name, "propertyName": "refreshnocache"},
                        raw=True)
            refreshed.append(name)
    return f"refreshed {len(refreshed)} browser source(s) showing {action.url_contains!r}: {refreshed}"
