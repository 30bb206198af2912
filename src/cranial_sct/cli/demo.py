"""``cranial-sct demo``: a thin wrapper over :func:`cranial_sct.demo.run_demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Demo folder (rerun to continue or reuse a finished run)."),
    benchmark: bool = typer.Option(True, "--benchmark/--no-benchmark", help="Also run the quick cross-field benchmark (about 4 minutes on 2 cores)."),
    spacing: Optional[float] = typer.Option(None, "--spacing", min=0.5, max=4.0, help="Voxel size of the demo head in mm (default 1)."),
) -> None:
    """One 1-mm phantom head predicted by the built-in model (a page with its images and metrics), then the quick cross-field benchmark."""
    from cranial_sct.demo import run_demo

    page = run_demo(out, benchmark, *([spacing] if spacing is not None else []))
    typer.echo(f"demo page: {page.resolve()}")
