"""Spherical codebooks: Fibonacci lattice, repulsion refinement, exact bucketed nearest lookup."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from gaqmd.quant import (
    MddqQuantizer,
    SphericalCodebook,
    fibonacci_sphere,
    nearest_direction_bruteforce,
    refine_by_repulsion,
)
from gaqmd.quant import codebook_tables as tables_module
from gaqmd.quant.codebook import repulsion_energy
from gaqmd.quant.codebook_tables import ASSIGN_TOL, SCORE_TOL, build_candidate_tables

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


def test_repulsion_refuses_large_codebooks():
    with pytest.raises(ValueError, match="K <= 8192"):
        refine_by_repulsion(fibonacci_sphere(8193), steps=1)
    with pytest.raises(ValueError, match="refine=False"):
        SphericalCodebook.from_bits(14, refine=True)


TABLES = ("points", "offsets", "indices", "grid")


def test_tables_stay_out_of_state_dicts():
    codebook = SphericalCodebook.from_bits(6)
    assert codebook.state_dict() == {}
    quantizers = torch.nn.ModuleList(MddqQuantizer(4, codebook) for _ in range(3))  # one shared codebook
    assert not any("codebook" in key for key in quantizers.state_dict())
    assert torch.equal(quantizers[1].codebook.indices, codebook.indices)  # still buffers: follow .to()


def test_state_dicts_with_the_tables_still_load():
    """Checkpoints written while the tables were persistent buffers: dropped if they match, else an error."""
    source = SphericalCodebook.from_bits(6)
    legacy = {key: getattr(source, key).clone() for key in TABLES}
    target = SphericalCodebook.from_bits(6)
    target.load_state_dict(legacy)  # strict: no unexpected keys left
    assert torch.equal(target.indices, source.indices)
    quantizer = MddqQuantizer(4, SphericalCodebook.from_bits(6))
    state = {**quantizer.state_dict(), **{f"codebook.{key}": value for key, value in legacy.items()}}
    MddqQuantizer(4, SphericalCodebook.from_bits(6)).load_state_dict(state)
    with pytest.raises(RuntimeError, match="codebook"):
        SphericalCodebook.from_bits(7).load_state_dict(legacy)
    with pytest.raises(RuntimeError, match="codebook"):
        MddqQuantizer(4, SphericalCodebook.from_bits(7)).load_state_dict(state)


# --- table build: the k-d tree build against the former dense O(cells * K) build ---------------


def _reference_tables(points, n_z, n_phi):
    """The former dense build, verbatim: every (cell, point) pair, O(cells * K) time."""
    from gaqmd.quant.codebook_tables import _unit

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


def _assert_same_tables(codebook, reference):
    assert torch.equal(codebook.offsets, reference[0])
    assert torch.equal(codebook.indices, reference[1])


@pytest.mark.parametrize("bits", [4, 8, 10])
@pytest.mark.parametrize("cell_scale", [0.5, 1.3])
def test_tables_equal_the_dense_reference_build(bits, cell_scale):
    codebook = SphericalCodebook.from_bits(bits, cell_scale=cell_scale)
    _assert_same_tables(codebook, _reference_tables(codebook.points, *codebook.grid.tolist()))


def test_tables_equal_the_reference_for_irregular_points():
    u = _random_directions(700, seed=21)
    for points in (u, refine_by_repulsion(fibonacci_sphere(200), steps=30), u[:5]):
        codebook = SphericalCodebook(points)
        _assert_same_tables(codebook, _reference_tables(codebook.points, *codebook.grid.tolist()))


def test_requery_with_larger_k_gives_the_same_tables(monkeypatch):
    points = fibonacci_sphere(256)
    reference = _reference_tables(points, 19, 57)
    # Start every cell at k = 1 or 2: nearly all cells are re-queried (4x k each time), in small chunks.
    for ladder, chunks in (([1], dict(chunk_cells=100, chunk_entries=64)), ([2, 5], dict(chunk_entries=7))):
        monkeypatch.setattr(tables_module, "_K_LADDER", np.array(ladder))
        tables = build_candidate_tables(points, 19, 57, **chunks)
        assert torch.equal(tables[0], reference[0]) and torch.equal(tables[1], reference[1])


# --- a large codebook (b = 16, K = 65536): exact lookup at the scale the model uses -----------


@pytest.fixture(scope="module")
def large_codebook():
    return SphericalCodebook.from_bits(16)  # ~1 s build (the dense build took minutes)


def test_large_tables_are_a_valid_csr(large_codebook):
    offsets, indices = large_codebook.offsets.long(), large_codebook.indices.long()
    n_z, n_phi = large_codebook.grid.tolist()
    assert offsets.shape == (n_z * n_phi + 1,) and offsets[0] == 0 and offsets[-1] == len(indices)
    counts = offsets[1:] - offsets[:-1]
    assert int(counts.min()) >= 1 and counts.double().mean() < 12  # ~8 candidates per lookup
    assert int(indices.min()) >= 0 and int(indices.max()) < large_codebook.size
    segment_start = torch.zeros(len(indices), dtype=torch.bool)
    segment_start[offsets[:-1]] = True
    assert torch.all((indices[1:] > indices[:-1]) | segment_start[1:])  # ascending within every cell


def test_large_codebook_nearest_equals_bruteforce_on_random_directions(large_codebook):
    u = _random_directions(20_000, seed=31, dtype=torch.float32)
    assert torch.equal(large_codebook.nearest(u), nearest_direction_bruteforce(u, large_codebook))


def test_large_codebook_nearest_equals_bruteforce_on_points_and_midpoints(large_codebook):
    points = large_codebook.points
    assert torch.equal(large_codebook.nearest(points), torch.arange(large_codebook.size))
    _, neighbour = cKDTree(points.numpy()).query(points.numpy(), k=2)
    midpoints = _normalize(points + points[torch.from_numpy(neighbour[:, 1])])  # near ties
    pick = torch.randperm(large_codebook.size, generator=torch.Generator().manual_seed(32))
    poles = torch.cat([points[:500], points[-500:]])  # the thin polar cells
    for u in (points[pick[:1000]].float(), midpoints[pick[:3000]].float(), midpoints[pick[3000:4000]], poles.float()):
        assert torch.equal(large_codebook.nearest(u), nearest_direction_bruteforce(u, large_codebook))
