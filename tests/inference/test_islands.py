"""Deep bone islands: found by connectivity and depth, filled with the head's deep tissue, removed by predict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.inference import load_models, predict_volume
from cranial_sct.inference.islands import ISLAND_DEPTH_MM, RIM_MM, deep_islands, fill_with_deep_tissue
from cranial_sct.phantom.subject import PhantomSubject, simulate_subject
from cranial_sct.preprocess.geometry import crop
from cranial_sct.training.checkpoint import BUILTIN
from tests.training.test_builtin_model import UNSEEN_SEED  # a head the built-in model never saw



def ball_head(radius: int = 45) -> tuple[np.ndarray, np.ndarray]:
    """A 1-mm ball head and each voxel's depth under its surface (mm)."""
    grid = np.indices((2 * radius + 11,) * 3) - (radius + 5)
    head = np.sqrt((grid**2).sum(axis=0)) <= radius
    return head, ndimage.distance_transform_edt(head)


def test_only_pieces_lying_wholly_deep_and_unjoined_are_islands() -> None:
    head, depth = ball_head()
    centre = np.array(head.shape) // 2
    skull = (depth > 3) & (depth <= 8)  # the vault
    skull[tuple(slice(c - 3, c + 3) for c in centre)] = True  # a ventricle called bone
    deep_but_joined = (slice(centre[0] - 1, centre[0] + 1), slice(centre[1] + 10, None), slice(centre[2] - 1, centre[2] + 1))
    skull[deep_but_joined] |= depth[deep_but_joined] > 3  # a crest from the vault down to 10 mm from the centre
    shallow = (slice(centre[0] - 2, centre[0] + 2), slice(centre[1] - 2, centre[1] + 2), slice(8, 12))  # unjoined, ~5 mm deep
    skull[shallow] = True
    islands = deep_islands(skull, depth)
    assert islands.sum() == 6**3 and islands[tuple(centre)]
    assert not islands[deep_but_joined].any() and not islands[shallow].any()
    assert not deep_islands(skull, depth, min_depth_mm=head.shape[0]).any() and not deep_islands(np.zeros_like(skull), depth).any()


def test_an_island_takes_the_median_hu_of_the_other_deep_tissue_and_its_rim_is_lowered_to_it() -> None:
    head, depth = ball_head()
    rng = np.random.default_rng(0)
    sct = np.where(head, rng.normal(30.0, 5.0, head.shape), -1000.0).astype(np.float32)
    skull = (depth > 3) & (depth <= 8)
    sct[skull] = 1200.0
    centre = np.array(head.shape) // 2
    islands = np.zeros_like(skull)
    islands[tuple(slice(c - 3, c + 3) for c in centre)] = True
    sct[ndimage.binary_dilation(islands, iterations=2)] = 400.0  # the island and the tissue it tinted
    sct[centre[0] + 4, centre[1], centre[2]] = -1000.0  # air in the rim stays air
    deep = depth > ISLAND_DEPTH_MM
    filled = fill_with_deep_tissue(sct, islands, skull, deep, (1.0, 1.0, 1.0))
    rim = ndimage.binary_dilation(islands, np.ones((3, 3, 3), bool), iterations=round(RIM_MM)) & ~islands  # 1-mm voxels
    expected = np.float32(np.median(sct[deep & ~islands & ~rim]))
    assert abs(expected - 30.0) < 1.0
    np.testing.assert_array_equal(filled[islands], expected)
    np.testing.assert_array_equal(filled[rim], np.minimum(sct[rim], expected))
    assert filled[centre[0] + 4, centre[1], centre[2]] == -1000.0 and (filled[rim] < 400).all()
    np.testing.assert_array_equal(filled[~rim & ~islands], sct[~rim & ~islands])
    x, y, z = centre
    thick_slices = fill_with_deep_tissue(sct, islands, skull, deep, (1.0, 1.0, 4.0))  # the rim is 4 mm on every axis
    fill = thick_slices[x, y, z]  # tinted voxels two beyond the island: lowered in-plane, kept 8 mm away across slices
    assert abs(fill - 30.0) < 1.0 and thick_slices[x, y + 4, z] == fill and thick_slices[x, y, z + 3] == fill and thick_slices[x, y, z + 4] == 400.0


@pytest.fixture(scope="module")
def unseen_head() -> tuple[PhantomSubject, tuple]:
    """A phantom head the built-in model never saw (3 T, T1w, 2 mm), and the built-in model."""
    return simulate_subject(UNSEEN_SEED, [3.0], ["t1w"], 2.0, "unseen"), load_models([BUILTIN])


@pytest.mark.slow
def test_predict_removes_a_vault_pasted_into_the_brain_unless_asked_to_keep_it(unseen_head) -> None:
    """A block of a phantom's vault (scalp, bone, brain) pasted into the middle of its brain: the built-in model
    calls it bone, as phantom-trained models call real ventricles bone. Measured: 130 voxels, 1.27 mL removed."""
    subject, (models, info) = unseen_head
    mr, skull_ct = subject.mr[(3.0, "t1w")], subject.ct.array > BONE_THRESHOLD_HU
    depth = ndimage.distance_transform_edt(subject.mask.array > 0, sampling=mr.spacing)
    x, y, z = np.unravel_index(np.argmax(depth), depth.shape)
    top = int(np.flatnonzero(skull_ct[x, y]).max())
    array = np.array(mr.array, np.float32)
    cube = (slice(x - 6, x + 6), slice(y - 6, y + 6), slice(z - 6, z + 6))
    array[cube] = array[x - 6:x + 6, y - 6:y + 6, top - 10:top + 2]
    pasted = {"t1w": mr.with_array(array)}
    kept = predict_volume(models, info, pasted, 3.0, keep_bone_islands=True)
    removed = predict_volume(models, info, pasted, 3.0)
    called_bone = (kept.skull.array > 0) & ~(removed.skull.array > 0)
    assert called_bone[cube].sum() > 20 and not (removed.skull.array[cube] > 0).any()
    assert removed.details["bone_islands"]["removed_ml"] >= called_bone.sum() * 8 / 1000 - 1e-6 and kept.details["bone_islands"]["removed_ml"] is None
    assert removed.sct.array[called_bone].max() < 100 and (removed.bone_prob.array[called_bone] == 0).all()
    elsewhere = ~ndimage.binary_dilation(called_bone, np.ones((3, 3, 3), bool), iterations=3)
    np.testing.assert_array_equal(removed.sct.array[elsewhere], kept.sct.array[elsewhere])
    np.testing.assert_array_equal(removed.skull.array[elsewhere], kept.skull.array[elsewhere])


def test_a_head_mask_filling_the_field_of_view_keeps_the_skull(unseen_head) -> None:
    """Depth counts the grid's border as outside: a mask of every voxel must not make the whole skull an island
    (it did before the border was counted: 650 mL removed, all of it)."""
    subject, (models, info) = unseen_head
    top = ([0, 0, subject.mask.shape[2] // 2], list(subject.mask.shape))  # the vault reaches the grid's top: half the windows
    mr = {"t1w": crop(subject.mr[(3.0, "t1w")], *top)[0]}
    everywhere = crop(subject.mask, *top)[0].with_array(np.ones(mr["t1w"].shape, np.uint8))
    kept = predict_volume(models, info, mr, 3.0, head_mask=everywhere, keep_bone_islands=True).skull.array > 0
    ruled = predict_volume(models, info, mr, 3.0, head_mask=everywhere).skull.array > 0
    assert kept.sum() > 10_000 and ruled.sum() >= 0.95 * kept.sum() and not (ruled & ~kept).any()
