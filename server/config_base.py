"""The base types every config section uses: `Section`, `Port`, `ConfigError`.

A leaf module (it imports nothing of ours): `dxbus.config` assembles the whole file from the feature
sections, and the features subclass `Section` from here, so neither has to be imported first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

# 0 asks the OS for a free port (tests); the bound port is reported in `Bus.ports`.
Port = Annotated[int, Field(ge=0, le=65535)]


class Section(BaseModel):
    """A config section: PascalCase keys in the file, unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_pascal, populate_by_name=True, extra="forbid", validate_assignment=True
    )


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean Port?)` for the nearest known name (case-insensitive), else ``."""
    known = {choice.casefold(): choice for choice in choices}
    near = difflib.get_close_matches(word.casefold(), list(known), n=1, cutoff=0.6)
    return f" (did you mean {known[near[0]]}?)" if near else ""
