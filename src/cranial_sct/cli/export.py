"""``cranial-sct export``: a training checkpoint reduced to what prediction needs, to share or ship."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app


@app.command("export")
def export_command(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Training checkpoint (RUN/checkpoints/last.pt or best.pt)."),
    out: Path = typer.Option(..., "--out", help="Output file (.pt): weights, config, input plan and training statistics."),
    recipe: str = typer.Option("", "--recipe", help="How the model was made, stored with it (shown by info --checkpoint)."),
    blend_with: Optional[str] = typer.Option(None, "--blend-with", help="The checkpoint --checkpoint was fine-tuned from "
                                             "('builtin' for the shipped model): its weights are averaged in (WiSE-FT)."),
    blend: float = typer.Option(0.5, "--blend", min=0.0, max=1.0, help="With --blend-with: the share of --checkpoint's weights."),
) -> None:
    """Drop the optimiser and RNG state: the file loads with weights_only and predicts like the checkpoint."""
    from cranial_sct.io.output_paths import check_output_file
    from cranial_sct.training.checkpoint import export_for_inference

    check_output_file(out)
    typer.echo(f"wrote {export_for_inference(checkpoint, out, recipe, blend_with, blend)}")
