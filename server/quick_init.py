"""A faster `__init__` for frozen slots dataclasses made at event rates (`Event`, `Draft`, the facts).

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__`, about 0.2 us a
field; every accepted event makes a Draft, an Event and often a fact or two, each of five to eleven
fields, so that was the largest single cost of deriving a combat hit. `quick_init` replaces the
generated `__init__` with one of the same signature (same parameters, order, defaults, keyword-only
fields) that calls each slot's own setter. The objects are the same and stay frozen: assigning a field
afterwards still raises `FrozenInstanceError`.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen slots dataclass `cls` an `__init__` that writes its slots directly."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # checked: a dataclass or TypeError
    env: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for i, fld in enumerate(fields):
        if fld.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{fld.name}: quick_init takes plain defaults only")
        env[f"_set{i}"] = _slot(cls, fld.name).__set__
        param = fld.name
        if fld.default is not dataclasses.MISSING:
            env[f"_default{i}"] = fld.default
            param += f"=_default{i}"
        (keyword if fld.kw_only else positional).append(param)
        body.append(f"    _set{i}(self, {fld.name})")
    params = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    exec(f"def __init__({params}):\n" + "\n".join(body or ["    pass"]), env)  # only field names in it
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]  # the same signature as the one replaced
    return cls


def _slot(cls: type, name: str) -> types.MemberDescriptorType:
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if isinstance(slot, types.MemberDescriptorType):
            return slot
    raise TypeError(f"{cls.__name__}.{name} is not a slot: quick_init needs slots=True")
