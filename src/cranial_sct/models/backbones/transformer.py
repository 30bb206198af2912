"""``transformer``: MONAI's SwinUNETR (Hatamizadeh et al. 2022), the paper's Transformer baseline.

SwinUNETR has no hook for metadata inside its Swin stages, so FiLM modulates its output features
(before the task heads); patch sides must be divisible by 32.
"""

from __future__ import annotations

import torch
from monai.networks.nets import SwinUNETR
from torch import nn

from cranial_sct.models.conditioning import FiLM


class SwinUNETRBackbone(nn.Module):
    def __init__(self, in_channels: int, feature_size: int, cond_dim: int) -> None:
        super().__init__()
        self.out_channels = feature_size
        self.net = SwinUNETR(in_channels=in_channels, out_channels=feature_size, feature_size=feature_size, spatial_dims=3)
        self.film = FiLM(cond_dim, feature_size)

    def encoder_modules(self) -> list[nn.Module]:
        net = self.net
        return [net.swinViT, net.encoder1, net.encoder2, net.encoder3, net.encoder4, net.encoder10]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.film(self.net(x), cond)
