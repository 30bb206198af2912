from pathlib import Path

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR, BONE, SOFT
from cranial_sct.io.manifest import MANIFEST_NAME, read_manifest, write_manifest
from cranial_sct.io.nifti import read_nifti, write_nifti
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.plan import InputPlan
from cranial_sct.training.config import DataConfig
from cranial_sct.training.dataset import intensity_statistics, load_cases, split_subjects, stage1_classes

TOY_PLAN = InputPlan(spacing_mm=[4.0, 4.0, 4.0])  # the toy cohort's own voxel size


def test_stage1_classes_follow_ct_thresholds_inside_the_head() -> None:
    ct = np.array([-1000.0, -500.0, -300.0, 40.0, 300.0, 301.0, 1500.0])
    mask = np.array([1, 1, 1, 1, 1, 1, 0])
    assert stage1_classes(ct, mask, DataConfig()).tolist() == [AIR, AIR, SOFT, SOFT, SOFT, BONE, AIR]


def test_cases_have_channels_in_model_order_and_zeros_for_absent_contrasts(toy_cohort: Path) -> None:
    config = DataConfig(root=str(toy_cohort))
    cases = load_cases(config, TOY_PLAN, ["t2w", "t1w"], ["sub-00"], [])
    assert [c.field_T for c in cases] == ["1.5", "3"]
    case = cases[0]
    assert case.present == ["t1w"] and case.mr.shape[0] == 2 and case.mr.shape[1:] == case.ct.shape and not case.mr[0].any()
    assert case.condition().tolist()[2:] == [1.0, 0.0, 0.0, 0.0]
    head = case.mr[1][case.mask > 0]
    assert np.percentile(head, 0.5) == pytest.approx(0.0, abs=1e-5) and np.percentile(head, 99.5) == pytest.approx(1.0, abs=1e-5)
    stats = intensity_statistics(cases, ["t2w", "t1w"])
    assert stats["fields_seen"] == ["1.5", "3"] and stats["contrasts_seen"] == ["t1w"] and "t2w" not in stats


def test_split_holds_out_the_last_subjects(toy_cohort: Path) -> None:
    assert split_subjects(DataConfig(root=str(toy_cohort))) == (["sub-00"], ["sub-01"])
    assert split_subjects(DataConfig(root=str(toy_cohort), val_count=0)) == (["sub-00", "sub-01"], [])
    with pytest.raises(InputError, match="in both"):
        split_subjects(DataConfig(root=str(toy_cohort), train_subjects=["sub-00"], val_subjects=["sub-00"]))


def test_mr_off_the_ct_grid_is_refused(toy_cohort: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    rows = read_manifest(toy_cohort / MANIFEST_NAME)
    for row in rows:
        volume = read_nifti(toy_cohort / row.path)
        if row.modality == "mr":  # shifted by half a voxel: same shape, another grid
            volume = Volume(volume.array, volume.affine.copy(), {})
            volume.affine[0, 3] += 2.0
        (root / row.path).parent.mkdir(parents=True, exist_ok=True)
        write_nifti(volume, root / row.path)
    write_manifest(rows, root / MANIFEST_NAME)
    with pytest.raises(InputError, match="not on the same voxel grid"):
        load_cases(DataConfig(root=str(root)), TOY_PLAN, ["t1w"], ["sub-00"], [])


def test_a_cohort_preprocessed_with_n4_gives_a_plan_with_n4_applied_alike_in_training_and_predict(
    toy_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``preprocess`` N4-corrected the MR: the plan records N4, so ``predict`` applies it, and training
    goes through the very same step."""
    import json
    import shutil

    from cranial_sct.preprocess import plan as plan_module
    from cranial_sct.training.config import load_config
    from cranial_sct.training.trainer import build_input_plan

    root = tmp_path / "preprocessed"
    shutil.copytree(toy_cohort, root)
    for subject in ("sub-00", "sub-01"):
        (root / subject / "case.json").write_text(json.dumps({"options": {"n4": True}}))
    config = load_config(None, [f"data.root={root}"])
    plan = build_input_plan(config, "sub-00")
    assert plan.n4 and plan.spacing_mm == [4.0, 4.0, 4.0]
    calls = []
    monkeypatch.setattr(plan_module, "n4_correct", lambda volume, mask: calls.append(1) or volume)
    load_cases(config.data, plan, ["t1w"], ["sub-00"], ["1.5"])
    assert calls == [1]
    plan_module.prepare(plan, {"t1w": read_nifti(root / "sub-00" / "mr_1.5T_t1w.nii.gz")})
    assert calls == [1, 1]
    assert not build_input_plan(load_config(None, [f"data.root={toy_cohort}"]), "sub-00").n4
