"""Write NIfTI-1 files byte for byte as stated, for reader tests of damaged or hostile headers.

nibabel rewrites a header from the image's affine when it saves, so a zero voxel size or a bad
qform never reaches the file that way; here the header fields are written as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

HEADER_BYTES = 348
DATA_OFFSET = 352  # header plus the 4-byte extension flag


def nifti_header(array: np.ndarray, affine: np.ndarray) -> nib.Nifti1Header:
    """A consistent header for ``array`` on ``affine`` (qform and sform both set), to be edited."""
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    header = image.header
    header["vox_offset"] = DATA_OFFSET
    return header


def nifti_bytes(header: nib.Nifti1Header, array: np.ndarray) -> bytes:
    """The bytes of a single-file NIfTI: ``header`` exactly as it stands, then ``array`` (Fortran order)."""
    return header.binaryblock + b"\0" * (DATA_OFFSET - HEADER_BYTES) + np.asfortranarray(array).tobytes(order="F")


def write_raw_nifti(path: Path, array: np.ndarray, affine: np.ndarray, **fields: Any) -> Path:
    """Write ``array`` with a header whose ``fields`` (nibabel field names) are set as given."""
    header = nifti_header(array, affine)
    for key, value in fields.items():
        header[key] = value
    path.write_bytes(nifti_bytes(header, array))
    return path
