"""gaqmd.checks.conservation on OpenMM toy systems whose exact energy is known in closed form."""

import numpy as np
import openmm
import pytest
from openmm import app, unit

from gaqmd.checks import equilibrate, nve_drift, start_state, timestep_scan
from gaqmd.checks.thermostat import langevin_temperature

MASS = 12.0  # Da
K_BOND, K_TRAP = 2.0e5, 2.0e4  # kJ/mol/nm^2
KJ_PER_MOL_PER_EV = 96.48533212331
N = 4


def anchors():
    """(N, 3) nm: a zigzag chain, each atom tethered to its own anchor."""
    return np.array([[0.15 * i, 0.02 * (i % 2), 0.0] for i in range(N)])


def toy_system(curl: float = 0.0, swirl: float = 0.0) -> openmm.System:
    """Harmonic bonds along the chain at their anchor lengths plus a harmonic tether per atom, so the
    anchors are the minimum and every force vanishes there. curl (kJ/mol/nm^2) adds the rotational field
    F_i = curl * z x (r_i - anchor_i), which is not the gradient of any energy (its curl is 2 curl z);
    swirl (kJ/mol/nm) a force of that constant magnitude along z x (r_i - anchor_i), which drives the
    atoms around their anchors without the runaway of the linear field."""
    system, x0 = openmm.System(), anchors()
    for _ in range(N):
        system.addParticle(MASS)
    bonds = openmm.HarmonicBondForce()
    for i in range(N - 1):
        bonds.addBond(i, i + 1, float(np.linalg.norm(x0[i + 1] - x0[i])), K_BOND)
    system.addForce(bonds)
    tether = openmm.CustomExternalForce("0.5*kt*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
    tether.addGlobalParameter("kt", K_TRAP)
    for name in ("x0", "y0", "z0"):
        tether.addPerParticleParameter(name)
    for i in range(N):
        tether.addParticle(i, x0[i].tolist())
    system.addForce(tether)
    if curl:
        def rotational(state):
            d = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer) - x0
            return 0.0, curl * np.stack([-d[:, 1], d[:, 0], np.zeros(N)], axis=1)

        system.addForce(openmm.PythonForce(rotational))
    if swirl:
        def swirling(state):
            d = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer) - x0
            tangent = np.stack([-d[:, 1], d[:, 0], np.zeros(N)], axis=1)
            return 0.0, swirl * tangent / np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)

        system.addForce(openmm.PythonForce(swirling))
    return system


def velocities(seed: int = 0) -> np.ndarray:
    """(N, 3) nm/ps, about 300 K."""
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.494 / MASS), (N, 3))


def exact_energy_ev(v: np.ndarray) -> float:
    # At the anchors the potential energy is 0 and so is every force, so leapfrog's half-step velocity
    # shift vanishes: the conserved energy is exactly the initial kinetic energy.
    return 0.5 * MASS * float((v**2).sum()) / KJ_PER_MOL_PER_EV


def test_harmonic_energy_is_conserved_and_its_fit_converges_to_the_exact_energy():
    v = velocities()
    exact = exact_energy_ev(v)
    runs = timestep_scan((toy_system(), anchors(), v), dts_fs=(0.25, 0.5, 1.0), duration_ps=1.0, report_every_fs=2.5)
    for run in runs:
        assert run.conserved, run.reason
        assert run.n_atoms == N and run.times[-1] == pytest.approx(1.0)
        assert run.total_energy[0] == pytest.approx(exact, rel=1e-9)
        assert abs(run.drift) < 0.01  # meV/atom/ps, 10x below the default threshold
    # Verlet is second order: the fluctuation and the offset of the fit from the exact energy go as dt^2.
    offsets = [abs(run.intercept - exact) for run in runs]
    for coarse, fine in zip(runs[1:], runs[:-1]):
        assert coarse.rms_fluctuation / fine.rms_fluctuation == pytest.approx(4.0, rel=0.15)
    for coarse, fine in zip(offsets[1:], offsets[:-1]):
        assert coarse / fine == pytest.approx(4.0, rel=0.15)
    assert offsets[0] * 1e3 / N < 0.01  # meV/atom


def test_rotational_force_is_flagged_as_non_conservative():
    conservative = nve_drift((toy_system(), anchors(), velocities()), dt_fs=0.25, steps=4000, report_every=10)
    pumped = nve_drift((toy_system(curl=2.0e3), anchors(), velocities()), dt_fs=0.25, steps=4000, report_every=10)
    assert conservative.conserved
    assert not pumped.conserved and "significant" in pumped.reason
    assert pumped.drift > 100 * abs(conservative.drift) and pumped.drift > 3 * pumped.drift_stderr


def test_unstable_time_step_blows_up_and_is_flagged():
    # the stiffest mode has omega ~ 260 /ps; Verlet is unstable for omega * dt > 2, here 2.6
    result = nve_drift((toy_system(), anchors(), velocities()), dt_fs=10.0, steps=2000, report_every=10)
    assert not result.conserved
    assert result.reason.startswith("blew up") and result.times[-1] < 20.0 * 1e-3 * 2000


def simulation() -> app.Simulation:
    topology = app.Topology()
    residue = topology.addResidue("TOY", topology.addChain())
    for i in range(N):
        topology.addAtom(f"C{i}", app.element.carbon, residue)
    sim = app.Simulation(topology, toy_system(), openmm.LangevinMiddleIntegrator(300, 1.0, 0.0005),
                         openmm.Platform.getPlatformByName("Reference"))
    sim.context.setPositions(anchors())
    sim.context.setVelocities(velocities())
    return sim


def test_simulation_start_runs_on_a_fresh_context_and_equilibrate_thermalises():
    sim = simulation()
    before = sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    from_sim = nve_drift(sim, dt_fs=0.5, steps=400, report_every=20)
    from_tuple = nve_drift((toy_system(), anchors(), velocities()), dt_fs=0.5, steps=400, report_every=20)
    np.testing.assert_allclose(from_sim.total_energy, from_tuple.total_energy, rtol=1e-12)
    after = sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    np.testing.assert_array_equal(before, after)

    state = equilibrate((toy_system(), anchors()), temperature_k=300.0, steps=2000, dt_fs=0.5, seed=3)
    assert state.positions.shape == (N, 3) and np.abs(state.velocities).max() > 0
    assert start_state(state) is state
    assert nve_drift(state, dt_fs=0.5, steps=1000, report_every=10).conserved


def test_a_thermostat_holds_a_conservative_force_at_its_target_and_a_pumping_one_above():
    start = equilibrate((toy_system(), anchors(), velocities()), 300.0, 4000, 0.5, friction_per_ps=10.0)
    held = langevin_temperature(start, 300.0, steps=40000, dt_fs=0.5, friction_per_ps=10.0)
    assert abs(held.bias_k) < 4 * held.stderr_k and held.stderr_k < 10.0
    pumped_start = equilibrate((toy_system(swirl=100.0), anchors(), velocities()), 300.0, 4000, 0.5, friction_per_ps=10.0)
    pumped = langevin_temperature(pumped_start, 300.0, steps=40000, dt_fs=0.5, friction_per_ps=10.0)
    assert pumped.bias_k > 5 * pumped.stderr_k


def test_frames_are_recorded_every_frame_every_steps_in_angstrom():
    result = nve_drift((toy_system(), anchors(), velocities()), dt_fs=0.5, steps=400, report_every=20,
                       frame_every=100)
    assert result.frames.shape == (5, N, 3)
    np.testing.assert_allclose(result.frames[0], 10.0 * anchors(), rtol=1e-12)
    assert np.abs(result.frames[-1] - result.frames[0]).max() > 1e-4
    with pytest.raises(ValueError, match="multiple of report_every"):
        nve_drift((toy_system(), anchors(), velocities()), dt_fs=0.5, steps=400, report_every=20, frame_every=30)


def test_stop_when_ends_the_run_at_the_first_frame_it_flags():
    start = 10.0 * anchors()
    moved = lambda frame: "moved" if np.abs(frame - start).max() > 1e-3 else None  # noqa: E731
    result = nve_drift((toy_system(), anchors(), velocities()), dt_fs=0.5, steps=4000, report_every=20,
                       frame_every=100, stop_when=moved)
    assert not result.conserved and result.reason == "moved"
    assert moved(result.frames[-1]) == "moved" and all(moved(frame) is None for frame in result.frames[:-1])
    assert len(result.times) == 1 + 5 * (len(result.frames) - 1) < 201
