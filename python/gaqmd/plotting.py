"""Headless matplotlib for every PNG gaqmd writes, and the one way figures are saved."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on compute nodes and CI; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, path: Path) -> Path:
    """tight_layout, write a 120-dpi PNG, close the figure; returns the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


__all__ = ["plt", "save_figure"]
