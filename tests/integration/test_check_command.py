"""`gaqmd check` end to end on the bundled aspirin models, with every stage cut short."""

import json

from gaqmd.cli import main


def test_check_writes_the_report_trajectory_and_summary(data_dir, tmp_path, capsys):
    models = data_dir.parents[1] / "python" / "gaqmd" / "models"
    args = ["check", str(models / "aspirin_w4a8.pt"), str(data_dir / "rmd17" / "aspirin_1000.xyz"),
            "--reference", str(models / "aspirin_fp32.pt"), "--output", str(tmp_path),
            "--equilibration-steps", "100", "--thermostat-steps", "200", "--dt", "0.5", "--nve-ps", "0.05",
            "--sample-steps", "40"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Langevin at 300 K: mean temperature" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert 100.0 < summary["thermostat_temperature_k"] < 1000.0 and summary["thermostat_temperature_stderr_k"] > 0
    assert summary["speedup"] > 1.0 and set(summary["drift_meV_per_atom_ps"]) == set(summary["drift_stderr_meV_per_atom_ps"]) == {"0.5"}
    assert "NVE dt 0.5 fs: drift" in printed and "over 0.05 ps" in printed
    report = (tmp_path / "report.md").read_text()
    assert "Thermostat: Langevin at 300 K" in report
    for name in ("trajectory.dcd", "topology.pdb", "report.md", *summary["files"]):
        assert (tmp_path / name).is_file()
