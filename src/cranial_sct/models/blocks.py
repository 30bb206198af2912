"""The residual 3D U-Net skeleton shared by the ``resunet`` and ``mamba`` backbones.

Encoder and decoder stages are MONAI's ``UnetResBlock``/``UnetUpBlock`` (conv-instance norm-leaky
ReLU with a residual path, as in nnU-Net's residual encoder). Each level is FiLM-modulated by the
metadata vector. An optional ``mixer`` per encoder level adds a global token mixer after the
convolutions: that is how U-Mamba puts Mamba layers into the same U-Net.

With ``half_resolution_stem`` the first stage already has stride 2 and one convolution on
[upsampled features, raw input] returns to the input grid: most of a 3D U-Net's cost sits at full
resolution, and this cuts it by about half on CPU while the raw-input skip keeps the thin skull's detail.

Weights and activations use the channels-last (NDHWC) layout: oneDNN's 3D convolutions with these
few channels run forward + backward about 1.4x faster in it on CPU than in NCDHW (compare with
``benchmarks/bench_train_step.py --compare-layouts``), and cuDNN supports it as well. Storing the
convolution weights channels-last is enough: a convolution then computes, and returns, channels-last.
The layout changes no value and no checkpoint key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.networks.blocks import UnetResBlock, UnetUpBlock
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

from cranial_sct.models.conditioning import FiLM

NORM = "instance"
MEMORY_FORMAT = torch.channels_last_3d
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
        self.to(memory_format=MEMORY_FORMAT)

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
    """Upsample x2, then conv-norm-activation on [upsampled features, raw input]: back on the input grid.

    The convolution sees a 3x3x3 neighbourhood of the raw input, where the thin skull's detail is, but
    only the voxel itself of the upsampled features: they are smooth at half resolution, and the
    transposed convolution already gives each of the 8 sub-voxels its own weights. A full 3x3x3
    convolution over both took about 40% of a CPU training step for no measured gain (held-out MAE
    94 vs 92 HU, bone Dice 0.77 vs 0.81 with this one; 600 steps on a 3 mm phantom), while dropping the
    input's neighbourhood as well cost accuracy (105 HU, Dice 0.72).
    """

    def __init__(self, channels: int, in_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose3d(channels, channels, 2, stride=2, bias=False)
        self.from_features = nn.Conv3d(channels, channels, 1, bias=False)
        self.from_input = nn.Conv3d(in_channels, channels, 3, padding=1, bias=False)  # the norm cancels a bias
        self.norm = get_norm_layer(NORM, spatial_dims=3, channels=channels)
        self.act = get_act_layer("leakyrelu")

    def forward(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.from_features(self.up(x)) + self.from_input(inputs)))
