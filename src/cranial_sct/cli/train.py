"""``cranial-sct train``: a thin wrapper over :func:`cranial_sct.training.trainer.train`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app


@app.command("train")
def train_command(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML run config (see configs/)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a config key, e.g. --set train.steps=500 (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in run_dir exactly from its last checkpoint."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Deterministic algorithms, for repeatable runs."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this checkpoint's weights (transfer)."),
    freeze_encoder: bool = typer.Option(False, "--freeze-encoder", help="With --init-from: train decoders and heads only."),
) -> None:
    """Train a cascade or baseline model (any backbone) on a dataset manifest; torchrun for several GPUs."""
    from cranial_sct.training.config import load_config, validate
    from cranial_sct.training.trainer import train

    run_config = load_config(config, overrides)
    run_config.deterministic |= deterministic
    run_config.freeze_encoder |= freeze_encoder
    if init_from is not None:
        run_config.init_from = str(init_from)
    validate(run_config)
    typer.echo(f"run written to {train(run_config, resume=resume)}")
