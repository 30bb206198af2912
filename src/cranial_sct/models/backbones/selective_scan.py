"""The selective scan of Mamba (Gu & Dao 2023), on the CUDA kernel when present, else in PyTorch.

Recurrence per channel d and state n, for t = 1..L (h_0 = 0):
    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,    y_t = C_t . h_t + D * u_t
then optionally y_t *= silu(z_t). Arguments use ``mamba_ssm``'s layout so both paths share one
signature: u, delta, z (batch, channels, L); A (channels, N); B, C (batch, N, L); D (channels).

The ``mamba_ssm`` kernel cannot be built without CUDA, so the CPU path uses the parallel
(Blelloch) scan of the ``mambapy`` package: O(log L) sequential steps instead of L, in plain
autograd-able PyTorch. It materialises (batch, L, channels, N), so keep sequences moderate.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from mambapy.pscan import pscan


def cuda_kernel_available() -> bool:
    """True when the ``mamba_ssm`` CUDA selective-scan kernel can be imported."""
    return importlib.util.find_spec("mamba_ssm") is not None and torch.cuda.is_available()


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = True,
    use_kernel: bool | None = None,
) -> torch.Tensor:
    """The selective scan with ``mamba_ssm``'s ``selective_scan_fn`` contract.

    ``use_kernel=None`` picks the CUDA kernel for CUDA tensors when it is installed, else the pure
    PyTorch path; ``False`` forces the pure path (the tests compare the two).
    """
    if use_kernel is None:
        use_kernel = u.is_cuda and cuda_kernel_available()
    if use_kernel:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

        return selective_scan_fn(u, delta, A, B, C, D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)
    dtype = u.dtype
    u, delta, B, C = (t.float().transpose(1, 2) for t in (u, delta, B, C))  # -> (batch, L, ...)
    if delta_bias is not None:
        delta = delta + delta_bias.float()
    if delta_softplus:
        delta = F.softplus(delta)
    decay = torch.exp(delta.unsqueeze(-1) * A.float())  # (batch, L, channels, N)
    drive = (delta * u).unsqueeze(-1) * B.unsqueeze(2)  # (batch, L, channels, N)
    states = pscan(decay, drive)
    y = (states @ C.unsqueeze(-1)).squeeze(-1) + D.float() * u  # (batch, L, channels)
    y = y.transpose(1, 2)
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(dtype)
