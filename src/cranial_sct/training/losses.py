"""Training losses: Dice + cross-entropy for stage 1, bone-weighted L1 of HU over the head for the sCT.

The composed sCT reaches the bone head only through ``p_bone``: where stage 1 is unsure, the bone
head gets little gradient. ``head_l1`` adds each head's own L1 on the voxels of its tissue, so the
bone head learns bone densities wherever the reference has bone, whatever stage 1 says.
``boundary_weight`` makes stage 1's cross-entropy weigh the voxels on either side of the bone surface
more: that is where a skull is missed or thickened, and where a cascade's bone MAE is lost.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from torch import nn

from cranial_sct.hounsfield import BONE, SOFT
from cranial_sct.training.config import LossConfig


def weighted_hu_l1(hu: torch.Tensor, ct: torch.Tensor, mask: torch.Tensor, bone: torch.Tensor, bone_extra: float) -> torch.Tensor:
    """Mean |hu - ct| over the head, bone voxels weighing ``1 + bone_extra`` ("anatomically targeted")."""
    weight = mask * (1.0 + bone_extra * bone)
    return (weight * (hu - ct).abs()).sum() / weight.sum().clamp_min(1.0)


def bone_boundary(bone: torch.Tensor) -> torch.Tensor:
    """Voxels within one voxel of the bone surface, inside or outside: dilated minus eroded (3x3x3) bone."""
    dilated = F.max_pool3d(bone, 3, stride=1, padding=1)
    eroded = -F.max_pool3d(-bone, 3, stride=1, padding=1)
    return dilated - eroded


class SCTLoss(nn.Module):
    """Sum of the configured terms; ``forward`` also returns each term for logging."""

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.config = config
        self.dice = DiceLoss(to_onehot_y=True, softmax=True)

    def segmentation(self, logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Dice + cross-entropy (as MONAI's DiceCELoss), the cross-entropy weighted on the bone surface."""
        weight = 1.0 + self.config.boundary_weight * bone_boundary((classes == BONE).float())
        ce = F.cross_entropy(logits, classes[:, 0].long(), reduction="none")
        return self.config.dice * self.dice(logits, classes) + self.config.cross_entropy * (weight[:, 0] * ce).sum() / weight.sum()

    def forward(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], segmentation: bool = True, hu: bool = True
    ) -> tuple[torch.Tensor, dict[str, float]]:
        terms = {}
        if segmentation and "seg_logits" in outputs:
            terms["seg"] = self.segmentation(outputs["seg_logits"].float(), batch["classes"])
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
