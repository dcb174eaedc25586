"""Shared helper for the frozen dataclass configs: build one from a plain mapping (YAML, a file)."""

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

Config = TypeVar("Config")


def config_from_mapping(cls: type[Config], values: Mapping[str, Any], what: str) -> Config:
    """cls(**values), refusing keys cls does not have with a message that lists the known ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {sorted(known)}")
    return cls(**values)
