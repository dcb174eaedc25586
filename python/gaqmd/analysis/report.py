"""Text, markdown and JSON forms of an IrrepsAnalysis, and the files `gaqmd analyze irreps` writes."""

import dataclasses
import json
from pathlib import Path
from typing import Any

from gaqmd.analysis.ablation import Ablation
from gaqmd.analysis.irreps import IrrepsAnalysis

NOTE_SHARES = "share of the squared norm of each layer's output node features (layer 0's input: scalars only)"
NOTE_ABLATION = "l-blocks of layer outputs zeroed at inference; errors vs reference labels, Δ vs unmodified model"


def _layers(row: Ablation, num_layers: int) -> str:
    return "all" if len(row.layers) == num_layers else ",".join(str(k) for k in row.layers)


def _heading(a: IrrepsAnalysis) -> str:
    return f"{a.model} ({a.mode}) on {a.data}, split {a.split}: {a.n_frames} frames, {a.n_atoms} atoms"


def _share_rows(a: IrrepsAnalysis) -> list[list[str]]:
    return [
        [str(k), a.irreps[k], *(f"{share:.3f}" for share in shares)] for k, shares in enumerate(a.shares.shares)
    ]


def _ablation_rows(a: IrrepsAnalysis) -> list[list[str]]:
    base = a.ablation.baseline
    rows = [["none", "-", f"{base.energy_mae:.2f}", f"{base.force_mae:.2f}", "", ""]]
    for row in a.ablation.rows:
        rows.append(
            [
                row.label,
                _layers(row, len(a.irreps)),
                f"{row.metrics.energy_mae:.2f}",
                f"{row.metrics.force_mae:.2f}",
                f"{row.energy_mae_change:+.2f}",
                f"{row.force_mae_change:+.2f}",
            ]
        )
    return rows


def format_table(a: IrrepsAnalysis) -> str:
    """The report printed by the CLI: norm shares per layer and l, then the ablations (meV, meV/Å)."""
    width = max(len(irreps) for irreps in a.irreps)
    degrees = "".join(f"{f'l={l}':>8}" for l in a.shares.degrees)
    lines = [_heading(a), "", NOTE_SHARES, f"{'layer':<6} {'irreps':<{width}}{degrees}"]
    for layer, irreps, *shares in _share_rows(a):
        lines.append(f"{layer:<6} {irreps:<{width}}" + "".join(f"{share:>8}" for share in shares))
    header = f"{'zeroed':<8} {'layers':<7} {'E MAE':>9} {'F MAE':>9} {'ΔE MAE':>9} {'ΔF MAE':>9}"
    units = f"{'':<8} {'':<7} {'meV':>9} {'meV/Å':>9} {'meV':>9} {'meV/Å':>9}"
    lines += ["", NOTE_ABLATION, header, units, "-" * len(header)]
    for label, layers, *values in _ablation_rows(a):
        lines.append(f"{label:<8} {layers:<7} " + " ".join(f"{value:>9}" for value in values))
    panels = len(a.embeddings.panels)
    lines += ["", f"embeddings: 2-D {a.embeddings.method} of per-l invariant embeddings ({panels} panels)"]
    return "\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def format_markdown(a: IrrepsAnalysis) -> str:
    lines = ["# Irrep analysis", "", _heading(a), "", f"Norm shares: {NOTE_SHARES}.", ""]
    lines += _markdown_table(["layer", "irreps", *(f"l={l}" for l in a.shares.degrees)], _share_rows(a))
    lines += ["", f"Ablation: {NOTE_ABLATION}.", ""]
    header = ["zeroed", "layers", "E MAE (meV)", "F MAE (meV/Å)", "ΔE MAE (meV)", "ΔF MAE (meV/Å)"]
    lines += _markdown_table(header, _ablation_rows(a))
    lines += ["", f"Embeddings: 2-D {a.embeddings.method} projections in irreps_embeddings.png.", ""]
    return "\n".join(lines)


def analysis_to_dict(a: IrrepsAnalysis) -> dict[str, Any]:
    """JSON-ready summary (the embedding coordinates stay in the plot)."""
    return {
        "model": a.model,
        "data": a.data,
        "split": a.split,
        "mode": a.mode,
        "n_frames": a.n_frames,
        "n_atoms": a.n_atoms,
        "irreps": list(a.irreps),
        "norm_shares": dataclasses.asdict(a.shares),
        "ablation": {
            "units": {"energy_mae": "meV", "force_mae": "meV/Å"},
            "baseline": dataclasses.asdict(a.ablation.baseline),
            "rows": [{"label": row.label, **dataclasses.asdict(row)} for row in a.ablation.rows],
        },
        "embeddings": {"method": a.embeddings.method, "panels": [[p.layer, p.degree] for p in a.embeddings.panels]},
    }


def write_report(a: IrrepsAnalysis, directory: Path) -> list[Path]:
    """Writes irreps_analysis.json, irreps_analysis.md and the three PNGs into directory."""
    from gaqmd.analysis.plots import plot_ablation, plot_embeddings, plot_norm_shares

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "irreps_analysis.json", directory / "irreps_analysis.md"]
    paths[0].write_text(json.dumps(analysis_to_dict(a), indent=2, ensure_ascii=False) + "\n")
    paths[1].write_text(format_markdown(a))
    paths.append(plot_norm_shares(a, directory / "irreps_norm_share.png"))
    paths.append(plot_ablation(a, directory / "irreps_ablation.png"))
    paths.append(plot_embeddings(a.embeddings, directory / "irreps_embeddings.png"))
    return paths
