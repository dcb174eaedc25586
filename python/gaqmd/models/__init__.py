"""Models bundled with gaqmd (see docs/results for how each was trained and how well it does)."""

from pathlib import Path

MODELS_DIR = Path(__file__).parent


def bundled_model(name: str) -> Path:
    """Path of a bundled model file, e.g. bundled_model("aspirin_fp32")."""
    path = MODELS_DIR / f"{name}.pt"
    if not path.is_file():
        available = sorted(p.stem for p in MODELS_DIR.glob("*.pt"))
        raise FileNotFoundError(f"no bundled model {name!r}; available: {available}")
    return path
