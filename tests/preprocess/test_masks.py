import numpy as np
import pytest
from scipy import ndimage

from cranial_sct.preprocess.masks import head_mask, mr_head_mask
from tests.heads import head_volumes


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


@pytest.fixture(scope="module")
def pair():
    return head_volumes(4.0)


def test_head_mask_of_ct_and_mr_agree_with_the_head(pair):
    mr, ct = pair
    truth = ndimage.binary_fill_holes(ct.array > -500)  # the sinus is air, but inside the head
    assert dice(head_mask(ct.array), truth) > 0.97
    assert dice(head_mask(mr.array), truth) > 0.93  # MR edges sit about half a 4-mm voxel off


def test_holes_are_filled_and_specks_dropped(pair):
    _, ct = pair
    array = ct.array.astype(np.float32).copy()
    array[2, 2, 2] = 1000  # a bright speck in the air
    mask = head_mask(array)
    assert not mask[2, 2, 2]
    centre = tuple(n // 2 for n in array.shape)
    array[centre] = -1000  # an air pocket inside the head
    assert head_mask(array)[centre]


def test_blank_image_gives_empty_mask():
    assert not head_mask(np.zeros((5, 5, 5))).any()


def test_mr_head_mask_survives_7t_b1_dropout_and_dark_flair_scalp():
    from cranial_sct.phantom import simulate_subject

    subject = simulate_subject(1, [7.0], ["flair"], 4.0)
    truth = subject.mask.array > 0
    mr = subject.mr[(7.0, "flair")].array
    assert dice(mr_head_mask(mr), truth) > 0.9
    assert dice(head_mask(mr), truth) < dice(mr_head_mask(mr), truth)  # why MR gets its own mask
