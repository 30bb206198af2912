import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.validate import check_ct_in_hu, check_extent, check_pair_order, guess_modality
from cranial_sct.io.volume import Volume
from tests.heads import head_volumes


@pytest.fixture(scope="module")
def pair():
    return head_volumes(8.0)


def test_modality_is_guessed_from_intensities(pair):
    mr, ct = pair
    assert guess_modality(mr.array) == "mr"
    assert guess_modality(ct.array) == "ct"
    assert guess_modality(mr.array - 300) == "unknown"


def test_ct_in_hu_passes_and_8bit_ct_is_named(pair):
    _, ct = pair
    check_ct_in_hu(ct, "ct.nii.gz")
    eight_bit = ct.with_array(np.rint((ct.array + 1000) / 2200 * 255).astype(np.uint8))
    with pytest.raises(InputError, match=r"ct.nii.gz: CT values span 0..\d+, not Hounsfield units"):
        check_ct_in_hu(eight_bit, "ct.nii.gz")


def test_swapped_mr_and_ct_are_detected(pair):
    mr, ct = pair
    check_pair_order(mr, "mr.nii.gz", ct, "ct.nii.gz")
    with pytest.raises(InputError, match="ct.nii.gz looks like a CT .* mr.nii.gz like an MR; they seem swapped"):
        check_pair_order(ct, "ct.nii.gz", mr, "mr.nii.gz")


def test_an_mr_to_predict_needs_8_voxels_per_axis(pair):
    mr, _ = pair
    check_extent(mr, "mr.nii.gz")
    with pytest.raises(InputError, match=r"mr.nii.gz: \d+ x \d+ x 7 voxels; at least 8 per axis"):
        check_extent(Volume(mr.array[:, :, :7], mr.affine), "mr.nii.gz")
