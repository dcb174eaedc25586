"""Command-line interface: `gaqmd train`, `quantize`, `evaluate`, `analyze`, `vmc`, `export`, `md`, `check`.

Thin: each module parses its commands' arguments and prints what the library returns.
"""

import argparse
import os
import sys
from collections.abc import Sequence

from gaqmd.cli import models, simulation, vmc

COMMANDS = {**models.COMMANDS, **vmc.COMMANDS, **simulation.COMMANDS}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gaqmd", description="Quantized equivariant ML potentials for OpenMM.")
    subparsers = p.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(subparsers)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _, run = COMMANDS[args.command]
    try:
        return run(args)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        if os.environ.get("GAQMD_DEBUG"):
            raise
        print(f"gaqmd {args.command}: error: {error}", file=sys.stderr)
        return 2
