"""Spherical codebooks: Fibonacci lattice, repulsion refinement, exact bucketed nearest lookup."""

import math

import numpy as np
import pytest
import torch

from gaqmd.quant import SphericalCodebook, fibonacci_sphere, nearest_direction_bruteforce, refine_by_repulsion
from gaqmd.quant.codebook import repulsion_energy

GOLDEN_ANGLE = 2.399963229728653  # rad, = 137.50776405 degrees = pi (3 - sqrt 5)


@pytest.fixture(scope="module", params=[4, 8, 12])
def codebook(request):
    return SphericalCodebook.from_bits(request.param)


def _random_directions(n, seed, dtype=torch.float64):
    u = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (u / u.norm(dim=-1, keepdim=True)).to(dtype)


def _normalize(v):
    return v / v.norm(dim=-1, keepdim=True)


def test_fibonacci_points_match_the_golden_spiral():
    points = fibonacci_sphere(4)
    assert points.dtype == torch.float64 and points.shape == (4, 3)
    np.testing.assert_allclose(points[:, 2].numpy(), [0.75, 0.25, -0.25, -0.75], rtol=0, atol=1e-15)
    assert points[0, 1] == 0.0 and points[0, 0] > 0  # phi_0 = 0
    phi_1 = math.atan2(points[1, 1].item(), points[1, 0].item())
    assert phi_1 == pytest.approx(GOLDEN_ANGLE, abs=1e-12)


@pytest.mark.parametrize("bits", [4, 8, 12])
def test_fibonacci_points_are_unit_and_roughly_uniform(bits):
    points = fibonacci_sphere(2**bits)
    torch.testing.assert_close(points.norm(dim=-1), torch.ones(2**bits, dtype=torch.float64), rtol=0, atol=1e-15)
    ideal = math.sqrt(4.0 * math.pi / 2**bits)
    probes = _random_directions(20000, seed=bits)
    covering = torch.arccos((probes @ points.T).amax(dim=1).clamp(max=1.0)).max().item()
    # Sampling underestimates the covering radius; K caps of radius rho cover the sphere only if
    # rho >= arccos(1 - 2/K) ~ 0.56 ideal, and a hexagonal arrangement would give 0.62 ideal.
    assert 0.5 * ideal < covering < 0.9 * ideal
    gram = points @ points.T
    gram.fill_diagonal_(-1.0)
    separation = torch.arccos(gram.max().clamp(max=1.0)).item()
    assert separation > 0.8 * ideal


def test_repulsion_lowers_energy_and_is_deterministic():
    points = fibonacci_sphere(64)
    refined = refine_by_repulsion(points, steps=100)
    assert torch.equal(refined, refine_by_repulsion(points, steps=100))
    torch.testing.assert_close(refined.norm(dim=-1), torch.ones(64, dtype=torch.float64), rtol=0, atol=1e-14)
    assert repulsion_energy(refined) < repulsion_energy(points) - 1.0

    def separation(p):
        gram = p @ p.T
        gram.fill_diagonal_(-1.0)
        return torch.arccos(gram.max()).item()

    assert separation(refined) > 1.05 * separation(points)


def test_tables_are_a_valid_csr(codebook):
    n_z, n_phi = codebook.grid.tolist()
    offsets, indices = codebook.offsets, codebook.indices
    assert offsets.dtype == torch.int32 and indices.dtype == torch.int32
    assert offsets.shape == (n_z * n_phi + 1,) and offsets[0] == 0 and offsets[-1] == indices.numel()
    counts = offsets[1:] - offsets[:-1]
    assert torch.all(counts >= 1)
    assert int(indices.min()) >= 0 and int(indices.max()) < codebook.size
    for cell in range(0, n_z * n_phi, max(1, n_z * n_phi // 97)):
        listed = indices[offsets[cell] : offsets[cell + 1]]
        assert torch.all(listed[1:] > listed[:-1])  # ascending: the first maximum is the lowest index


def _hard_directions(codebook):
    """Codebook points, midpoints to each point's nearest neighbour (near ties), cell corners, axes."""
    points = codebook.points
    gram = points @ points.T
    gram.fill_diagonal_(-2.0)
    midpoints = _normalize(points + points[gram.argmax(dim=1)])
    n_z, n_phi = codebook.grid.tolist()
    z = torch.linspace(-1.0, 1.0, n_z + 1, dtype=torch.float64)
    phi = torch.linspace(-math.pi, math.pi, n_phi + 1, dtype=torch.float64)
    zz, pp = torch.meshgrid(z, phi, indexing="ij")
    rho = torch.sqrt((1.0 - zz * zz).clamp(min=0.0))
    corners = torch.stack([rho * torch.cos(pp), rho * torch.sin(pp), zz], dim=-1).reshape(-1, 3)
    axes = torch.cat([torch.eye(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64)])
    return torch.cat([points, midpoints, corners, axes])


def test_nearest_equals_bruteforce_on_random_directions(codebook):
    u = _random_directions(100_000, seed=7, dtype=torch.float32)
    fast = codebook.nearest(u)
    assert fast.dtype == torch.int64 and fast.shape == (100_000,)
    assert torch.equal(fast, nearest_direction_bruteforce(u, codebook))
    # independent oracle in float64 (matmul + argmax); may differ only at float32-level near ties
    exact = (u[:10_000].double() @ codebook.points.T).argmax(dim=1)
    assert (fast[:10_000] != exact).sum() <= 2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_nearest_equals_bruteforce_on_hard_directions(codebook, dtype):
    u = _hard_directions(codebook).to(dtype)
    fast = codebook.nearest(u)
    assert torch.equal(fast, nearest_direction_bruteforce(u, codebook))
    assert torch.equal(fast[: codebook.size], torch.arange(codebook.size))
    extra = _random_directions(20_000 if codebook.size > 1000 else 100_000, seed=8, dtype=dtype)
    assert torch.equal(codebook.nearest(extra), nearest_direction_bruteforce(extra, codebook))


def test_exact_ties_go_to_the_lowest_index():
    # Octahedron in a scrambled order: +y is index 0, +x index 2, +z index 3.
    points = torch.tensor(
        [[0, 1, 0], [0, 0, -1], [1, 0, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=torch.float64
    )
    codebook = SphericalCodebook(points)
    s = 1.0 / math.sqrt(2.0)
    u = torch.tensor([[s, s, 0], [s, 0, s], [1, 1, 1], [-s, 0, -s], [0, -s, s], [-1, -1, -1]], dtype=torch.float64)
    expected = torch.tensor([0, 2, 0, 1, 3, 1])  # {+y,+x}, {+x,+z}, {+y,+x,+z}, {-z,-x}, {+z,-y}, {-z,-x,-y}
    assert torch.equal(nearest_direction_bruteforce(u, codebook), expected)
    assert torch.equal(codebook.nearest(u), expected)
    assert torch.equal(codebook.nearest(u.float()), expected)


def test_zero_vector_maps_to_index_zero(codebook):
    u = torch.zeros(2, 4, 3)
    assert torch.equal(codebook.nearest(u), torch.zeros(2, 4, dtype=torch.int64))
    assert torch.equal(nearest_direction_bruteforce(u, codebook), torch.zeros(2, 4, dtype=torch.int64))


def test_state_dict_carries_the_tables():
    source = SphericalCodebook.from_bits(6)
    target = SphericalCodebook(fibonacci_sphere(64) * 1.0)
    target.load_state_dict(source.state_dict())
    assert set(source.state_dict()) == {"points", "offsets", "indices", "grid"}
    assert torch.equal(target.indices, source.indices)
