"""Error bars of correlated Monte Carlo series by blocking (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461, 1989).

Averaging neighbouring pairs of a series leaves its mean unchanged and, once blocks are longer than
the correlation time, makes them independent; the naive standard error of the blocked series then
stops growing. `blocked_error` halves the series until that plateau (or uses a fixed block size).
"""

import math
from itertools import pairwise

import numpy as np


def blocking_levels(samples, min_blocks: int = 32) -> list[tuple[int, float, float]]:
    """(block size, standard error of the mean, its own uncertainty) for block sizes 1, 2, 4, ...
    while at least `min_blocks` blocks remain. A trailing odd sample is dropped at each halving."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    levels, size = [], 1
    while len(x) >= max(min_blocks, 2):
        error = math.sqrt(x.var(ddof=1) / len(x))
        levels.append((size, error, error / math.sqrt(2.0 * (len(x) - 1))))
        x = 0.5 * (x[: len(x) // 2 * 2 : 2] + x[1 : len(x) // 2 * 2 : 2])
        size *= 2
    return levels


def blocked_error(samples, block_size: int | None = None, min_blocks: int = 32) -> tuple[float, float]:
    """(mean, standard error of the mean) of a correlated series (T,).

    With block_size, the series is cut into T // block_size consecutive blocks (a remainder at the
    start is dropped) and the error is that of the block means. Without, the block size doubles
    until the error estimate agrees with the next level's within that level's own uncertainty, the
    Flyvbjerg–Petersen plateau; with no plateau before fewer than `min_blocks` blocks remain, the
    largest estimate is returned (the series is too short for its correlation time).
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if len(x) < 2:
        raise ValueError(f"blocked_error needs at least 2 samples, got {len(x)}")
    mean = float(x.mean())
    if block_size is not None:
        blocks = len(x) // block_size
        if blocks < 2:
            raise ValueError(f"block size {block_size} leaves {blocks} block(s) of {len(x)} samples")
        means = x[len(x) - blocks * block_size :].reshape(blocks, block_size).mean(1)
        return float(means.mean()), math.sqrt(means.var(ddof=1) / blocks)
    levels = blocking_levels(x, min_blocks)
    if not levels:
        return mean, math.sqrt(x.var(ddof=1) / len(x))
    for (_, error, spread), (_, following, _) in pairwise(levels):
        if abs(following - error) <= spread:
            return mean, max(error, following)
    return mean, max(error for _, error, _ in levels)
