"""Spherical codebooks for unit directions and an exact bucketed nearest-point lookup.

Nearest point: the codebook index k maximising the score s_k(u) = (u_x c_kx + u_y c_ky) + u_z c_kz,
evaluated in that order, without fused multiply-add, in u's dtype (float32 for half types), with
the codebook cast to that dtype; ties go to the lowest index (torch.argmax's rule). The brute
force and the bucketed lookup compute identical scores, so they agree bit for bit.

Buckets: the sphere is cut into n_z x n_phi cells uniform in z in [-1, 1] and phi = atan2(y, x)
in [-pi, pi]: iz = clamp(floor((z/|u| + 1) * n_z / 2), 0, n_z-1),
iphi = clamp(floor((phi + pi) * n_phi / (2 pi)), 0, n_phi-1), cell = iz * n_phi + iphi. A CSR
table (offsets (n_cells+1,) int32, indices int32 sorted ascending per cell) lists every codebook
point that can win for a direction in the cell. Exactness argument, per cell X with centre a
(theta and phi midpoints) and circumscribed cap radius r (max angle from a to X's four corners;
for a z-phi cell with n_phi >= 4 the farthest point is a corner):
  - R = r + ASSIGN_TOL bounds the angle from a of any direction assigned to X, even if round-off
    in z/|u| or atan2 moved it across a cell edge by up to ASSIGN_TOL rad;
  - the nearest point of such u is within rho = d*(a) + R (triangle inequality, d*(a) = angle from
    a to its own nearest point);
  - with scores off by at most SCORE_TOL each, the computed winner is within
    theta' = arccos(cos(rho) - 2 SCORE_TOL) of u, hence within theta' + R of a.
So a point is listed iff angle(c_k, a) <= theta' + R (+ BUILD_SLACK, see below). The tolerances
(1e-5) are ~10x the float32 round-off, so the tables also stay valid for a float32 copy of the
codebook (C++/CUDA kernels).

Build: O((cells + nnz) log K) with a k-d tree on the points (scipy cKDTree), not O(cells * K). Per
cell, the k nearest points give d*(a) (first neighbour) and every listed point as long as the k-th
neighbour lies outside the listing ball; cells where it does not are re-queried with a larger k.
All angles are taken from chord lengths (angle = 2 asin(chord / 2), well conditioned also at tiny
angles), and the listing radius is widened by BUILD_SLACK = 1e-7 rad, which exceeds the round-off
of the former dense build (arccos of a float64 dot product: <= ~3e-8 rad at tiny angles), so the
tables are a superset of that build's (equal in practice) and still exact with the margins above.
"""

import math
from typing import Optional, Union

import torch
from torch import nn

from gaqmd.quant.codebook_tables import build_candidate_tables

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))  # 2 pi / golden_ratio^2 rad
REPULSION_MAX_POINTS = 8192  # refine_by_repulsion is O(K^2) per step
_TABLE_KEYS = ("points", "offsets", "indices", "grid")


def fibonacci_sphere(num_points: int) -> torch.Tensor:
    """Golden-spiral lattice, (K, 3) float64 unit vectors.

    z_k = 1 - (2k + 1) / K, phi_k = k * 2 pi / golden_ratio^2 (mod 2 pi), k = 0..K-1;
    c_k = (sqrt(1 - z_k^2) cos phi_k, sqrt(1 - z_k^2) sin phi_k, z_k).
    """
    k = torch.arange(num_points, dtype=torch.float64)
    z = 1.0 - (2.0 * k + 1.0) / num_points
    rho = torch.sqrt(torch.clamp(1.0 - z * z, min=0.0))
    phi = torch.remainder(k * GOLDEN_ANGLE, 2.0 * math.pi)
    return torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=-1)


def _repulsion_force(x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """-grad of sum_{i<j} 1/|x_i - x_j|: sum_j (x_i - x_j) / |x_i - x_j|^3, (K, 3)."""
    force = torch.empty_like(x)
    for start in range(0, len(x), chunk):
        diff = x[start : start + chunk, None, :] - x[None, :, :]
        dist2 = (diff * diff).sum(-1)
        rows = torch.arange(diff.shape[0])
        dist2[rows, rows + start] = math.inf  # no self-interaction
        force[start : start + chunk] = (diff * dist2.pow(-1.5)[..., None]).sum(1)
    return force


def repulsion_energy(points: torch.Tensor) -> float:
    """sum_{i<j} 1 / |c_i - c_j| (the Thomson / Riesz s=1 energy)."""
    x = points.to(torch.float64)
    total = 0.0
    for start in range(0, len(x), 1024):
        diff = x[start : start + 1024, None, :] - x[None, :, :]
        inverse = (diff * diff).sum(-1).rsqrt()
        rows = torch.arange(inverse.shape[0])
        inverse[rows, rows + start] = 0.0
        total += inverse.sum().item()
    return 0.5 * total


def refine_by_repulsion(points: torch.Tensor, steps: int = 300, step_size: float = 0.1) -> torch.Tensor:
    """Projected gradient descent on the repulsion energy; deterministic, no randomness.

    Each step moves every point along its tangential force, the largest move being
    step_size * sqrt(4 pi / K) * (1 - t / steps) rad (linearly decaying), then renormalises.
    Cost O(K^2) per step (about a second per step at K = 4096), so K > REPULSION_MAX_POINTS (8192,
    b = 13) raises ValueError; a large Fibonacci lattice is already close to uniform.
    Returns (K, 3) float64.
    """
    if len(points) > REPULSION_MAX_POINTS:
        raise ValueError(
            f"refine_by_repulsion costs O(K^2) per step and is limited to K <= {REPULSION_MAX_POINTS} "
            f"(codebook bits <= {REPULSION_MAX_POINTS.bit_length() - 1}); got K = {len(points)}. "
            "Use the unrefined Fibonacci lattice (refine=False) for larger codebooks."
        )
    x = points.to(torch.float64).clone()
    x = x / x.norm(dim=-1, keepdim=True)
    spacing = math.sqrt(4.0 * math.pi / len(x))
    for t in range(steps):
        force = _repulsion_force(x)
        tangential = force - (force * x).sum(-1, keepdim=True) * x
        largest = tangential.norm(dim=-1).max()
        if not largest > 0:
            break
        x = x + (step_size * spacing * (1.0 - t / steps) / largest) * tangential
        x = x / x.norm(dim=-1, keepdim=True)
    return x


def _score_dtype(dtype: torch.dtype) -> torch.dtype:
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _scores(u: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(u_x c_x + u_y c_y) + u_z c_z for matching rows of u and points (or broadcast)."""
    return (u[..., 0] * points[..., 0] + u[..., 1] * points[..., 1]) + u[..., 2] * points[..., 2]


def nearest_direction_bruteforce(
    u: torch.Tensor, codebook: Union["SphericalCodebook", torch.Tensor], chunk: Optional[int] = None
) -> torch.Tensor:
    """u (..., 3) -> int64 (...,) index of the highest score over all K points (first on ties).

    chunk rows of u at a time; by default about 2^17 scores per chunk (cache-sized; ~2-3 ns per
    score on one CPU core).
    """
    points = codebook.points if isinstance(codebook, SphericalCodebook) else codebook
    if chunk is None:
        chunk = max(1, min(256, 2**17 // max(1, len(points))))
    dtype = _score_dtype(u.dtype)
    flat = u.reshape(-1, 3).to(dtype)
    px, py, pz = points.to(device=flat.device, dtype=dtype).T.contiguous()
    out = torch.empty(flat.shape[0], dtype=torch.int64, device=flat.device)
    for start in range(0, flat.shape[0], chunk):
        rows = flat[start : start + chunk]
        # In-place form of _scores (same roundings), to stay in cache.
        score = rows[:, 0:1] * px
        term = rows[:, 1:2] * py
        score.add_(term)
        torch.mul(rows[:, 2:3], pz, out=term)
        out[start : start + chunk] = score.add_(term).argmax(dim=1)
    return out.reshape(u.shape[:-1])


class SphericalCodebook(nn.Module):
    """K unit directions (buffer `points`, (K, 3), kept float64 by .to()) with exact nearest lookup.

    Buffers for the artifact / C++ port: points, offsets (n_cells+1,) int32, indices (nnz,) int32,
    grid = [n_z, n_phi] int64. Cells are about `cell_scale * sqrt(4 pi / K)` rad on a side at the
    equator (smaller cells: fewer candidates per lookup, bigger tables). The default gives ~4K cells;
    candidates per lookup (= entries per cell) 6.1 at b = 12, 7.8 at b = 16 (2.0M entries, 8 MiB),
    21 at b = 20 (89M entries, 340 MiB; there the SCORE_TOL margin, ~6 mrad, exceeds the point
    spacing and sets the count; cell_scale=1 gives 39 candidates, 156 MiB).

    The buffers are not persistent: the codebook is a deterministic function of (bits, refine) and
    is rebuilt from the quantization config, so a model's state_dict does not carry a copy per
    quantizer that shares it. Loading a state_dict that still has them (older checkpoints) drops
    them after checking that the stored points are this codebook's.
    """

    def __init__(self, points: torch.Tensor, cell_scale: float = 0.5):
        super().__init__()
        points = points.to(torch.float64)
        points = points / points.norm(dim=-1, keepdim=True)
        side = cell_scale * math.sqrt(4.0 * math.pi / len(points))
        n_z = max(2, math.ceil(2.0 / side))
        n_phi = max(4, math.ceil(2.0 * math.pi / side))
        offsets, indices = build_candidate_tables(points, n_z, n_phi)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("indices", indices, persistent=False)
        self.register_buffer("grid", torch.tensor([n_z, n_phi], dtype=torch.int64), persistent=False)

    @classmethod
    def from_bits(cls, bits: int, refine: bool = False, refine_steps: int = 300, **kwargs) -> "SphericalCodebook":
        """Fibonacci codebook of K = 2^bits points, optionally refined by repulsion."""
        points = fibonacci_sphere(2**bits)
        if refine:
            points = refine_by_repulsion(points, steps=refine_steps)
        return cls(points, **kwargs)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # State dicts written while the tables were persistent buffers still hold them: drop them,
        # but refuse a codebook other than this one (it would silently change every direction code).
        legacy = {key: state_dict.pop(prefix + key) for key in _TABLE_KEYS if prefix + key in state_dict}
        stored = legacy.get("points")
        if stored is not None and not (
            stored.shape == self.points.shape
            and torch.allclose(stored.to(self.points.device, torch.float64), self.points, rtol=0, atol=1e-9)
        ):
            error_msgs.append(
                f"{prefix}points: the state_dict's codebook ({tuple(stored.shape)[0]} points) differs from this "
                f"codebook ({self.size} points); build the codebook with the bits/refine it was trained with"
            )
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _apply(self, fn, recurse=True):
        # model.float() / .half() must not round the codebook (lookups cast it per call, and the
        # artifact stores the float64 points); device moves still apply.
        points = self.points
        super()._apply(fn, recurse)
        self.points = points.to(self.points.device)
        return self

    @property
    def size(self) -> int:
        return self.points.shape[0]

    def cell_of(self, u: torch.Tensor) -> torch.Tensor:
        """u (N, 3), any norm > 0 -> int64 (N,) cell index (module docstring formula)."""
        n_z, n_phi = (int(n) for n in self.grid)
        x, y, z = u.unbind(-1)
        norm = torch.sqrt((x * x + y * y) + z * z)
        cos_theta = torch.where(norm > 0, z / torch.where(norm > 0, norm, 1.0), 0.0)
        iz = torch.floor((cos_theta + 1.0) * (0.5 * n_z)).clamp(0, n_z - 1).long()
        iphi = torch.floor((torch.atan2(y, x) + math.pi) * (n_phi / (2.0 * math.pi))).clamp(0, n_phi - 1).long()
        return torch.where(norm > 0, iz * n_phi + iphi, 0)

    def nearest(self, u: torch.Tensor) -> torch.Tensor:
        """u (..., 3) unit directions -> int64 (...,) nearest index, equal to the brute force.

        The zero vector (and NaN) gives 0, as argmax over all-equal scores does.
        """
        dtype = _score_dtype(u.dtype)
        flat = u.reshape(-1, 3).to(dtype)
        points = self.points.to(dtype)
        cell = self.cell_of(flat)
        start = self.offsets[cell].long()
        count = self.offsets[cell + 1].long() - start
        query = torch.repeat_interleave(torch.arange(len(flat), device=flat.device), count)
        first = torch.cumsum(count, 0) - count
        position = torch.arange(len(query), device=flat.device) + torch.repeat_interleave(start - first, count)
        candidate = self.indices[position].long()
        score = _scores(flat[query], points[candidate])
        best = torch.full((len(flat),), -math.inf, dtype=dtype, device=flat.device)
        best = best.scatter_reduce(0, query, score, reduce="amax")
        winner = torch.where(score == best[query], candidate, self.size)
        index = torch.full((len(flat),), self.size, dtype=torch.int64, device=flat.device)
        index = index.scatter_reduce(0, query, winner, reduce="amin")
        norm = torch.sqrt((flat * flat).sum(-1))
        return torch.where(norm > 0, index, 0).reshape(u.shape[:-1])

    def bruteforce(self, u: torch.Tensor) -> torch.Tensor:
        return nearest_direction_bruteforce(u, self)
