"""A tiny synthetic evaluation study written as real NIfTI files: reference heads and predictions.

Each head is an ellipsoid with scalp, a 1000 HU skull shell, brain and an air sinus, on an
anisotropic grid. Each method's sCT is the CT plus a method-specific error, so results are known in
advance: ``perfect`` reproduces the CT exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cranial_sct.io.manifest import ManifestRow, write_manifest
from cranial_sct.io.nifti import write_nifti
from cranial_sct.io.volume import Volume

SHAPE = (26, 30, 22)
SPACING = (1.2, 1.0, 1.5)
AFFINE = np.diag([*SPACING, 1.0])


def head(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(CT in HU as int16, head mask, a T1w-like MR) for one subject; seeds vary the size."""
    rng = np.random.default_rng(seed)
    centre = (np.array(SHAPE) - 1) / 2
    radii = np.array(SHAPE) * rng.uniform(0.36, 0.42)
    grid = np.indices(SHAPE).astype(float)
    r = np.sqrt(sum(((g - c) / rad) ** 2 for g, c, rad in zip(grid, centre, radii)))
    ct = np.full(SHAPE, -1000.0)
    ct[r < 1.0] = 40.0  # scalp
    ct[r < 0.88] = 1000.0  # skull
    ct[r < 0.70] = 30.0  # brain
    sinus = np.sqrt(((grid[0] - centre[0]) / 3) ** 2 + ((grid[1] - centre[1] - radii[1] * 0.78) / 2) ** 2 + ((grid[2] - centre[2]) / 3) ** 2) < 1
    ct[sinus & (r < 1.0)] = -1000.0
    ct += rng.normal(0, 10, SHAPE) * (r < 1.0)
    mask = r < 1.05
    mr = np.select([r >= 1.0, ct > 300, ct < -400], [0.0, 50.0, 0.0], 400.0) + rng.normal(0, 5, SHAPE)
    return ct.astype(np.int16), mask, mr.astype(np.float32)


def synthetic_sct(ct: np.ndarray, error_hu: float, seed: int) -> np.ndarray:
    """The CT plus Gaussian noise of ``error_hu`` and a bone underestimate of 2 x ``error_hu``."""
    rng = np.random.default_rng(seed)
    return (ct + rng.normal(0, error_hu, ct.shape) - 2 * error_hu * (ct > 300)).astype(np.float32)


def write_reference(ref_dir: Path, subjects: list[str], fields: tuple[str, ...]) -> None:
    """Phantom-layout reference: REF/<subject>/ct, mask, mr_<field>T_t1w, and manifest.csv."""
    rows = []
    for index, subject in enumerate(subjects):
        ct, mask, mr = head(index)
        (ref_dir / subject).mkdir(parents=True, exist_ok=True)
        write_nifti(Volume(ct, AFFINE), ref_dir / subject / "ct.nii.gz")
        write_nifti(Volume(mask.astype(np.uint8), AFFINE), ref_dir / subject / "mask.nii.gz")
        rows += [
            ManifestRow(subject, "ct", "", "", "synthetic", f"{subject}/ct.nii.gz"),
            ManifestRow(subject, "mask", "", "", "synthetic", f"{subject}/mask.nii.gz"),
        ]
        for field in fields:
            write_nifti(Volume(mr, AFFINE), ref_dir / subject / f"mr_{field}T_t1w.nii.gz")
            rows.append(ManifestRow(subject, "mr", "t1w", field, "synthetic", f"{subject}/mr_{field}T_t1w.nii.gz"))
    write_manifest(rows, ref_dir / "manifest.csv")


def write_predictions(method_dir: Path, subjects: list[str], fields: tuple[str, ...], error_hu: float, skull: bool = True) -> None:
    """PRED/<method>/<subject>/sct_<field>T_t1w.nii.gz (+ skull_...) for every subject and field."""
    for index, subject in enumerate(subjects):
        ct, mask, _ = head(index)
        (method_dir / subject).mkdir(parents=True, exist_ok=True)
        for offset, field in enumerate(fields):
            sct = synthetic_sct(ct, error_hu * (1 + offset), seed=100 * index + offset)
            write_nifti(Volume(sct, AFFINE), method_dir / subject / f"sct_{field}T_t1w.nii.gz")
            if skull:
                write_nifti(Volume(((sct > 300) & mask).astype(np.uint8), AFFINE), method_dir / subject / f"skull_{field}T_t1w.nii.gz")


def write_study(root: Path, methods: dict[str, float], subjects: int = 3, fields: tuple[str, ...] = ("1.5", "7")) -> tuple[Path, Path]:
    """Write REF and PRED (one folder per method, error in HU) under ``root``; return (pred, ref)."""
    names = [f"sub-{i:02d}" for i in range(subjects)]
    write_reference(root / "ref", names, fields)
    for method, error_hu in methods.items():
        write_predictions(root / "pred" / method, names, fields, error_hu)
    return root / "pred", root / "ref"
