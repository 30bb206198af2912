"""``evaluate`` on real NIfTI files: both folder layouts, known results, outputs, clear errors."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.evaluation.evaluate import evaluate, find_predictions
from cranial_sct.io.nifti import read_nifti, write_nifti
from cranial_sct.io.volume import Volume
from tests.evaluation.study import AFFINE, write_predictions, write_study


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_study(tmp_path_factory.mktemp("study"), {"perfect": 0.0, "noisy": 40.0})


def test_nested_layout_rows_summary_and_files(study: tuple[Path, Path], tmp_path: Path) -> None:
    pred, ref = study
    rows, summary = evaluate(pred, ref, out_dir=tmp_path, progress=False)
    assert len(rows) == 2 * 3 * 2  # methods x subjects x fields
    perfect = [row for row in rows if row["method"] == "perfect"]
    assert all(row["mae"] == 0 and row["dice"] == 1 and row["hd95_mm"] == 0 and row["psnr"] == math.inf for row in perfect)
    noisy = [row for row in rows if row["method"] == "noisy"]
    assert all(row["mae_bone"] > row["mae_soft"] > 0 and row["me"] < 0 for row in noisy)  # bone underestimated
    assert all(row["skull_source"] == "skull file" for row in rows)
    assert {(g["method"], g["field_T"]) for g in summary["by_method_field"]} == {(m, f) for m in ("noisy", "perfect") for f in ("1.5", "7")}
    assert {t["n_pairs"] for t in summary["paired_by_field"] if t["metric"] == "mae"} == {3}
    with open(tmp_path / "metrics.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["preset"] == "synthrad2023" and written["versions"]["numpy"] == np.__version__
    perfect_7t = next(g for g in written["by_method_field"] if (g["method"], g["field_T"]) == ("perfect", "7"))
    assert perfect_7t["psnr"]["n"] == 0 and perfect_7t["psnr"]["mean"] is None  # infinite PSNR: no finite value


def test_flat_single_method_folder_and_thresholded_skull(tmp_path: Path, study: tuple[Path, Path]) -> None:
    _, ref = study
    flat = tmp_path / "my-method"
    write_predictions(flat, ["sub-00", "sub-01"], ("7",), error_hu=20.0, skull=False)
    rows, _ = evaluate(flat, ref, preset="synthrad2025", progress=False)
    assert [(row["method"], row["subject"], row["field_T"]) for row in rows] == [("my-method", "sub-00", "7"), ("my-method", "sub-01", "7")]
    assert all(row["skull_source"] == "sct>300HU" and 0 < row["ms_ssim"] < 1 for row in rows)


def test_field_and_contrast_parsed_from_file_names(tmp_path: Path) -> None:
    (tmp_path / "m" / "s").mkdir(parents=True)
    for name in ("sct_0.064T_t1w+flair.nii.gz", "skull_0.064T_t1w+flair.nii.gz", "notes.txt"):
        (tmp_path / "m" / "s" / name).touch()
    (case,) = find_predictions(tmp_path)
    assert (case.method, case.subject, case.field_T, case.contrast) == ("m", "s", "0.064", "t1w+flair")
    assert case.skull_path is not None and case.skull_path.name == "skull_0.064T_t1w+flair.nii.gz"


def test_empty_prediction_folder_is_a_clear_error(tmp_path: Path, study: tuple[Path, Path]) -> None:
    (tmp_path / "empty" / "sub-00").mkdir(parents=True)
    with pytest.raises(InputError, match="no sct_<field>T_<contrast>.nii.gz files"):
        evaluate(tmp_path / "empty", study[1], progress=False)


def test_prediction_on_another_grid_is_refused(tmp_path: Path, study: tuple[Path, Path]) -> None:
    pred, ref = study
    bad = tmp_path / "pred" / "m" / "sub-00"
    bad.mkdir(parents=True)
    sct = read_nifti(pred / "perfect" / "sub-00" / "sct_7T_t1w.nii.gz")
    shifted = AFFINE.copy()
    shifted[0, 3] += 0.6  # half a voxel off
    write_nifti(Volume(sct.array, shifted), bad / "sct_7T_t1w.nii.gz")
    with pytest.raises(InputError, match=r"sct_7T_t1w.nii.gz: grid .* differs from the reference"):
        evaluate(tmp_path / "pred", ref, progress=False)


def test_reference_without_bone_is_refused(tmp_path: Path, study: tuple[Path, Path]) -> None:
    pred, ref = study
    boneless = tmp_path / "ref"
    shutil.copytree(ref, boneless)
    ct = read_nifti(boneless / "sub-00" / "ct.nii.gz")
    write_nifti(Volume(np.minimum(ct.array, 100).astype(np.int16), ct.affine), boneless / "sub-00" / "ct.nii.gz")
    with pytest.raises(InputError, match=r"ct.nii.gz: no voxels above 300 HU"):
        evaluate(pred, boneless, progress=False)


def test_subject_missing_from_reference_is_named(tmp_path: Path, study: tuple[Path, Path]) -> None:
    pred, _ = study
    write_study(tmp_path, {}, subjects=1)
    with pytest.raises(InputError, match="subject 'sub-01'"):
        evaluate(pred, tmp_path / "ref", progress=False)


def test_unknown_preset_is_refused(study: tuple[Path, Path]) -> None:
    with pytest.raises(InputError, match="--preset synthrad2099"):
        evaluate(*study, preset="synthrad2099", progress=False)


def test_empty_skull_file_scores_zero_overlap(tmp_path: Path, study: tuple[Path, Path]) -> None:
    _, ref = study
    write_predictions(tmp_path / "m", ["sub-00"], ("7",), error_hu=20.0)
    skull = tmp_path / "m" / "sub-00" / "skull_7T_t1w.nii.gz"
    write_nifti(Volume(np.zeros(read_nifti(skull).shape, np.uint8), AFFINE), skull)
    (row,) = evaluate(tmp_path / "m", ref, progress=False)[0]
    assert row["dice"] == 0.0 and row["jaccard"] == 0.0 and math.isnan(row["hd95_mm"])


def test_an_uncertainty_map_is_scored_by_its_rank_correlation_with_the_error(tmp_path: Path, study: tuple[Path, Path]) -> None:
    """An uncertainty equal to the absolute error ranks it perfectly (rho 1); without a map rho is NaN."""
    pred, ref = study
    shutil.copytree(pred / "noisy", tmp_path / "pred" / "noisy")
    case = tmp_path / "pred" / "noisy" / "sub-00"
    sct = read_nifti(case / "sct_1.5T_t1w.nii.gz")
    ct = read_nifti(ref / "sub-00" / "ct.nii.gz")
    write_nifti(Volume(np.abs(sct.array.astype(np.float32) - ct.array), AFFINE), case / "uncertainty_1.5T_t1w.nii.gz")
    rows, summary = evaluate(tmp_path / "pred", ref, progress=False)
    scored = {(r["subject"], r["field_T"]): r["uncertainty_spearman"] for r in rows}
    assert scored[("sub-00", "1.5")] == pytest.approx(1.0)
    assert math.isnan(scored[("sub-01", "1.5")])
    assert "uncertainty_spearman" in summary["metrics"]


def test_evaluation_resumes_case_by_case(tmp_path: Path, study: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are written as cases finish; a rerun measures only what changed."""
    pred, ref = study
    shutil.copytree(pred, tmp_path / "pred")
    first, _ = evaluate(tmp_path / "pred", ref, out_dir=tmp_path / "eval", progress=False)
    assert len(list((tmp_path / "eval" / "cases").rglob("*.json"))) == len(first)
    measured = []
    import cranial_sct.evaluation.evaluate as evaluate_module

    real = evaluate_module._measure
    monkeypatch.setattr(evaluate_module, "_measure", lambda case, *args: measured.append(case.sct_path.name) or real(case, *args))
    again, _ = evaluate(tmp_path / "pred", ref, out_dir=tmp_path / "eval", progress=False)
    assert measured == [] and [r["mae"] for r in again] == pytest.approx([r["mae"] for r in first])
    changed = tmp_path / "pred" / "noisy" / "sub-01" / "sct_7T_t1w.nii.gz"
    sct = read_nifti(changed)
    write_nifti(sct.with_array(sct.array + 5), changed)
    evaluate(tmp_path / "pred", ref, out_dir=tmp_path / "eval", progress=False)
    assert measured == ["sct_7T_t1w.nii.gz"]
