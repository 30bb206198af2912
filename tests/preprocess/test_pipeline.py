import json

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.pipeline import CaseImages, PreprocessOptions, invert_to_input_grid, preprocess_case
from tests.heads import head_volumes, rigid

MOVE = rigid(4, -3, 6, (6, -5, 4))


@pytest.fixture(scope="module")
def paired_case():
    """An oblique LPS MR at 3 mm, misaligned, and a RAS CT at 2.5 mm, prepared at 3 mm."""
    mr, _ = head_volumes(3.0, codes="LPS", angle_deg=15, world_from_head=MOVE)
    _, ct = head_volumes(2.5)
    labels = ct.with_array((ct.array > 500).astype(np.uint8))
    images = CaseImages("s1", {"mr_1.5T_t1w": mr}, ct, labels=labels)
    return mr, preprocess_case(images, PreprocessOptions(spacing_mm=3.0, normalise="percentile"))


def test_prepared_images_share_one_grid_and_types(paired_case):
    _, case = paired_case
    mr = case.mr["mr_1.5T_t1w"]
    assert case.ct.same_grid(case.mask) and mr.same_grid(case.mask) and case.labels.same_grid(case.mask)
    assert case.mask.spacing == pytest.approx((3.0, 3.0, 3.0)) and case.mask.orientation == "RAS"
    assert case.ct.array.dtype == np.int16 and case.ct.array.min() >= -1024 and case.ct.array.max() <= 3071
    assert set(np.unique(case.labels.array)) == {0, 1}
    inside = mr.array[case.mask.array > 0]
    assert np.percentile(inside, 0.5) == pytest.approx(0, abs=1e-3) and np.percentile(inside, 99.5) == pytest.approx(1, abs=1e-3)
    record = json.loads(json.dumps(case.record))
    assert [s["op"] for s in record["images"]["mr_1.5T_t1w"]["steps"]] == ["reorient", "resample", "crop"]
    assert "transform" in record["images"]["mr_1.5T_t1w"]["steps"][1]
    assert record["images"]["mr_1.5T_t1w"]["registration"]["metric"] < 0


def test_ct_goes_back_onto_the_users_mr_grid_aligned(paired_case):
    """The prepared CT, inverted with the MR's record, matches the CT of the moved head on the MR grid."""
    mr, case = paired_case
    back = invert_to_input_grid(case.ct.with_array(case.ct.array.astype(np.float32)), case.record, fill=-1024)
    assert back.same_grid(mr, atol_mm=1e-6)
    _, truth = head_volumes(3.0, codes="LPS", angle_deg=15, world_from_head=MOVE)
    brain = (truth.array > 0) & (truth.array < 100)
    assert np.abs(back.array - truth.array)[brain].mean() < 40  # misregistration by 1 voxel would give ~100+


def test_without_resampling_the_inverse_is_voxel_exact():
    mr, _ = head_volumes(4.0, codes="LPS", angle_deg=25)
    case = preprocess_case(CaseImages("s", {"mr_3T_t2w": mr}), PreprocessOptions(spacing_mm=None, n4=False, normalise=None))
    back = invert_to_input_grid(case.mr["mr_3T_t2w"], case.record, fill=-1)
    assert back.same_grid(mr, atol_mm=1e-9)
    kept = back.array != -1
    assert kept.mean() > 0.5
    np.testing.assert_array_equal(back.array[kept], mr.array[kept])


def test_resampled_prediction_lands_on_the_input_grid():
    mr, _ = head_volumes(4.0, codes="LPS", angle_deg=25)
    case = preprocess_case(CaseImages("s", {"mr_3T_t2w": mr}), PreprocessOptions(spacing_mm=2.0, n4=False, normalise=None))
    assert case.mask.spacing == pytest.approx((2.0, 2.0, 2.0))
    back = invert_to_input_grid(case.mr["mr_3T_t2w"], case.record)
    assert back.same_grid(mr, atol_mm=1e-6)
    head = case.record["images"]["mr_3T_t2w"]["steps"][-1]["op"] == "crop"
    assert head and np.corrcoef(back.array.ravel(), mr.array.ravel())[0, 1] > 0.95


def test_empty_mask_is_refused():
    mr, ct = head_volumes(8.0)
    empty = Volume(np.zeros(ct.shape, np.uint8), ct.affine, {"path": "s/mask.nii.gz"})
    with pytest.raises(InputError, match="s/mask.nii.gz: empty head mask"):
        preprocess_case(CaseImages("s", {"mr_1.5T_t1w": mr}, ct, empty), PreprocessOptions(spacing_mm=None, n4=False))


def test_mr_and_ct_without_overlap_are_refused():
    mr, _ = head_volumes(8.0)
    mr.affine[:3, 3] += [400, 0, 0]  # the MR's field of view is 40 cm away from the CT's
    mr.meta["path"] = "s/mr.nii.gz"
    _, ct = head_volumes(8.0)
    options = PreprocessOptions(spacing_mm=None, registered=True, n4=False)
    with pytest.raises(InputError, match="s/mr.nii.gz: MR and CT do not overlap"):
        preprocess_case(CaseImages("s", {"mr_1.5T_t1w": mr}, ct), options)


def test_mr_blank_inside_the_head_is_refused():
    mr, ct = head_volumes(8.0)
    blank = mr.with_array(np.where(ct.array > -900, 0.0, mr.array + 1).astype(np.float32), path="s/mr.nii.gz")
    options = PreprocessOptions(spacing_mm=None, registered=True, n4=False, normalise="percentile")
    with pytest.raises(InputError, match="s/mr.nii.gz: cannot normalise"):
        preprocess_case(CaseImages("s", {"mr_1.5T_t1w": blank}, ct), options)
