"""``direct``: one backbone mapping MR straight to HU, the paper's "conventional" deep baseline.

Outputs (dict): ``hu`` (B,1,...) in HU. No segmentation, so nothing ties bone HU to a skull shape.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cranial_sct.models.backbones import Backbone

# The raw output is scaled so that unit activations span soft tissue to dense bone.
HU_SCALE = 1000.0


class DirectModel(nn.Module):
    def __init__(self, in_channels: int, make_backbone: Callable[[int], Backbone]) -> None:
        super().__init__()
        self.backbone = make_backbone(in_channels)
        self.hu_head = nn.Conv3d(self.backbone.out_channels, 1, 1)

    def encoder_modules(self) -> list[nn.Module]:
        return self.backbone.encoder_modules()

    def forward(self, mr: torch.Tensor, cond: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"hu": HU_SCALE * self.hu_head(self.backbone(mr, cond)).float()}
