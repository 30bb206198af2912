"""Air pockets in the brain: found by depth and by the bone around them, filled with the deep tissue by predict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cranial_sct.inference import predict_volume
from cranial_sct.inference.air_pockets import LINING_MM, POCKET_DEPTH_MM, brain_air_pockets
from tests.inference.test_islands import ball_head, unseen_head  # noqa: F401 (fixture)



def head_with_air() -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[slice, ...]]]:
    """A 1-mm ball head (brain 30 HU, vault 1200 HU) holding four air spaces: one in the brain, one as deep but
    walled by bone (a sinus), one just under the vault (too shallow to judge) and an airway from the surface."""
    head, depth = ball_head()
    centre = np.array(head.shape) // 2
    sct = np.where(head, 30.0, -1000.0).astype(np.float32)
    skull = (depth > 3) & (depth <= 8)
    x, y, z = centre
    spaces = {
        "brain": (slice(x - 3, x + 3), slice(y - 3, y + 3), slice(z - 3, z + 3)),
        "sinus": (slice(x - 3, x + 3), slice(y + 12, y + 18), slice(z - 3, z + 3)),
        "shallow": (slice(x - 2, x + 2), slice(y - 2, y + 2), slice(z + 29, z + 33)),  # 12-16 mm deep, 5 mm from the vault
        "airway": (slice(x - 2, x + 2), slice(y - 2, y + 2), slice(0, z - 15)),
    }
    sinus_wall = ndimage.binary_dilation(np.pad(np.ones((6, 6, 6), bool), 2), iterations=2) & ~np.pad(np.ones((6, 6, 6), bool), 2)
    skull[x - 5:x + 5, y + 10:y + 20, z - 5:z + 5] |= sinus_wall
    airway = np.zeros_like(skull)
    airway[spaces["airway"]] = True
    skull &= ~ndimage.binary_dilation(airway, iterations=6)  # the airway passes the vault through a wide hole: no wall
    sct[skull] = 1200.0
    for space in spaces.values():
        sct[space] = -1000.0
        skull[space] = False
    return sct, skull, depth, spaces


def test_only_air_wholly_deep_and_away_from_bone_is_a_pocket() -> None:
    sct, skull, depth, spaces = head_with_air()
    pockets = brain_air_pockets(sct, skull, depth, (1.0, 1.0, 1.0))
    assert pockets[spaces["brain"]].all() and pockets.sum() == 6**3
    assert not any(pockets[spaces[name]].any() for name in ("sinus", "shallow", "airway"))
    assert not pockets[depth == 0].any()  # the air outside the head is never a pocket
    assert not brain_air_pockets(sct, skull, depth, (1.0, 1.0, 1.0), min_depth_mm=depth.max()).any()


def test_a_pocket_within_the_lining_distance_of_bone_is_kept() -> None:
    sct, skull, depth, spaces = head_with_air()
    x, y, z = (s.stop for s in spaces["brain"])
    skull[x + round(LINING_MM) - 1, y - 1, z - 1] = True  # one bone voxel 4 mm from the pocket's corner
    assert not brain_air_pockets(sct, skull, depth, (1.0, 1.0, 1.0))[spaces["brain"]].any()
    skull[x + round(LINING_MM) - 1, y - 1, z - 1] = False
    skull[x + round(LINING_MM) + 1, y - 1, z - 1] = True  # 6 mm away: not a wall
    assert brain_air_pockets(sct, skull, depth, (1.0, 1.0, 1.0))[spaces["brain"]].all()


@pytest.mark.slow
def test_predict_fills_dark_noise_pasted_into_the_brain_unless_asked_to_keep_it(unseen_head) -> None:  # noqa: F811
    """The air outside a phantom head (its MR's background) pasted into the middle of its brain: the built-in model
    calls it air, as it calls some real CSF air. Filled, it reads as the deep tissue; elsewhere nothing changes."""
    subject, (models, info) = unseen_head
    mr = subject.mr[(3.0, "t1w")]
    depth = ndimage.distance_transform_edt(subject.mask.array > 0, sampling=mr.spacing)
    x, y, z = np.unravel_index(np.argmax(depth), depth.shape)
    z += 6  # 12 mm above the deepest point, in the white matter over the ventricles, whose edge the model may call
    # bone: air walled by bone is a sinus, not a pocket
    array = np.array(mr.array, np.float32)
    cube = (slice(x - 5, x + 5), slice(y - 5, y + 5), slice(z - 5, z + 5))
    array[cube] = array[:10, :10, :10]  # a corner of the grid: outside the head
    pasted = {"t1w": mr.with_array(array)}
    kept = predict_volume(models, info, pasted, 3.0, keep_air_pockets=True)
    filled = predict_volume(models, info, pasted, 3.0)
    called_air = (kept.sct.array < -400) & (filled.sct.array >= -400)
    assert called_air[cube].sum() > 50 and (filled.sct.array[cube] > -400).all()
    assert filled.details["air_pockets"]["filled_ml"] >= called_air.sum() * 8 / 1000 - 1e-6 and kept.details["air_pockets"]["filled_ml"] is None
    assert filled.details["air_pockets"]["depth_mm"] == POCKET_DEPTH_MM
    elsewhere = ~ndimage.binary_dilation(called_air, np.ones((3, 3, 3), bool), iterations=3)
    np.testing.assert_array_equal(filled.sct.array[elsewhere], kept.sct.array[elsewhere])
    np.testing.assert_array_equal(filled.skull.array, kept.skull.array)
