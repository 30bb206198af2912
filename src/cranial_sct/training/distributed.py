"""torch.distributed set-up for torchrun: NCCL on GPUs, gloo on CPU; a no-op for a single process."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> DistInfo:
    """Join the process group that torchrun describes in the environment (WORLD_SIZE > 1), pick the device."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world_size, target)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def parameter_checksum(model: nn.Module) -> float:
    """An order-sensitive float64 fingerprint of all parameters."""
    total = torch.zeros((), dtype=torch.float64)
    for index, parameter in enumerate(model.parameters(), start=1):
        total += index * parameter.detach().double().cpu().sum()
    return float(total)


def replica_checksums(model: nn.Module) -> list[float]:
    """Every rank's parameter checksum (a single-element list without a process group)."""
    mine = parameter_checksum(model)
    if not dist.is_initialized():
        return [mine]
    gathered: list[float] = [0.0] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    return gathered
