"""Shared helper for the frozen dataclass configs: build one from a plain mapping (YAML, a file)."""

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

Config = TypeVar("Config")


def _number_types(annotation) -> tuple[type, ...]:
    """(float,) or (int,) when the annotation is that type, optionally | None; else ()."""
    members = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or typing.get_origin(
        annotation) is typing.Union else (annotation,)
    return tuple(t for t in members if t in (float, int))


def _coerced(name: str, value: Any, annotation, what: str) -> Any:
    """A number given as text (YAML reads 3e-5 as a string) or an int where a float is due, as that number."""
    numbers = _number_types(annotation)
    if not numbers or value is None or isinstance(value, bool):
        return value
    target = float if float in numbers else int
    if isinstance(value, target) or (target is float and isinstance(value, int)):
        return target(value)
    if target is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return target(value)
        except ValueError:
            pass
    raise ValueError(f"{what} {name!r} must be {'a number' if target is float else 'an integer'}, got {value!r}")


def config_from_mapping(cls: type[Config], values: Mapping[str, Any], what: str) -> Config:
    """cls(**values), refusing keys cls does not have with a message that lists the known ones, and
    reading numbers given as text (e.g. YAML's 3e-5) for number fields."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {sorted(known)}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _coerced(name, value, hints[name], what) for name, value in values.items()})
