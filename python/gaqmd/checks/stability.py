"""Structural stability of a trajectory: bond and angle distributions against a reference trajectory, and
the first frame at which a bond dissociates or the simulation blows up.

Trajectories are mdtraj.Trajectory objects or position arrays (n_frames, n_atoms, 3) in Å with atomic
numbers (n_atoms,). Bonds come from the topology (mdtraj or OpenMM) or, when it has none, from the first
frame: atoms i, j are bonded when |r_ij| < bond_scale * (R_i + R_j), R = ase.data.covalent_radii.
Mdtraj Trajectories with unit cells use the minimum image; position arrays are treated as non-periodic.

Distributions are pooled per type ("C-H" bonds in Å, "C-C-O" angles in degrees, element symbols sorted
at the ends). Each type is compared with the reference by two distances:
  wasserstein: Wasserstein-1 (earth mover's) distance between the two empirical distributions,
    computed exactly from the samples (scipy.stats.wasserstein_distance), in Å or degrees; a pure shift
    by d gives exactly d, so it reads as "how far the distribution moved". The headline number.
  jensen_shannon: Jensen-Shannon distance (base 2, in [0, 1]) between histograms on shared bins
    spanning both samples; sensitive to shape, saturates at 1 once the distributions stop overlapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mdtraj as md
import numpy as np
from ase.data import chemical_symbols, covalent_radii
from openmm import app
from scipy.spatial import cKDTree
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance


@dataclass(frozen=True)
class DistributionComparison:
    """One bond or angle type: moments (unit Å or deg), sample counts, W1 (unit) and JS (0..1) distances."""

    kind: str
    label: str
    unit: str
    n_samples: int
    n_reference: int
    mean: float
    std: float
    reference_mean: float
    reference_std: float
    wasserstein: float
    jensen_shannon: float


@dataclass(frozen=True)
class StabilityResult:
    """stable, or failure "dissociation" / "blow-up" at first_failed_frame (0-based) with the reason.

    max_bond_ratio (n_frames,): per frame, max over bonds of length / covalent length (R_i + R_j).
    Distributions (label -> samples) and comparisons cover the frames before the failure.
    """

    stable: bool
    failure: str | None
    first_failed_frame: int | None
    reason: str
    n_frames: int
    n_atoms: int
    bond_scale: float
    dissociation_factor: float
    comparisons: tuple[DistributionComparison, ...] = ()
    bonds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int), repr=False, compare=False)
    max_bond_ratio: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    distributions: dict = field(default_factory=dict, repr=False, compare=False)
    reference_distributions: dict = field(default_factory=dict, repr=False, compare=False)


def molecule_topology(numbers: np.ndarray, bonds: np.ndarray = ()) -> md.Topology:
    """An mdtraj Topology of one residue with atoms of atomic numbers (n,) and bonds (b, 2)."""
    topology = md.Topology()
    residue = topology.add_residue("MOL", topology.add_chain())
    atoms = [topology.add_atom(f"{chemical_symbols[z]}{i}", md.element.Element.getByAtomicNumber(int(z)), residue)
             for i, z in enumerate(numbers)]
    for i, j in np.asarray(bonds, dtype=int).reshape(-1, 2):
        topology.add_bond(atoms[i], atoms[j])
    return topology


def _numbers(topology: md.Topology) -> np.ndarray:
    return np.array([atom.element.atomic_number for atom in topology.atoms], dtype=np.int64)


def covalent_lengths(numbers: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(p,) R_i + R_j in Å for atom pairs (p, 2)."""
    return covalent_radii[numbers[pairs[:, 0]]] + covalent_radii[numbers[pairs[:, 1]]]


def infer_bonds(trajectory: md.Trajectory, bond_scale: float = 1.2) -> np.ndarray:
    """(b, 2) pairs i < j, sorted, with distance < bond_scale * covalent length in the first frame."""
    numbers, periodic = _numbers(trajectory.topology), trajectory.unitcell_vectors is not None
    if periodic:  # all pairs, under the minimum image
        pairs = np.array(np.triu_indices(trajectory.n_atoms, 1)).T
    else:
        reach = bond_scale * 2.0 * covalent_radii[numbers].max()
        pairs = cKDTree(10.0 * trajectory.xyz[0]).query_pairs(reach, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=int)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    distances = 10.0 * md.compute_distances(trajectory[0], pairs, periodic=periodic)[0]
    return pairs[distances < bond_scale * covalent_lengths(numbers, pairs)]


def as_trajectory(trajectory, numbers=None, topology=None, bond_scale: float = 1.2) -> md.Trajectory:
    """An mdtraj Trajectory whose topology has bonds, from an mdtraj Trajectory or positions (f, n, 3) Å with
    numbers (n,) or a topology (mdtraj or openmm.app); bonds are inferred when the topology has none."""
    if isinstance(topology, app.Topology):
        topology = md.Topology.from_openmm(topology)
    if not isinstance(trajectory, md.Trajectory):
        positions = np.asarray(trajectory, dtype=np.float64).reshape(-1, *np.shape(trajectory)[-2:])
        if topology is None and numbers is None:
            raise ValueError("positions need atomic numbers or a topology")
        topology = topology if topology is not None else molecule_topology(np.asarray(numbers))
        if topology.n_atoms != positions.shape[1]:
            raise ValueError(f"positions of {positions.shape[1]} atoms for a topology of {topology.n_atoms}")
        trajectory = md.Trajectory(positions / 10.0, topology)
    elif topology is not None:
        trajectory = md.Trajectory(trajectory.xyz, topology, unitcell_lengths=trajectory.unitcell_lengths,
                                   unitcell_angles=trajectory.unitcell_angles)
    if trajectory.topology.n_bonds == 0:
        bonds = infer_bonds(trajectory, bond_scale)
        trajectory = md.Trajectory(trajectory.xyz, molecule_topology(_numbers(trajectory.topology), bonds),
                                   unitcell_lengths=trajectory.unitcell_lengths,
                                   unitcell_angles=trajectory.unitcell_angles)
    return trajectory


def _bonds(topology: md.Topology) -> np.ndarray:
    return np.array(sorted(tuple(sorted((b[0].index, b[1].index))) for b in topology.bonds), dtype=int).reshape(-1, 2)


def angle_triplets(bonds: np.ndarray) -> np.ndarray:
    """(a, 3) triplets i-j-k, i < k, with j bonded to both i and k."""
    neighbors: dict[int, list[int]] = {}
    for i, j in bonds:
        neighbors.setdefault(int(i), []).append(int(j))
        neighbors.setdefault(int(j), []).append(int(i))
    triplets = [(i, j, k) for j, around in sorted(neighbors.items()) for i in sorted(around) for k in sorted(around)
                if i < k]
    return np.array(triplets, dtype=int).reshape(-1, 3)


def _label(numbers: np.ndarray, atoms) -> str:
    symbols = [chemical_symbols[numbers[a]] for a in atoms]
    if symbols[-1] < symbols[0]:
        symbols = symbols[::-1]
    return "-".join(symbols)


def geometry_samples(trajectory: md.Trajectory) -> dict[tuple[str, str], np.ndarray]:
    """(kind, label) -> pooled samples over frames and members: bond lengths in Å, angles in degrees."""
    numbers, bonds = _numbers(trajectory.topology), _bonds(trajectory.topology)
    triplets, periodic = angle_triplets(bonds), trajectory.unitcell_vectors is not None
    samples: dict[tuple[str, str], list[np.ndarray]] = {}
    if len(bonds) and trajectory.n_frames:
        lengths = 10.0 * md.compute_distances(trajectory, bonds, periodic=periodic)
        for column, pair in enumerate(bonds):
            samples.setdefault(("bond", _label(numbers, pair)), []).append(lengths[:, column])
    if len(triplets) and trajectory.n_frames:
        angles = np.degrees(md.compute_angles(trajectory, triplets, periodic=periodic))
        for column, triplet in enumerate(triplets):
            samples.setdefault(("angle", _label(numbers, triplet)), []).append(angles[:, column])
    return {key: np.concatenate(values).astype(np.float64) for key, values in sorted(samples.items())}


def histogram_distances(samples: np.ndarray, reference: np.ndarray, bins: int | None = None) -> tuple[float, float]:
    """(Wasserstein-1 in the samples' unit, Jensen-Shannon distance base 2 on `bins` shared bins).

    bins None: sqrt of the smaller sample count, clipped to 8..64; finite samples make JS > 0 even for
    one distribution (fewer bins, smaller bias), so compare JS values at similar sample counts.
    """
    samples, reference = np.asarray(samples, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if bins is None:
        bins = int(np.clip(np.sqrt(min(len(samples), len(reference))), 8, 64))
    low, high = min(samples.min(), reference.min()), max(samples.max(), reference.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    p, q = np.histogram(samples, edges)[0], np.histogram(reference, edges)[0]
    return float(wasserstein_distance(samples, reference)), float(jensenshannon(p, q, base=2))


def compare_distributions(samples: dict, reference: dict,
                          bins: int | None = None) -> tuple[DistributionComparison, ...]:
    """One comparison per (kind, label) in either dict (geometry_samples); NaN where one side lacks it."""
    rows = []
    for kind, label in sorted(set(samples) | set(reference), key=lambda key: (key[0] != "bond", key[1])):
        a, b = samples.get((kind, label), np.zeros(0)), reference.get((kind, label), np.zeros(0))
        w1, js = histogram_distances(a, b, bins) if len(a) and len(b) else (float("nan"), float("nan"))
        moments = [float(f(x)) if len(x) else float("nan") for x in (a, b) for f in (np.mean, np.std)]
        rows.append(DistributionComparison(kind, label, "Å" if kind == "bond" else "deg", len(a), len(b),
                                           moments[0], moments[1], moments[2], moments[3], w1, js))
    return tuple(rows)


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _blow_ups(positions: np.ndarray, energies: np.ndarray | None, max_energy_change: float,
              max_coordinate: float) -> dict[str, np.ndarray]:
    """Reason template -> (f,) mask of the frames where it holds."""
    with np.errstate(invalid="ignore"):
        checks = {"non-finite positions": ~np.isfinite(positions).all(axis=(1, 2)),
                  f"a coordinate beyond {max_coordinate:g} Å": (np.abs(positions) > max_coordinate).any(axis=(1, 2))}
        if energies is not None:
            change = np.abs(energies - energies[0]) / positions.shape[1]
            checks["non-finite energy"] = ~np.isfinite(energies)
            checks[f"energy changed by more than {max_energy_change:g} eV/atom"] = change > max_energy_change
    return checks


def detect_failure(trajectory: md.Trajectory, energies: np.ndarray | None = None, dissociation_factor: float = 1.5,
                   max_energy_change: float = 1.0, max_coordinate: float = 1e3):
    """-> (failure, first frame, reason, max_bond_ratio (f,)) for a Trajectory with bonds.

    blow-up: non-finite positions or energies (f,) eV, |E - E_0| > max_energy_change eV/atom, or a
    coordinate beyond max_coordinate Å; dissociation: a bond longer than dissociation_factor x its
    covalent length. A blow-up wins a tie (its frame's bond lengths are meaningless).
    """
    numbers, bonds = _numbers(trajectory.topology), _bonds(trajectory.topology)
    positions = 10.0 * trajectory.xyz.astype(np.float64)
    energies = None if energies is None else np.asarray(energies, dtype=np.float64)
    checks = _blow_ups(positions, energies, max_energy_change, max_coordinate)
    exploded = np.any(list(checks.values()), axis=0)
    ratio = np.zeros((trajectory.n_frames, len(bonds)))
    if len(bonds):
        lengths = 10.0 * md.compute_distances(trajectory, bonds, periodic=trajectory.unitcell_vectors is not None)
        ratio = lengths / covalent_lengths(numbers, bonds)
    max_ratio = np.where(exploded, np.nan, ratio.max(axis=1, initial=0.0))
    blow_up = _first(exploded)
    dissociated = _first(~exploded & (ratio > dissociation_factor).any(axis=1))
    if blow_up is not None and (dissociated is None or blow_up <= dissociated):
        reasons = [reason for reason, mask in checks.items() if mask[blow_up]]
        return "blow-up", blow_up, f"{', '.join(reasons)} at frame {blow_up}", max_ratio
    if dissociated is not None:
        b = int(np.argmax(ratio[dissociated]))
        (i, j), stretch = bonds[b], ratio[dissociated, b]
        covalent = covalent_lengths(numbers, bonds[b : b + 1])[0]
        names = f"{chemical_symbols[numbers[i]]}{i}-{chemical_symbols[numbers[j]]}{j}"
        reason = (f"bond {names} at {stretch * covalent:.2f} Å = {stretch:.2f} x its covalent length "
                  f"{covalent:.2f} Å (> {dissociation_factor:g} x) at frame {dissociated}")
        return "dissociation", dissociated, reason, max_ratio
    stretch = float(np.nanmax(max_ratio, initial=0.0))
    return None, None, f"no blow-up, no dissociation (longest bond {stretch:.2f} x covalent)", max_ratio


def _reference(reference, trajectory: md.Trajectory, bond_scale: float) -> md.Trajectory:
    if isinstance(reference, md.Trajectory) and not np.array_equal(_numbers(reference.topology),
                                                                   _numbers(trajectory.topology)):
        return as_trajectory(reference, bond_scale=bond_scale)
    return as_trajectory(reference, topology=trajectory.topology)


def stability_check(trajectory, numbers=None, reference=None, *, topology=None, energies=None,
                    bond_scale: float = 1.2, dissociation_factor: float = 1.5, max_energy_change: float = 1.0,
                    max_coordinate: float = 1e3, bins: int | None = None) -> StabilityResult:
    """Failure detection on trajectory (see as_trajectory; energies (f,) eV optional) and, when a reference
    trajectory is given, its bond/angle distributions against the reference's (frames before any failure).

    The reference is positions (f', n, 3) Å of the same atoms, or an mdtraj Trajectory; it is measured on
    the trajectory's bonds and angles when its elements match, else on its own topology (see as_trajectory).
    """
    trajectory = as_trajectory(trajectory, numbers, topology, bond_scale)
    failure, frame, reason, max_ratio = detect_failure(trajectory, energies, dissociation_factor,
                                                       max_energy_change, max_coordinate)
    samples = geometry_samples(trajectory[: frame if frame is not None else trajectory.n_frames])
    comparisons, reference_samples = (), {}
    if reference is not None:
        reference_samples = geometry_samples(_reference(reference, trajectory, bond_scale))
        comparisons = compare_distributions(samples, reference_samples, bins)
    return StabilityResult(failure is None, failure, frame, reason, trajectory.n_frames, trajectory.n_atoms,
                           bond_scale, dissociation_factor, comparisons, _bonds(trajectory.topology), max_ratio,
                           samples, reference_samples)


def format_stability(result: StabilityResult) -> str:
    """Plain-text verdict and one row per bond/angle type."""
    verdict = "stable" if result.stable else f"{result.failure.upper()} at frame {result.first_failed_frame}"
    lines = [f"{result.n_frames} frames, {result.n_atoms} atoms, {len(result.bonds)} bonds: {verdict}",
             f"  {result.reason}"]
    if result.comparisons:
        header = f"{'kind':<6} {'type':<8} {'mean':>9} {'ref mean':>9} {'W1':>9} {'unit':<4} {'JS':>6}"
        lines += ["", header, "-" * len(header)]
        lines += [f"{c.kind:<6} {c.label:<8} {c.mean:>9.4g} {c.reference_mean:>9.4g} {c.wasserstein:>9.3g} "
                  f"{c.unit:<4} {c.jensen_shannon:>6.3f}" for c in result.comparisons]
    return "\n".join(lines)
