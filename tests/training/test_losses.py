import torch

from cranial_sct.training.config import LossConfig
from cranial_sct.training.losses import SCTLoss, weighted_hu_l1


def test_bone_weighted_l1_matches_hand_computation() -> None:
    hu = torch.tensor([0.0, 100.0, 1000.0, 5.0])
    ct = torch.tensor([10.0, 100.0, 1300.0, -1000.0])
    mask = torch.tensor([1.0, 1.0, 1.0, 0.0])  # the last voxel is outside the head: ignored
    bone = torch.tensor([0.0, 0.0, 1.0, 0.0])
    # weights 1, 1, 3 -> (10 + 0 + 3 * 300) / 5
    assert weighted_hu_l1(hu, ct, mask, bone, bone_extra=2.0).item() == 182.0


def test_stage_terms_can_be_switched_off() -> None:
    torch.manual_seed(0)
    batch = {"classes": torch.randint(0, 3, (1, 1, 4, 4, 4)), "ct": torch.zeros(1, 1, 4, 4, 4), "mask": torch.ones(1, 1, 4, 4, 4)}
    outputs = {"seg_logits": torch.randn(1, 3, 4, 4, 4), "hu": torch.full((1, 1, 4, 4, 4), 500.0)}
    loss = SCTLoss(LossConfig(bone_extra_weight=0.0))
    total, terms = loss(outputs, batch)
    assert set(terms) == {"seg", "hu"} and terms["hu"] == 0.5
    assert total.item() == terms["seg"] + terms["hu"]
    assert set(loss(outputs, batch, segmentation=False)[1]) == {"hu"}
    assert set(loss(outputs, batch, hu=False)[1]) == {"seg"}


def test_head_terms_score_each_head_on_its_own_tissue() -> None:
    """The bone head is scored on bone voxels even where the composed sCT (the mixture) says otherwise."""
    classes = torch.tensor([0, 1, 2, 2]).view(1, 1, 4, 1, 1)
    ct = torch.tensor([-1000.0, 40.0, 1200.0, 800.0]).view(1, 1, 4, 1, 1)
    outputs = {"hu": ct.clone(), "hu_soft": torch.full_like(ct, 20.0), "hu_bone": torch.full_like(ct, 1000.0)}
    batch = {"classes": classes, "ct": ct, "mask": torch.ones_like(ct)}
    _, terms = SCTLoss(LossConfig(head_l1=1.0, hu_scale=1.0))(outputs, batch, segmentation=False)
    # bone head: (200 + 200) / 2 on the two bone voxels; soft head: 20 on the one soft voxel
    assert terms["hu"] == 0.0 and terms["heads"] == 200.0 + 20.0
    assert "heads" not in SCTLoss(LossConfig())(outputs, batch, segmentation=False)[1]


def test_segmentation_term_is_monai_dice_ce_and_boundary_weights_the_bone_surface() -> None:
    from monai.losses import DiceCELoss

    from cranial_sct.training.losses import bone_boundary

    torch.manual_seed(0)
    logits, classes = torch.randn(2, 3, 6, 6, 6), torch.randint(0, 3, (2, 1, 6, 6, 6))
    plain = SCTLoss(LossConfig()).segmentation(logits, classes)
    torch.testing.assert_close(plain, DiceCELoss(to_onehot_y=True, softmax=True)(logits, classes))
    bone = torch.zeros(1, 1, 7, 7, 7)
    bone[..., 2:5, 2:5, 2:5] = 1.0  # a 3^3 cube: its centre is the only interior voxel off the surface
    band = bone_boundary(bone)
    assert band[0, 0, 3, 3, 3] == 0 and band[0, 0, 2, 2, 2] == 1 and band[0, 0, 1, 1, 1] == 1 and band[0, 0, 0, 0, 0] == 0
    assert band.sum() == 5**3 - 1
    cube = bone.long().expand(2, 1, 7, 7, 7) * 2  # bone surrounded by air: the band is a third of the voxels
    logits = torch.randn(2, 3, 7, 7, 7)
    ce = torch.nn.functional.cross_entropy(logits, cube[:, 0], reduction="none")
    weight = 1.0 + 4.0 * band.expand(2, 1, 7, 7, 7)[:, 0]
    expected = DiceCELoss(to_onehot_y=True, softmax=True, lambda_ce=0.0)(logits, cube) + (weight * ce).sum() / weight.sum()
    torch.testing.assert_close(SCTLoss(LossConfig(boundary_weight=4.0)).segmentation(logits, cube), expected)
