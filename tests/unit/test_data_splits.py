"""random_split reproducibility and disjointness; Split serialisation."""

import pytest
import torch

from gaqmd.data import Split, random_split


def test_same_seed_same_split_and_parts_disjoint():
    split = random_split(100, 60, 20, seed=3)
    assert split == random_split(100, 60, 20, seed=3)
    assert split != random_split(100, 60, 20, seed=4)
    assert (len(split.train), len(split.val), len(split.test)) == (60, 20, 20)
    assert sorted(split.train + split.val + split.test) == list(range(100))
    assert split.train != tuple(range(60))  # shuffled


def test_fixed_test_size_leaves_frames_out():
    split = random_split(50, 10, 5, n_test=7, seed=0)
    every = split.train + split.val + split.test
    assert len(every) == len(set(every)) == 22 and max(every) < 50


@pytest.mark.parametrize("counts", [(90, 20, None), (50, 30, 30), (10, -1, None)])
def test_impossible_counts_raise(counts):
    with pytest.raises(ValueError, match="random_split"):
        random_split(100, *counts)


def test_dict_round_trip_survives_weights_only_checkpoint(tmp_path):
    split = random_split(30, 10, 10, seed=1)
    torch.save({"split": split.to_dict()}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert Split.from_dict(loaded["split"]) == split
    assert all(type(i) is int for i in loaded["split"]["train"])


def test_overlapping_split_rejected_and_subsets():
    with pytest.raises(ValueError, match="must not share"):
        Split(train=(0, 1), val=(1, 2))
    train, val, test = Split(train=(2, 0), val=(1,)).subsets(["a", "b", "c"])
    assert (train, val, test) == (["c", "a"], ["b"], [])
