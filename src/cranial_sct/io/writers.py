"""``write_volume``: a ``Volume`` to NIfTI, MHA or NRRD, chosen by the extension; always atomic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from cranial_sct.errors import InputError
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.nifti import write_nifti
from cranial_sct.io.sitk_bridge import to_sitk
from cranial_sct.io.volume import Volume

WRITE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".nrrd")


def write_volume(volume: Volume, path: str | os.PathLike[str], dtype: np.dtype | type | None = None) -> Path:
    """Write ``volume`` (optionally cast to ``dtype``) to ``path``; the grid is kept exactly."""
    path = Path(path)
    suffix = next((s for s in WRITE_SUFFIXES if path.name.lower().endswith(s)), None)
    if suffix is None:
        raise InputError(f"{path}: cannot write this format; use one of {', '.join(WRITE_SUFFIXES)}")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: output folder does not exist; create it first")
    try:
        if suffix in (".nii.gz", ".nii"):
            return write_nifti(volume, path, dtype)
        array = volume.array if dtype is None else volume.array.astype(dtype)
        with atomic_path(path) as tmp:
            sitk.WriteImage(to_sitk(volume, array), str(tmp), True)
    except (OSError, RuntimeError) as error:  # SimpleITK reports I/O failures as RuntimeError
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise InputError(f"{path}: cannot write ({reason}); choose a writable output folder with free space") from error
    return path
