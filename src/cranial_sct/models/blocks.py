"""The residual 3D U-Net skeleton shared by the ``resunet`` and ``mamba`` backbones.

Encoder and decoder stages are MONAI's ``UnetResBlock``/``UnetUpBlock`` (conv-instance norm-leaky
ReLU with a residual path, as in nnU-Net's residual encoder). Each level is FiLM-modulated by the
metadata vector. An optional ``mixer`` per encoder level adds a global token mixer after the
convolutions: that is how U-Mamba puts Mamba layers into the same U-Net.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.blocks import UnetResBlock, UnetUpBlock
from torch import nn

from cranial_sct.models.conditioning import FiLM

NORM = "instance"
MixerFactory = Callable[[int, int], nn.Module]  # (level, channels) -> module mapping x to x


class ResidualUNet3D(nn.Module):
    """``len(features)`` levels; each deeper level halves the grid (patch sides must divide 2**(levels-1))."""

    def __init__(
        self,
        in_channels: int,
        features: Sequence[int],
        cond_dim: int,
        mixer: MixerFactory | None = None,
    ) -> None:
        super().__init__()
        self.out_channels = features[0]
        self.encoder = nn.ModuleList()
        previous = in_channels
        for level, channels in enumerate(features):
            stage = [UnetResBlock(3, previous, channels, 3, 1 if level == 0 else 2, NORM)]
            if mixer is not None:
                stage.append(mixer(level, channels))
            self.encoder.append(nn.Sequential(*stage))
            previous = channels
        self.decoder = nn.ModuleList(
            UnetUpBlock(3, deep, shallow, 3, 1, 2, NORM) for deep, shallow in zip(features[:0:-1], features[-2::-1])
        )
        self.encoder_film = nn.ModuleList(FiLM(cond_dim, c) for c in features)
        self.decoder_film = nn.ModuleList(FiLM(cond_dim, c) for c in features[-2::-1])

    def encoder_modules(self) -> list[nn.Module]:
        return [self.encoder, self.encoder_film]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        skips = []
        for stage, film in zip(self.encoder, self.encoder_film):
            x = film(stage(x), cond)
            skips.append(x)
        for up, film, skip in zip(self.decoder, self.decoder_film, reversed(skips[:-1])):
            x = film(up(x, skip), cond)
        return x
