"""Files of a VMC run: a JSON summary, an energy-trace PNG and the labelled geometry as extended XYZ.

The XYZ is in gaqmd's data units (Å, eV), so `gaqmd.data.read_frames(path, forces_key=None)` reads
it as a Frame; VMC gives no forces, so none are written.
"""

import json
from dataclasses import asdict
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.units import Bohr, Hartree

from gaqmd.vmc.systems import System
from gaqmd.vmc.train import VMCResult

FILES = {"summary": "vmc_summary.json", "trace": "energy_trace.png", "geometry": "vmc_geometry.xyz"}


def summary(system: System, result: VMCResult, settings: dict) -> dict:
    """JSON-ready record: system, energy (Hartree and eV), statistics, settings and the traces."""
    return {
        "system": {**asdict(system), "charge": system.charge, "spin": system.spin, "length_unit": "bohr"},
        "energy_hartree": result.energy,
        "stderr_hartree": result.stderr,
        "energy_ev": result.energy * Hartree,
        "stderr_ev": result.stderr * Hartree,
        "variance_hartree2": result.variance,
        "acceptance": result.acceptance,
        "step_size_bohr": result.step_size,
        "seconds": result.seconds,
        "n_parameters": result.n_parameters,
        "settings": settings,
        "trace_hartree": list(result.trace),
        "evaluation_hartree": list(result.evaluation),
    }


def write_geometry(path: Path, system: System, result: VMCResult) -> None:
    """Extended XYZ of the nuclei (Å) with energy and its standard error (eV) in the comment line."""
    atoms = ase.Atoms(symbols=list(system.symbols), positions=np.asarray(system.positions) * Bohr)
    atoms.info.update(energy_stderr=result.stderr * Hartree, method="VMC", charge=system.charge, spin=system.spin)
    atoms.calc = SinglePointCalculator(atoms, energy=result.energy * Hartree)
    ase.io.write(path, atoms, format="extxyz")


def plot_trace(path: Path, system: System, result: VMCResult) -> None:
    """Mean E_L per optimisation step, its running average, and the evaluated energy ± error."""
    from gaqmd.plotting import plt, save_figure

    trace = np.asarray(result.trace)
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    if len(trace):
        steps = np.arange(1, len(trace) + 1)
        window = max(1, len(trace) // 50)
        smooth = np.convolve(trace, np.ones(window) / window, mode="valid")
        axis.plot(steps, trace, lw=0.5, alpha=0.5, label="mean $E_L$ per step")
        axis.plot(steps[window - 1 :], smooth, lw=1.5, label=f"running mean ({window} steps)")
        low = min(np.percentile(trace, 2), result.energy - 5 * result.stderr)
        axis.set_ylim(low - 0.02 * abs(low), max(np.percentile(trace, 98), result.energy) + 0.01)
    axis.axhline(result.energy, color="k", lw=1, label=f"evaluated {result.energy:.5f} ± {result.stderr:.5f} Ha")
    axis.set_xlabel("optimisation step")
    axis.set_ylabel("energy (Hartree)")
    axis.set_title(f"VMC: {system.name}")
    axis.legend(fontsize=8)
    save_figure(figure, path)


def write_outputs(output: Path, system: System, result: VMCResult, settings: dict) -> list[Path]:
    """Write the three files into `output` (created if needed); returns their paths."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [output / FILES[key] for key in ("summary", "trace", "geometry")]
    paths[0].write_text(json.dumps(summary(system, result, settings), indent=2) + "\n")
    plot_trace(paths[1], system, result)
    write_geometry(paths[2], system, result)
    return paths
