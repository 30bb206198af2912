"""A tiny two-subject cohort in the dataset layout (real NIfTI files + manifest.csv).

Concentric spheres: scalp, a skull shell with a sinus air pocket, brain. Small enough that a
training step takes well under a second on one CPU core.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cranial_sct.io.manifest import MANIFEST_NAME, ManifestRow, write_manifest
from cranial_sct.io.nifti import write_nifti
from cranial_sct.io.volume import Volume

SHAPE = (24, 24, 24)
SPACING_MM = 4.0
# (outer radius in voxels, CT HU, T1w, FLAIR) from the outside in
LAYERS = [(11.0, 20.0, 0.9, 0.6), (9.5, 1100.0, 0.05, 0.05), (8.0, 35.0, 0.6, 0.8)]


def toy_subject(rng: np.random.Generator) -> dict[str, np.ndarray]:
    grid = np.stack(np.meshgrid(*[np.arange(n) - n / 2 + 0.5 for n in SHAPE], indexing="ij"))
    radius = np.sqrt(((grid - rng.uniform(-1, 1, size=(3, 1, 1, 1))) ** 2).sum(0))
    ct = np.full(SHAPE, -1000.0)
    t1w, flair = np.zeros(SHAPE), np.zeros(SHAPE)
    for outer, hu, t1, fl in LAYERS:
        inside = radius < outer + rng.uniform(-0.3, 0.3)
        ct[inside], t1w[inside], flair[inside] = hu, t1, fl
    sinus = np.sqrt(((grid - np.array([6.0, 6.0, 0.0])[:, None, None, None]) ** 2).sum(0)) < 2.5
    ct[sinus], t1w[sinus], flair[sinus] = -1000.0, 0.0, 0.0
    mask = radius < LAYERS[0][0] + 0.5
    noise = lambda: rng.normal(0, 0.02, SHAPE)  # noqa: E731
    return {"ct": ct, "mask": mask, "t1w": t1w + noise(), "flair": flair + noise()}


def write_toy_cohort(root: Path, subjects: int = 2, fields: tuple[str, ...] = ("1.5",), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    affine = np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0])
    rows = []
    for index in range(subjects):
        name = f"sub-{index:02d}"
        (root / name).mkdir(parents=True)
        arrays = toy_subject(rng)
        files = [("ct", "", "", arrays["ct"], np.int16), ("mask", "", "", arrays["mask"], np.uint8)]
        for field in fields:
            gain = 1.0 + 0.2 * float(field)  # a field-dependent scale, removed again by normalisation
            files += [("mr", c, field, gain * arrays[c], np.float32) for c in ("t1w", "flair")]
        for modality, contrast, field, array, dtype in files:
            path = f"{name}/{modality}.nii.gz" if modality != "mr" else f"{name}/mr_{field}T_{contrast}.nii.gz"
            write_nifti(Volume(array.astype(dtype), affine, {}), root / path)
            rows.append(ManifestRow(name, modality, contrast, field or "unknown", "toy", path))
    write_manifest(rows, root / MANIFEST_NAME)
    return root


@pytest.fixture(scope="session")
def toy_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_cohort(tmp_path_factory.mktemp("toy") / "cohort", subjects=2, fields=("1.5", "3"))
