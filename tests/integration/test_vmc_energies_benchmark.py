"""benchmarks/vmc_energies.py --quick: the JSON records command, machine, times, energy ± error and the
difference to exact; the markdown and the trace PNG are written; earlier systems are kept."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "vmc_energies.py"


def _script():
    spec = importlib.util.spec_from_file_location("vmc_energies", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_records_what_the_results_page_needs(tmp_path):
    pytest.importorskip("pyscf")
    script = _script()
    assert script.main(["--systems", "He", "--quick", "--output", str(tmp_path)]) == 0
    assert script.main(["--systems", "H2", "--quick", "--output", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "vmc_energies.json").read_text())
    assert list(results["systems"]) == ["H2", "He"]  # He kept, table in the fixed order
    he = results["systems"]["He"]
    assert he["command"].endswith("--systems He --quick --output " + str(tmp_path))
    assert he["machine"]["torch_threads"] >= 1 and he["machine"]["cpu"]
    assert he["exact_hartree"] == -2.903724 and he["stderr_hartree"] > 0
    assert he["difference_mha"] == pytest.approx(1e3 * (he["energy_hartree"] - he["exact_hartree"]), rel=1e-12)
    assert he["difference_stderr_mha"] == pytest.approx(1e3 * he["stderr_hartree"], rel=1e-12)
    assert he["bar_met"] is False  # 20 steps of a tiny network are far from exact
    assert 0 < he["cpu_seconds"] and 0 < he["wall_seconds"] and he["optimisation_steps"] == 20
    page = (tmp_path / "vmc_energies.md").read_text()
    assert "| He | 2 (1, 1) |" in page and "NOT met" in page
    assert (tmp_path / "vmc_energies" / "He_trace.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
