"""Hostile inputs through the real CLI, in a fresh interpreter: exit status 2 and one line, never a traceback.

The fuzz tests check the same promise in-process on thousands of inputs; these few runs check that
what they raise reaches the user as one line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.io.nifti_factory import nifti_bytes, nifti_header, write_raw_nifti

pytestmark = pytest.mark.fuzz
ARRAY = (np.arange(9 * 10 * 11).reshape(9, 10, 11) % 97).astype(np.int16)
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def zero_voxel_size(folder: Path) -> tuple[list[str], str]:
    path = write_raw_nifti(folder / "pix0.nii", ARRAY, AFFINE, qform_code=0, sform_code=0, pixdim=[1, 2, 0, 2, 1, 0, 0, 0])
    return ["info", str(path)], "voxel size 2 x 0 x 2 mm (zero along axis 1)"


def flipped_gzip(folder: Path) -> tuple[list[str], str]:
    packed = bytearray(gzip.compress(nifti_bytes(nifti_header(ARRAY, AFFINE), ARRAY)))
    packed[len(packed) // 2] ^= 0x10
    (folder / "flip.nii.gz").write_bytes(bytes(packed))
    return ["info", str(folder / "flip.nii.gz")], "damaged gzip stream"


def few_byte_checkpoint(folder: Path) -> tuple[list[str], str]:
    (folder / "model.pt").write_bytes(b"abc")
    return ["info", "--checkpoint", str(folder / "model.pt")], "not a cranial-sct checkpoint; give a .pt file written by"


def out_is_a_file(folder: Path) -> tuple[list[str], str]:
    (folder / "taken").write_text("someone's notes")
    return ["evaluate", "--pred", str(folder / "p"), "--ref", str(folder / "r"), "--out", str(folder / "taken")], "taken: is a file, not a folder"


@pytest.mark.parametrize("make", [zero_voxel_size, flipped_gzip, few_byte_checkpoint, out_is_a_file], ids=lambda f: f.__name__)
def test_a_hostile_input_is_one_line_and_status_2(cli, tmp_path: Path, make) -> None:
    args, phrase = make(tmp_path)
    result = cli(*args)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert phrase in result.stderr and "Traceback" not in result.stderr
