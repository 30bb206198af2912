"""The HTML report: one self-contained file with the tables, embedded figures and settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cranial_sct.errors import InputError
from cranial_sct.evaluation.evaluate import evaluate
from cranial_sct.evaluation.report import write_report
from tests.evaluation.study import write_study


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    pred, ref = write_study(root, {"cascade": 20.0, "direct": 60.0, "bulk-density": 90.0, "cascade-ft2": 15.0}, subjects=3, fields=("1.5", "7"))
    evaluate(pred, ref, out_dir=root / "eval", progress=False)
    return root


def test_report_is_self_contained_with_tables_figures_and_versions(evaluated: Path) -> None:
    config = evaluated / "run.yaml"
    config.write_text("seed: 7\nbackbone: resunet\n")
    path = write_report(evaluated / "eval", evaluated / "out" / "report.html", config_files=[config])
    page = path.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2 + 2  # field plot, box plots + one panel figure per field strength
    assert all(image.startswith("iVBORw0KGgo") for image in images)  # PNG signature
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing loaded from outside the file
    assert page.count("<table>") >= 5 and "Skull Dice" in page and "Bone MAE (HU)" in page
    assert "cascade vs direct" in page and "(p = " in page
    assert "seed: 7" in page and "scikit-image" in page


def test_report_leads_with_the_cascade_against_its_baselines(evaluated: Path) -> None:
    page = write_report(evaluated / "eval", evaluated / "lead.html").read_text()
    sections = re.findall(r"<h2>([^<]+)</h2>", page)
    assert sections[:3] == ["Does the cascade hold across field strengths?", "Fine-tuned at the target field", "Distributions"]
    headline = page[page.index("<h2>Does the cascade") : page.index("<h2>Fine-tuned")]
    # three methods per field, fine-tuned ones elsewhere; each baseline row carries cascade's paired difference
    assert headline.count("<tr") == 1 + 2 * 3 and "cascade-ft2" not in headline
    assert headline.count("cascade − this:") == 2 * 2 * 3  # (direct, bulk-density) x fields x metrics
    assert re.search(r"cascade</td><td class=\"\">3</td><td class=\"best\">2\d\.\d \[\d+\.\d, \d+\.\d\]", headline)  # head MAE, CI
    assert "headline" in headline and headline.count("data:image/png") == 1  # the plot under the table
    assert page.index("<summary>Paired comparisons of every pair") > page.index("<h2>Details</h2>")


def test_report_without_image_folders_explains_missing_panels(evaluated: Path, tmp_path: Path) -> None:
    page = write_report(evaluated / "eval", tmp_path / "r.html", pred_dir=tmp_path / "gone").read_text()
    assert "pass --pred and --ref for image panels" in page
    assert page.count("data:image/png;base64,") == 2  # the field plot and the box plots, no panels


def test_report_refuses_missing_evaluation_and_unknown_method(evaluated: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no metrics.csv"):
        write_report(tmp_path, tmp_path / "r.html")
    with pytest.raises(InputError, match="--panel-method nope"):
        write_report(evaluated / "eval", tmp_path / "r.html", panel_method="nope")
    assert not (tmp_path / "r.html").exists()
