"""``cranial-sct benchmark`` end to end on a minute-sized protocol: every stage runs, a rerun skips them all."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from cranial_sct.cli import main

# Coarse phantom (8 mm), 1 training subject, 2 test subjects at 1.5 and 7 T, fine-tuning on 1 subject, 2 seeds.
TINY = [
    "--set", "spacing_mm=8", "--set", "train_subjects=1", "--set", "test_subjects=2", "--set", "transfer_k=[0,1]",
    "--set", "test_fields=['1.5','7']", "--set", "input_sets=[t1w+flair]", "--set", "methods=[cascade,bulk-density]",
    "--set", "train_seeds=[3,4]", "--set", "steps=2", "--set", "finetune_steps=1", "--set", "train=['model.features=[4,8,16]','sampling.patch_size=[16,16,16]']",
]


@pytest.mark.slow
def test_benchmark_runs_every_stage_and_a_rerun_skips_them(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    out = tmp_path / "bench"
    result = cli("benchmark", "--out", out, "--seed", "3", *TINY)
    assert result.returncode == 0, result.stderr
    # accuracy.md: 2 subjects x 2 seeds per network method, bulk density fitted once
    assert "| 7 | cascade-resunet-ft1 | 2 | 2 |" in result.stdout and "| 7 | bulk-density | 2 | 1 |" in result.stdout
    assert f"report: {out / 'report.html'}" in result.stdout
    with open(out / "evaluation" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cases = {(row["method"], row["field_T"]) for row in rows}
    seeded = {(f"cascade-resunet-seed{s}{ft}", f) for s in (3, 4) for ft, f in (("", "1.5"), ("", "7"), ("-ft1", "7"))}
    assert cases == seeded | {("bulk-density", "1.5"), ("bulk-density", "7"), ("bulk-density-ft1", "7")}
    assert len(rows) == 2 * len(cases) and {row["subject"] for row in rows} == {"sub-001", "sub-002"}
    assert "seed: 3" in (out / "benchmark.yaml").read_text() and "<html" in (out / "report.html").read_text()

    checkpoints = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/checkpoints/last.pt")}
    predictions = {p: p.stat().st_mtime_ns for p in out.glob("predictions/*/*/sct_*.nii.gz")}
    monkeypatch.setattr(sys, "argv", ["cranial-sct", "benchmark", "--out", str(out), "--seed", "3", *TINY])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert all(p.stat().st_mtime_ns == t for p, t in {**checkpoints, **predictions}.items())

    monkeypatch.setattr(sys, "argv", ["cranial-sct", "benchmark", "--out", str(out), "--seed", "4", *TINY])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2 and "holds a benchmark with another config" in capsys.readouterr().err
