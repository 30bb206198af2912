"""NIfTI read/write for ``Volume`` via nibabel, with atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.volume import Volume


def write_nifti(volume: Volume, path: str | os.PathLike[str], dtype: np.dtype | type | None = None) -> Path:
    """Write ``volume`` to ``path`` (.nii or .nii.gz) atomically; qform and sform both set."""
    path = Path(path)
    array = volume.array if dtype is None else volume.array.astype(dtype)
    image = nib.Nifti1Image(array, volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return path


def read_nifti(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI file into a ``Volume`` (float32 array unless the file holds integers)."""
    image = nib.load(os.fspath(path))
    array = np.asanyarray(image.dataobj)
    return Volume(array, image.affine, {"path": str(path)})
