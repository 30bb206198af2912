"""``cranial-sct report`` as a user runs it, after ``cranial-sct evaluate``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.evaluation.study import write_study


@pytest.mark.slow
def test_report_command_writes_html(cli, tmp_path: Path) -> None:
    pred, ref = write_study(tmp_path, {"cascade": 20.0, "direct": 60.0}, subjects=2, fields=("7",))
    assert cli("evaluate", "--pred", pred, "--ref", ref, "--out", tmp_path / "eval").returncode == 0
    result = cli("report", "--eval", tmp_path / "eval", "--out", tmp_path / "report.html")
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "report.html") in result.stdout
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 3  # field plot, box plots, one panel figure


def test_report_command_without_evaluation_is_one_line_error(cli, tmp_path: Path) -> None:
    result = cli("report", "--eval", tmp_path, "--out", tmp_path / "report.html")
    assert result.returncode == 2 and result.stderr.startswith("error: --eval") and len(result.stderr.splitlines()) == 1
