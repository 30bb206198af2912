"""``mamba``: the residual 3D U-Net with residual Mamba layers in its encoder, as in U-Mamba.

U-Mamba (Ma et al. 2024) flattens a feature map to a token sequence, runs a Mamba mixer over it
with a residual connection, and reshapes back, giving each encoder stage a global receptive field
at linear cost. The scan over 64^3 = 262k tokens at full resolution would not fit a CPU budget, so
``mamba_levels`` picks which encoder levels get a Mamba layer (default: all but the first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cranial_sct.models.backbones.selective_scan import selective_scan
from cranial_sct.models.blocks import ResidualUNet3D


class MambaMixer(nn.Module):
    """The Mamba block of Gu & Dao (2023) on (batch, L, channels) tokens: gated, input-dependent SSM."""

    def __init__(self, channels: int, d_state: int = 16, d_conv: int = 4, expand: int = 2) -> None:
        super().__init__()
        inner = expand * channels
        self.dt_rank = math.ceil(channels / 16)
        self.d_state = d_state
        self.in_proj = nn.Linear(channels, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, d_conv, groups=inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        # Standard Mamba initialisation: time steps log-uniform in [1e-3, 1e-1] (through an inverse
        # softplus on the bias) and the S4D-real diagonal A = -(1..N).
        dt = torch.exp(torch.rand(inner) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32).repeat(inner, 1)))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, channels, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        x, z = self.in_proj(tokens).transpose(1, 2).chunk(2, dim=1)  # (batch, inner, L) each
        x = F.silu(self.conv(x)[..., :length])
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dt @ self.dt_proj.weight.T).transpose(1, 2)
        y = selective_scan(
            x, delta, -torch.exp(self.A_log.float()), B.transpose(1, 2), C.transpose(1, 2), self.D,
            z=z, delta_bias=self.dt_proj.bias, delta_softplus=True,
        )
        return self.out_proj(y.transpose(1, 2))


class ResidualMambaLayer(nn.Module):
    """x + Mamba(LayerNorm(tokens of x)), reshaped back to the 3D grid."""

    def __init__(self, channels: int, d_state: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.mixer = MambaMixer(channels, d_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (batch, D*H*W, channels)
        mixed = self.mixer(self.norm(tokens))
        return x + mixed.transpose(1, 2).reshape(x.shape)


def build_mamba_unet(
    in_channels: int, features: Sequence[int], cond_dim: int, mamba_levels: Sequence[int], d_state: int,
    half_resolution_stem: bool,
) -> ResidualUNet3D:
    def mixer(level: int, channels: int) -> nn.Module:
        return ResidualMambaLayer(channels, d_state) if level in mamba_levels else nn.Identity()

    return ResidualUNet3D(in_channels, features, cond_dim, mixer, half_resolution_stem)
