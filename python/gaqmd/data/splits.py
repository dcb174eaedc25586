"""Reproducible train/validation/test splits of a list of frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def _indices(values, name: str) -> tuple[int, ...]:
    result = tuple(int(v) for v in values)
    if any(v < 0 for v in result):
        raise ValueError(f"Split.{name} holds negative frame indices")
    return result


@dataclass(frozen=True)
class Split:
    """Frame indices of the training, validation and test sets; pairwise disjoint.

    train, val, test: tuples of int frame indices (positions in the frame list).
    ``to_dict`` gives plain lists of ints, safe to store in a checkpoint that is
    loaded with ``torch.load(..., weights_only=True)``.
    """

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        parts = {name: _indices(getattr(self, name), name) for name in ("train", "val", "test")}
        for name, values in parts.items():
            object.__setattr__(self, name, values)
        every = [i for values in parts.values() for i in values]
        if len(set(every)) != len(every):
            raise ValueError("Split: train, val and test must not share or repeat frame indices")

    def to_dict(self) -> dict[str, list[int]]:
        """{"train": [...], "val": [...], "test": [...]} with plain ints."""
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[int]]) -> "Split":
        """Inverse of ``to_dict``; "test" may be absent."""
        missing = {"train", "val"} - set(data)
        if missing:
            raise ValueError(f"Split.from_dict: missing {sorted(missing)}; got {sorted(data)}")
        return cls(train=tuple(data["train"]), val=tuple(data["val"]), test=tuple(data.get("test", ())))

    def subsets(self, items: Sequence[T]) -> tuple[list[T], list[T], list[T]]:
        """(train, val, test) lists of ``items`` picked by this split's indices."""
        top = max(self.train + self.val + self.test, default=-1)
        if top >= len(items):
            raise ValueError(f"Split refers to index {top} but only {len(items)} items were given")
        return ([items[i] for i in self.train], [items[i] for i in self.val], [items[i] for i in self.test])


def random_split(n_frames: int, n_train: int, n_val: int, n_test: Optional[int] = None,
                 seed: int = 0) -> Split:
    """Random disjoint split of frame indices 0..n_frames-1.

    The same (n_frames, seed) always gives the same permutation; the first n_train
    entries are training, the next n_val validation, then n_test test frames
    (n_test None: all remaining frames). Raises ValueError when the counts are
    negative or add up to more than n_frames.
    """
    n_rest = n_frames - n_train - n_val
    if n_test is None:
        n_test = max(n_rest, 0)
    if min(n_frames, n_train, n_val, n_test) < 0:
        raise ValueError(f"random_split: negative count in n_frames={n_frames}, n_train={n_train}, "
                         f"n_val={n_val}, n_test={n_test}")
    if n_train + n_val + n_test > n_frames:
        raise ValueError(f"random_split: n_train + n_val + n_test = {n_train} + {n_val} + {n_test} "
                         f"exceeds the {n_frames} frames available")
    order = np.random.default_rng(seed).permutation(n_frames)
    return Split(
        train=tuple(order[:n_train]),
        val=tuple(order[n_train:n_train + n_val]),
        test=tuple(order[n_train + n_val:n_train + n_val + n_test]),
    )
