"""Bone-centred 3D patch sampling ("localized bone feature extraction").

A fraction of patches (default 2/3) is centred on a random bone voxel, the rest on a random head
voxel, so the thin skull gets enough training signal. Item ``i`` is a pure function of
``(seed, i)``: whichever worker process or run draws it gets the same patch, augmentation and
channel dropout. That is what makes ``--resume`` and multi-process training exact.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import BONE
from cranial_sct.training.augment import FOV_AXIS, Augmenter, cut_field_of_view, resample_patch
from cranial_sct.training.dataset import Case


class PatchDataset(Dataset):
    def __init__(
        self, cases: list[Case], patch_size: Sequence[int], bone_fraction: float, seed: int, augmenter: Augmenter | None,
        distinct: int = 0,
    ) -> None:
        self.cases, self.patch, self.seed, self.augmenter = cases, np.array(patch_size), seed, augmenter
        self.distinct = distinct  # > 0: item i is item i % distinct (a fixed set, for overfitting checks)
        self.bone_fraction = bone_fraction
        for case in cases:
            if np.any(self.patch > np.array(case.ct.shape)):
                raise InputError(
                    f"sampling.patch_size {list(patch_size)} is larger than subject {case.subject!r} "
                    f"({list(case.ct.shape)} voxels); use a smaller patch"
                )
        self.bone_voxels = [np.flatnonzero(case.classes == BONE) for case in cases]
        self.head_voxels = [np.flatnonzero(case.mask) for case in cases]
        if bone_fraction > 0 and not any(len(v) for v in self.bone_voxels):
            raise InputError(
                "no bone (CT above data.bone_above_hu inside the head mask) in any training case; "
                "check the CT files and data.bone_above_hu, or set sampling.bone_fraction=0"
            )

    def __len__(self) -> int:
        return 2**62  # an endless stream; the sampler decides which items a run draws

    def _centre(self, index: int, rng: np.random.Generator) -> np.ndarray:
        bone = self.bone_voxels[index]
        pool = bone if len(bone) and rng.random() < self.bone_fraction else self.head_voxels[index]
        return np.array(np.unravel_index(pool[rng.integers(len(pool))], self.cases[index].ct.shape))

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, item % self.distinct if self.distinct else item])
        index = int(rng.integers(len(self.cases)))
        case = self.cases[index]
        centre = self._centre(index, rng)
        matrix = self.augmenter.spatial(rng) if self.augmenter is not None else None
        if matrix is None:
            start = np.clip(centre - self.patch // 2, 0, np.array(case.ct.shape) - self.patch)
            window = tuple(slice(s, s + n) for s, n in zip(start, self.patch))
            mr = case.mr[(slice(None), *window)]
            ct, mask, classes, tissues = (a[window][None] for a in (case.ct, case.mask, case.classes, case.tissues))
        else:  # MR and CT interpolated linearly, head mask, classes and tissue labels by nearest neighbour
            mr, ct = (resample_patch(a, centre, matrix, self.patch, order=1) for a in (case.mr, case.ct[None]))
            mask, classes, tissues = (resample_patch(a[None], centre, matrix, self.patch, order=0)
                                      for a in (case.mask, case.classes, case.tissues))
        cond = case.condition()
        if self.augmenter is not None:
            axes = tuple(a + 1 for a in self.augmenter.mirror_axes(rng))  # every array mirrored together
            mr, ct, mask, classes, tissues = (np.flip(a, axes) for a in (mr, ct, mask, classes, tissues))
            mr, cond = self.augmenter(mr, tissues[0], cond, rng)
            cut = self.augmenter.field_of_view(rng, int(self.patch[FOV_AXIS]))
            if cut is not None:
                mr, ct, mask, classes = cut_field_of_view(mr, ct, mask, classes, *cut)
        return {
            "mr": torch.from_numpy(np.ascontiguousarray(mr, dtype=np.float32)),
            "cond": cond,
            "ct": torch.from_numpy(np.ascontiguousarray(ct, dtype=np.float32)),
            "mask": torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32)),
            "classes": torch.from_numpy(np.ascontiguousarray(classes, dtype=np.int64)),
        }


class StepSampler(Sampler[int]):
    """Item indices for steps [first, last): step s, rank r, slot j draws item (s * world + r) * batch + j."""

    def __init__(self, first: int, last: int, batch: int, rank: int = 0, world: int = 1) -> None:
        self.first, self.last, self.batch, self.rank, self.world = first, last, batch, rank, world

    def __iter__(self) -> Iterator[int]:
        for step in range(self.first, self.last):
            base = (step * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return (self.last - self.first) * self.batch
