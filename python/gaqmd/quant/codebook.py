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
So a point is listed iff angle(c_k, a) <= theta' + R. The tolerances (1e-5) are ~10x the float32
round-off, so the tables also stay valid for a float32 copy of the codebook (C++/CUDA kernels).
"""

import math
from typing import Tuple, Union

import torch
from torch import nn

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))  # 2 pi / golden_ratio^2 rad
SCORE_TOL = 1e-5
ASSIGN_TOL = 1e-5


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
    Cost O(K^2) per step (about a second per step at K = 4096). Returns (K, 3) float64.
    """
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
    u: torch.Tensor, codebook: Union["SphericalCodebook", torch.Tensor], chunk: int = 128
) -> torch.Tensor:
    """u (..., 3) -> int64 (...,) index of the highest score over all K points (first on ties)."""
    points = codebook.points if isinstance(codebook, SphericalCodebook) else codebook
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


def _unit(z: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    rho = torch.sqrt(torch.clamp(1.0 - z * z, min=0.0))
    return torch.stack([rho * torch.cos(phi), rho * torch.sin(phi), z], dim=-1)


def build_candidate_tables(points: torch.Tensor, n_z: int, n_phi: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """CSR candidate lists (offsets (n_z*n_phi+1,) int32, indices int32) for the grid (module doc)."""
    if n_phi < 4 or n_z < 1:
        raise ValueError("need n_z >= 1 and n_phi >= 4 (the corner bound needs cells < pi/2 wide)")
    points = points.to(torch.float64)
    z_edges = torch.linspace(-1.0, 1.0, n_z + 1, dtype=torch.float64)
    phi_edges = torch.linspace(-math.pi, math.pi, n_phi + 1, dtype=torch.float64)
    theta_edges = torch.arccos(z_edges)
    z_mid = torch.cos(0.5 * (theta_edges[:-1] + theta_edges[1:]))
    phi_mid = 0.5 * (phi_edges[:-1] + phi_edges[1:])
    zz, pp = torch.meshgrid(z_mid, phi_mid, indexing="ij")
    centres = _unit(zz, pp).reshape(-1, 3)

    radius = torch.zeros(n_z, n_phi, dtype=torch.float64)
    for z_corner in (z_edges[:-1], z_edges[1:]):
        for phi_corner in (phi_edges[:-1], phi_edges[1:]):
            zc, pc = torch.meshgrid(z_corner, phi_corner, indexing="ij")
            cos = (_unit(zc, pc) * _unit(zz, pp)).sum(-1).clamp(-1.0, 1.0)
            radius = torch.maximum(radius, torch.arccos(cos))
    reach = radius.reshape(-1) + ASSIGN_TOL

    counts, indices = [], []
    for start in range(0, len(centres), 2048):
        cos = centres[start : start + 2048] @ points.T
        rho = torch.arccos(cos.amax(dim=1).clamp(-1.0, 1.0)) + reach[start : start + 2048]
        winner_angle = torch.arccos(torch.clamp(torch.cos(rho) - 2.0 * SCORE_TOL, min=-1.0))
        limit = winner_angle + reach[start : start + 2048]
        threshold = torch.where(limit < math.pi, torch.cos(limit), -math.inf)
        cell, index = (cos >= threshold[:, None]).nonzero().unbind(1)
        counts.append(torch.bincount(cell, minlength=len(threshold)))
        indices.append(index)
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cat(counts).cumsum(0)])
    return offsets.to(torch.int32), torch.cat(indices).to(torch.int32)


class SphericalCodebook(nn.Module):
    """K unit directions (buffer `points`, (K, 3), kept float64 by .to()) with exact nearest lookup.

    Buffers for the artifact / C++ port: points, offsets (n_cells+1,) int32, indices (nnz,) int32,
    grid = [n_z, n_phi] int64. Cells are about `cell_scale * sqrt(4 pi / K)` rad on a side at the
    equator (smaller cells: fewer candidates per lookup, bigger tables).
    """

    def __init__(self, points: torch.Tensor, cell_scale: float = 0.5):
        super().__init__()
        points = points.to(torch.float64)
        points = points / points.norm(dim=-1, keepdim=True)
        side = cell_scale * math.sqrt(4.0 * math.pi / len(points))
        n_z = max(2, math.ceil(2.0 / side))
        n_phi = max(4, math.ceil(2.0 * math.pi / side))
        offsets, indices = build_candidate_tables(points, n_z, n_phi)
        self.register_buffer("points", points)
        self.register_buffer("offsets", offsets)
        self.register_buffer("indices", indices)
        self.register_buffer("grid", torch.tensor([n_z, n_phi], dtype=torch.int64))

    @classmethod
    def from_bits(cls, bits: int, refine: bool = False, refine_steps: int = 300, **kwargs) -> "SphericalCodebook":
        """Fibonacci codebook of K = 2^bits points, optionally refined by repulsion."""
        points = fibonacci_sphere(2**bits)
        if refine:
            points = refine_by_repulsion(points, steps=refine_steps)
        return cls(points, **kwargs)

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
