"""``cranial-sct benchmark``: a thin wrapper over :func:`cranial_sct.benchmark.run_benchmark`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app


@app.command("benchmark")
def benchmark_command(
    out: Path = typer.Option(Path("benchmark"), "--out", help="Run folder (rerun the same command to continue a stopped run)."),
    preset: str = typer.Option("quick", "--preset", help="quick (4-mm phantom, T1w+FLAIR, about 3 minutes on 2 CPU cores: make demo's), standard (2-mm phantom, seeds; 60 minutes on 2 cores) or full (the paper's cohort sizes, every backbone, GPU)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML with benchmark settings, e.g. a previous run's benchmark.yaml."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting, e.g. --set test_subjects=10 (repeatable)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Use this cohort (manifest.csv) instead of simulating one."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for the cohort and every training run."),
) -> None:
    """The paper's protocol: train at 1.5 T, test at 1.5/3/7/0.064 T, fine-tune on k target subjects; evaluate and report."""
    from cranial_sct.benchmark import load_benchmark_config, run_benchmark
    from cranial_sct.io.output_paths import check_output_folder

    check_output_folder(out, [data] if data else [])
    settings = load_benchmark_config(preset, config, [*overrides, *([f"seed={seed}"] if seed is not None else [])])
    report = run_benchmark(settings, out, data)
    typer.echo((out / "accuracy.md").read_text())
    typer.echo(f"report: {report}")
