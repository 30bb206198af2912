"""The cascaded multitask model (DESIGN.md section 3): skull morphology first, then HU conditioned on it.

Stage 1 maps MR to logits over (air, soft tissue, bone). Stage 2 sees MR plus the stage-1
probabilities and predicts a soft-tissue HU map and a bone HU map. The sCT is composed as

    HU = p_air * HU_AIR + p_soft * HU_soft(x) + p_bone * HU_bone(x)

so bone densities can only appear where stage 1 puts bone: the two tasks are structurally coupled,
not merely trained together. The heads are bounded so neither can stand in for the other: the soft
head lies in (AIR_BELOW_HU, BONE_THRESHOLD_HU), so it cannot produce bone HU, and the bone head in
(BONE_THRESHOLD_HU, HU_MAX). Each is a sigmoid started at its tissue's typical value (0 and 1000 HU),
which keeps the raw outputs near unit scale from the first step. (The prediction side adds the hard
guarantee on the output grid; see :mod:`cranial_sct.inference.predict`.)

Outputs (dict): ``hu`` (B,1,...) sCT in HU; ``seg_logits`` (B,3,...) for (air, soft, bone);
``hu_soft`` and ``hu_bone`` (B,1,...) the per-region HU maps before composition.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU, CLASSES, HU_AIR, HU_MAX
from cranial_sct.models.backbones import Backbone

# (low, high, value at a zero raw output) per region.
SOFT_HU = (AIR_BELOW_HU, BONE_THRESHOLD_HU, 0.0)
BONE_HU = (BONE_THRESHOLD_HU, HU_MAX, 1000.0)


def bounded_hu(raw: torch.Tensor, low: float, high: float, start: float) -> torch.Tensor:
    """``raw`` mapped into (low, high) by a sigmoid shifted so that ``raw = 0`` gives ``start``."""
    fraction = (start - low) / (high - low)
    return low + (high - low) * torch.sigmoid(raw + math.log(fraction / (1 - fraction)))


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
        hu_soft = bounded_hu(raw[:, :1], *SOFT_HU)
        hu_bone = bounded_hu(raw[:, 1:], *BONE_HU)
        hu = probs[:, :1] * HU_AIR + probs[:, 1:2] * hu_soft + probs[:, 2:] * hu_bone
        return {"hu": hu, "seg_logits": seg_logits.float(), "hu_soft": hu_soft, "hu_bone": hu_bone}
