import pytest
import torch
import torch.nn.functional as F

from cranial_sct.models.backbones.selective_scan import cuda_kernel_available, selective_scan


def sequential_reference(u, delta, A, B, C, D, z, delta_bias):
    """The recurrence written out one time step at a time, in float64 (the definition, not a speed-up)."""
    u, delta, A, B, C, D, z, delta_bias = (t.double() for t in (u, delta, A, B, C, D, z, delta_bias))
    delta = F.softplus(delta + delta_bias[:, None])
    state = torch.zeros(u.shape[0], u.shape[1], A.shape[1], dtype=torch.float64)
    outputs = []
    for t in range(u.shape[2]):
        state = torch.exp(delta[:, :, t, None] * A) * state + delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]
        outputs.append((state * C[:, None, :, t]).sum(-1) + D * u[:, :, t])
    return torch.stack(outputs, dim=2) * F.silu(z)


def random_inputs(batch=2, channels=6, states=4, length=37, device="cpu"):
    generator = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=generator).to(device)

    return dict(
        u=rand(batch, channels, length), delta=rand(batch, channels, length) * 0.5,
        A=-torch.exp(rand(channels, states)), B=rand(batch, states, length), C=rand(batch, states, length),
        D=rand(channels), z=rand(batch, channels, length), delta_bias=rand(channels) * 0.1,
    )


@pytest.mark.parametrize("length", [1, 16, 37])
def test_parallel_scan_matches_sequential_recurrence(length: int) -> None:
    inputs = random_inputs(length=length)
    expected = sequential_reference(**inputs)
    got = selective_scan(**inputs, use_kernel=False)
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-4)


def test_parallel_scan_gradients_match_sequential_recurrence() -> None:
    inputs = {k: v.double().requires_grad_() for k, v in random_inputs(length=21).items()}
    grads_fast = torch.autograd.grad(selective_scan(**inputs, use_kernel=False).sum(), list(inputs.values()))
    grads_ref = torch.autograd.grad(sequential_reference(**inputs).sum(), list(inputs.values()))
    for fast, ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(fast.double(), ref, rtol=1e-3, atol=1e-3)


@pytest.mark.skipif(not cuda_kernel_available(), reason="mamba_ssm CUDA kernel not installed")
def test_cuda_kernel_matches_pure_pytorch_scan() -> None:
    inputs = random_inputs(length=64, device="cuda")
    expected = selective_scan(**inputs, use_kernel=False)
    got = selective_scan(**inputs, use_kernel=True)
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3)
