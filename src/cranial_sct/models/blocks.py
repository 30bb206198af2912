"""The residual 3D U-Net skeleton shared by the ``resunet`` and ``mamba`` backbones.

Encoder and decoder stages are MONAI's ``UnetResBlock``/``UnetUpBlock`` (conv-instance norm-leaky
ReLU with a residual path, as in nnU-Net's residual encoder). Each level is FiLM-modulated by the
metadata vector. An optional ``mixer`` per encoder level adds a global token mixer after the
convolutions: that is how U-Mamba puts Mamba layers into the same U-Net.

With ``half_resolution_stem`` the first stage already has stride 2 and a single convolution on
[upsampled features, raw input] returns to the input grid: most of a 3D U-Net's cost sits at full
resolution, and this cuts it by about half on CPU while the raw-input skip keeps the thin skull's detail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.blocks import Convolution, UnetResBlock, UnetUpBlock
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
        half_resolution_stem: bool = False,
    ) -> None:
        super().__init__()
        self.out_channels = features[0]
        first_stride = 2 if half_resolution_stem else 1
        self.encoder = nn.ModuleList()
        previous = in_channels
        for level, channels in enumerate(features):
            stage = [UnetResBlock(3, previous, channels, 3, first_stride if level == 0 else 2, NORM)]
            if mixer is not None:
                stage.append(mixer(level, channels))
            self.encoder.append(nn.Sequential(*stage))
            previous = channels
        self.decoder = nn.ModuleList(
            UnetUpBlock(3, deep, shallow, 3, 1, 2, NORM) for deep, shallow in zip(features[:0:-1], features[-2::-1])
        )
        self.encoder_film = nn.ModuleList(FiLM(cond_dim, c) for c in features)
        self.decoder_film = nn.ModuleList(FiLM(cond_dim, c) for c in features[-2::-1])
        self.full_resolution = FullResolutionStage(features[0], in_channels) if half_resolution_stem else None

    def encoder_modules(self) -> list[nn.Module]:
        return [self.encoder, self.encoder_film]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        inputs, skips = x, []
        for stage, film in zip(self.encoder, self.encoder_film):
            x = film(stage(x), cond)
            skips.append(x)
        for up, film, skip in zip(self.decoder, self.decoder_film, reversed(skips[:-1])):
            x = film(up(x, skip), cond)
        return x if self.full_resolution is None else self.full_resolution(x, inputs)


class FullResolutionStage(nn.Module):
    """Upsample x2, concatenate the raw input, one conv-norm-activation: back on the input grid."""

    def __init__(self, channels: int, in_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose3d(channels, channels, 2, stride=2, bias=False)
        self.conv = Convolution(3, channels + in_channels, channels, kernel_size=3, norm=NORM, act="leakyrelu")

    def forward(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), inputs], dim=1))
