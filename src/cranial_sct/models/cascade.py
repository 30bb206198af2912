"""The cascaded multitask model (DESIGN.md section 3): skull morphology first, then HU conditioned on it.

Stage 1 maps MR to logits over (air, soft tissue, bone). Stage 2 sees MR plus the stage-1
probabilities and predicts a soft-tissue HU map and a bone HU map. The sCT is composed as

    HU = p_air * HU_AIR + p_soft * HU_soft(x) + p_bone * HU_bone(x)

so bone densities can only appear where stage 1 puts bone: the two tasks are structurally coupled,
not merely trained together. Each HU head is a scaled offset around its tissue's typical value,
which keeps the raw outputs near unit scale from the first step.

Outputs (dict): ``hu`` (B,1,...) sCT in HU; ``seg_logits`` (B,3,...) for (air, soft, bone);
``hu_soft`` and ``hu_bone`` (B,1,...) the per-region HU maps before composition.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cranial_sct.models.backbones import Backbone

CLASSES: tuple[str, ...] = ("air", "soft", "bone")
HU_AIR = -1000.0
# (centre, scale) per region: soft tissue spans fat..blood (-100..65 HU), bone diploe..cortex (300..2000 HU).
SOFT_HU = (0.0, 100.0)
BONE_HU = (1000.0, 500.0)


class CascadeModel(nn.Module):
    def __init__(self, in_channels: int, make_backbone: Callable[[int], Backbone]) -> None:
        super().__init__()
        self.stage1 = make_backbone(in_channels)
        self.seg_head = nn.Conv3d(self.stage1.out_channels, len(CLASSES), 1)
        self.stage2 = make_backbone(in_channels + len(CLASSES))
        self.hu_head = nn.Conv3d(self.stage2.out_channels, 2, 1)

    def stage1_modules(self) -> list[nn.Module]:
        return [self.stage1, self.seg_head]

    def encoder_modules(self) -> list[nn.Module]:
        return self.stage1.encoder_modules() + self.stage2.encoder_modules()

    def forward(self, mr: torch.Tensor, cond: torch.Tensor) -> dict[str, torch.Tensor]:
        seg_logits = self.seg_head(self.stage1(mr, cond))
        probs = torch.softmax(seg_logits.float(), dim=1)
        raw = self.hu_head(self.stage2(torch.cat([mr, probs.to(mr.dtype)], dim=1), cond)).float()
        hu_soft = SOFT_HU[0] + SOFT_HU[1] * raw[:, :1]
        hu_bone = BONE_HU[0] + BONE_HU[1] * raw[:, 1:]
        hu = probs[:, :1] * HU_AIR + probs[:, 1:2] * hu_soft + probs[:, 2:] * hu_bone
        return {"hu": hu, "seg_logits": seg_logits.float(), "hu_soft": hu_soft, "hu_bone": hu_bone}
