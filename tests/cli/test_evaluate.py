"""``cranial-sct evaluate`` as a user runs it: real files in, CSV/JSON out, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

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


@pytest.mark.slow
def test_evaluate_with_tasks_adds_task_figures_tests_and_a_report_section(cli, tmp_path: Path) -> None:
    pred, ref = write_study(tmp_path, {"cascade": 20.0, "direct": 60.0}, subjects=2, fields=("7",))
    table = tmp_path / "rsp.csv"
    table.write_text("hu,rsp\n-1000,0.001\n0,1\n3071,2.5\n")
    result = cli("evaluate", "--pred", pred, "--ref", ref, "--out", tmp_path / "eval", "--task", "proton,pet", "--rsp-table", table)
    assert result.returncode == 0, result.stderr
    assert "proton_wepl_p95_mm" in result.stdout
    with open(tmp_path / "eval" / "metrics.csv", newline="") as handle:
        rows = {(r["method"], r["subject"]): r for r in csv.DictReader(handle)}
    for subject in ("sub-00", "sub-01"):  # the study's sCTs underestimate bone, direct three times more
        cascade, direct = rows[("cascade", subject)], rows[("direct", subject)]
        assert 0 < float(cascade["proton_wepl_worst_mm"]) < float(direct["proton_wepl_worst_mm"])
        assert float(direct["pet_acf_error_mean_pct"]) < float(cascade["pet_acf_error_mean_pct"]) < 0
        assert cascade["pet_bias_cortex_pct"] == "nan"  # no tissue labels in this reference
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["tasks"]["tasks"] == ["proton", "pet"] and summary["tasks"]["rsp_table"][-1] == [3071.0, 2.5]
    assert any(t["metric"] == "proton_wepl_p95_mm" for t in summary["paired_by_field"])
    report = cli("report", "--eval", tmp_path / "eval", "--out", tmp_path / "report.html")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "report.html").read_text()
    assert "Clinical tasks" in page and "|WEPL diff| p95 (mm)" in page and "Task figures against field strength" in page


@pytest.mark.slow
def test_evaluate_with_ultrasound_simulates_through_the_skull(cli, tmp_path: Path) -> None:
    pytest.importorskip("jwave")
    pred, ref = write_study(tmp_path, {"cascade": 40.0}, subjects=1, fields=("7",))
    result = cli("evaluate", "--pred", pred, "--ref", ref, "--out", tmp_path / "eval", "--task", "ultrasound", "--frequency", "0.4")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "eval" / "metrics.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    for target in ("cortical", "deep"):
        assert np.isfinite(float(row[f"us_{target}_pressure_diff_pct"])) and float(row[f"us_{target}_shift_mm"]) >= 0


def test_an_unknown_task_is_one_line_error(cli, tmp_path: Path) -> None:
    result = cli("evaluate", "--pred", tmp_path, "--ref", tmp_path, "--out", tmp_path / "eval", "--task", "dose")
    assert result.returncode == 2 and result.stderr.strip() == "error: --task dose: unknown; choose from proton,pet,ultrasound"
