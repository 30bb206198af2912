"""Training losses: Dice + cross-entropy for stage 1, bone-weighted L1 of HU over the head for the sCT.

The composed sCT reaches the bone head only through ``p_bone``: where stage 1 is unsure, the bone
head gets little gradient. ``head_l1`` adds each head's own L1 on the voxels of its tissue, so the
bone head learns bone densities wherever the reference has bone, whatever stage 1 says.
"""

from __future__ import annotations

import torch
from monai.losses import DiceCELoss
from torch import nn

from cranial_sct.hounsfield import BONE, SOFT
from cranial_sct.training.config import LossConfig


def weighted_hu_l1(hu: torch.Tensor, ct: torch.Tensor, mask: torch.Tensor, bone: torch.Tensor, bone_extra: float) -> torch.Tensor:
    """Mean |hu - ct| over the head, bone voxels weighing ``1 + bone_extra`` ("anatomically targeted")."""
    weight = mask * (1.0 + bone_extra * bone)
    return (weight * (hu - ct).abs()).sum() / weight.sum().clamp_min(1.0)


class SCTLoss(nn.Module):
    """Sum of the configured terms; ``forward`` also returns each term for logging."""

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.config = config
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=config.dice, lambda_ce=config.cross_entropy)

    def forward(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], segmentation: bool = True, hu: bool = True
    ) -> tuple[torch.Tensor, dict[str, float]]:
        terms = {}
        if segmentation and "seg_logits" in outputs:
            terms["seg"] = self.dice_ce(outputs["seg_logits"].float(), batch["classes"])
        if hu:
            bone = (batch["classes"] == BONE).float()
            l1 = weighted_hu_l1(outputs["hu"].float(), batch["ct"], batch["mask"], bone, self.config.bone_extra_weight)
            terms["hu"] = self.config.hu_l1 * l1 / self.config.hu_scale
            if self.config.head_l1 and "hu_bone" in outputs:
                soft = (batch["classes"] == SOFT).float()
                heads = weighted_hu_l1(outputs["hu_bone"], batch["ct"], batch["mask"] * bone, bone, 0.0) + \
                    weighted_hu_l1(outputs["hu_soft"], batch["ct"], batch["mask"] * soft, soft, 0.0)
                terms["heads"] = self.config.head_l1 * heads / self.config.hu_scale
        total = sum(terms.values())
        return total, {name: float(value.detach()) for name, value in terms.items()}
