"""``cranial-sct demo``: a real simulated head, the built-in model's prediction and the page that shows them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cranial_sct.demo import write_page
from cranial_sct.evaluation.evaluate import evaluate
from cranial_sct.io import read_volume
from tests.evaluation.study import write_study


@pytest.mark.slow
def test_demo_predicts_a_head_and_writes_its_page(cli, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = cli("demo", "--out", out, "--no-benchmark", "--spacing", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    page = out / "index.html"
    assert f"demo page: {page.resolve()}" in result.stdout
    assert read_volume(out / "head-sct" / "sct.nii.gz").same_grid(read_volume(out / "head" / "sub-000" / "mr_1.5T_t1w.nii.gz"))
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 1 and "cross-field benchmark is running" in text
    mae = float(re.search(r"head MAE \(HU\)</td><td>([\d.]+)<", text)[1])
    dice = float(re.search(r"skull Dice</td><td>([\d.]+)<", text)[1])
    assert 20 < mae < 250 and 0.3 < dice <= 1.0  # the built-in model on a coarse unseen phantom head
    rerun = cli("demo", "--out", out, "--no-benchmark", "--spacing", "4")  # everything reused
    assert rerun.returncode == 0 and "simulate" not in rerun.stderr


def test_the_page_leads_with_the_benchmarks_answer_and_links_its_report(tmp_path: Path) -> None:
    pred, ref = write_study(tmp_path / "study", {"cascade": 20.0, "direct": 60.0, "bulk-density": 90.0}, subjects=2, fields=("1.5", "7"))
    evaluate(pred, ref, out_dir=tmp_path / "benchmark" / "evaluation", progress=False)
    text = write_page(tmp_path, "<h2>head</h2>", tmp_path / "benchmark" / "report.html").read_text()
    assert 'href="benchmark/report.html"' in text and "<h2>head</h2>" in text
    assert "Does the cascade hold across field strengths?" in text and "cascade − this:" in text
    assert text.count("data:image/png;base64,") == 1  # the metric-vs-field plot
