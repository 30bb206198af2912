"""``cranial-sct evaluate`` as a user runs it: real files in, CSV/JSON out, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.evaluation.study import write_study


def test_evaluate_writes_csv_and_json(cli, tmp_path: Path) -> None:
    pred, ref = write_study(tmp_path, {"cascade": 20.0, "direct": 60.0}, subjects=2, fields=("7",))
    result = cli("evaluate", "--pred", pred, "--ref", ref, "--out", tmp_path / "eval", "--preset", "synthrad2025", "--mu-map")
    assert result.returncode == 0, result.stderr
    assert "cascade" in result.stdout and "MAE" in result.stdout
    with open(tmp_path / "eval" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {"ms_ssim", "mu_rel_error_pct", "hd95_mm", "mae_bone"} <= set(rows[0])
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["preset"] == "synthrad2025" and summary["n_cases"] == 4
    assert not list((tmp_path / "eval").glob(".partial-*"))


def test_evaluate_bad_input_is_one_line_error(cli, tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    result = cli("evaluate", "--pred", tmp_path / "pred", "--ref", tmp_path, "--out", tmp_path / "eval")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --pred") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "eval").exists()
