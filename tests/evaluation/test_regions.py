"""The vault / skull-base split: where its plane lies on hand-made skulls, on any grid orientation, and the scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cranial_sct.evaluation.metrics import regional_scores
from cranial_sct.evaluation.regions import VAULT_SHARE, head_regions, vault_floor_mm, world_height


def test_floor_is_the_share_of_the_skull_height_below_its_top() -> None:
    skull = np.zeros((4, 4, 60), bool)
    skull[1, 1, 10:51] = True  # bone from z = 10 to z = 50 mm (1-mm voxels, origin 0)
    assert vault_floor_mm(skull, np.eye(4)) == pytest.approx(50 - VAULT_SHARE * 40)
    regions = head_regions(skull, np.eye(4))
    assert regions["vault"][1, 1, 33] and not regions["vault"][1, 1, 32]  # floor 32 mm
    assert not (regions["vault"] & regions["base"]).any() and (regions["vault"] | regions["base"]).all()


def test_height_follows_the_affine_not_the_array_axis() -> None:
    """A grid stored inferior-first along axis 0 (as LIA or PIR files are): the vault is at small indices."""
    affine = np.array([[0, 0, 1.0, 0], [0, 1.0, 0, 0], [-2.0, 0, 0, 100.0], [0, 0, 0, 1]])
    assert world_height((3, 1, 1), affine).ravel().tolist() == [100.0, 98.0, 96.0]
    skull = np.zeros((21, 2, 2), bool)
    skull[:, 0, 0] = True  # heights 100 down to 60 mm
    regions = head_regions(skull, affine)
    floor = 100 - VAULT_SHARE * 40
    assert regions["vault"][:, 0, 0].tolist() == [100 - 2 * i > floor for i in range(21)]


def test_regional_scores_by_hand() -> None:
    """Reference bone in rows 0..9 (z in mm): floor at 9 - 0.45 * 9 = 4.95; the prediction misses the vault's
    top row and doubles nothing, and its HU is off by 100 in the base only."""
    bone = np.zeros((1, 1, 10), bool)
    bone[..., :] = True
    ct = np.where(bone, 1000.0, 0.0)
    skull = bone.copy()
    skull[..., 9] = False
    sct = ct.copy()
    sct[..., :5] -= 100.0
    mask = np.ones_like(bone)
    scores = regional_scores(ct, sct, mask, skull, bone, np.eye(4))
    assert scores["dice_vault"] == pytest.approx(2 * 4 / (4 + 5))  # vault rows 5..9: 4 of 5 found
    assert scores["dice_base"] == 1.0 and scores["mae_base"] == 100.0 and scores["mae_vault"] == 0.0
    empty = regional_scores(ct, sct, np.zeros_like(mask), skull, bone, np.eye(4))
    assert math.isnan(empty["mae_vault"]) and math.isnan(empty["mae_base"])
