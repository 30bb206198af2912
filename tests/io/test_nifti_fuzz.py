"""Hypothesis corrupts NIfTI headers and gzip streams; each file must read on a true grid or be refused in one line."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.io.nifti_factory import nifti_bytes, nifti_header
from tests.io.outcomes import read_or_refuse

pytestmark = pytest.mark.fuzz
SHAPE = (9, 10, 11)
AFFINE = np.array([[-2.0, 0, 0, 30], [0, 2.5, 0, -20], [0, 0, 3.0, -10], [0, 0, 0, 1]])
ARRAY = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE) % 97
_names = (f"case{k}.nii" for k in itertools.count())

floats = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-9, 1e9, 1e38, np.nan, np.inf, -np.inf]),
    st.floats(-1e4, 1e4, allow_nan=False, width=32),
)
small_ints = st.integers(-3, 8) | st.sampled_from([2**15 - 1, -(2**15), 1000])
DATATYPES = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 7, 3]
FIELDS = {
    "dim": st.lists(small_ints, min_size=8, max_size=8),
    "pixdim": st.lists(floats, min_size=8, max_size=8),
    "qform_code": small_ints,
    "sform_code": small_ints,
    "quatern_b": floats, "quatern_c": floats, "quatern_d": floats,
    "qoffset_x": floats,
    "srow_x": st.lists(floats, min_size=4, max_size=4),
    "srow_y": st.lists(floats, min_size=4, max_size=4),
    "srow_z": st.lists(floats, min_size=4, max_size=4),
    "datatype": st.sampled_from(DATATYPES) | small_ints,
    "bitpix": st.sampled_from([0, 1, 8, 16, 32, 64, 128, 7]),
    "vox_offset": st.sampled_from([0.0, 100.0, 348.0, 352.0, 353.0, 356.0, 1e6, -352.0, np.nan, np.inf]),
    "scl_slope": floats,
    "scl_inter": floats,
    "magic": st.sampled_from([b"n+1\0", b"ni1\0", b"n+2\0", b"\0\0\0\0", b"xyz\0"]),
    "sizeof_hdr": st.sampled_from([348, 0, 540, -1, 1 << 24]),
    "xyzt_units": st.integers(0, 255),
    "intent_code": small_ints,
}  # fmt: skip
edits = st.dictionaries(st.sampled_from(sorted(FIELDS)), st.none(), min_size=1, max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({key: FIELDS[key] for key in keys})
)


def hostile_header(fields: dict) -> bytes:
    header = nifti_header(ARRAY, AFFINE)
    for key, value in fields.items():
        header[key] = value
    return nifti_bytes(header, ARRAY)


def stated_by_nibabel(path: Path) -> np.ndarray | None:
    """nibabel's affine when it had nothing to repair (no zero/NaN/negative voxel size), else None."""
    raw = nib.Nifti1Header.from_fileobj(open(path, "rb"), check=False)
    spatial = raw["pixdim"][1:4]
    if not (np.isfinite(spatial).all() and (spatial > 0).all() and raw["pixdim"][0] in (-1, 1)):
        return None
    return nib.load(path).affine


@given(fields=edits)
def test_a_corrupt_header_reads_on_the_stated_grid_or_is_refused(tmp_path: Path, fields: dict) -> None:
    path = tmp_path / next(_names)
    path.write_bytes(hostile_header(fields))
    volume = read_or_refuse(path)
    if volume is not None:
        stated = stated_by_nibabel(path)
        assert stated is None or np.allclose(volume.affine, stated), (volume.affine, stated)
        assert volume.shape == tuple(int(n) for n in nib.load(path).shape[:3])


@given(data=st.data())
def test_flipped_header_bytes_read_or_are_refused(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(hostile_header({}))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(0, 351))] = data.draw(st.integers(0, 255))
    path = tmp_path / next(_names)
    path.write_bytes(bytes(raw))
    read_or_refuse(path)


GZIP_DAMAGE = st.sampled_from(["truncate", "flip", "append", "second member", "not gzip"])


@given(damage=GZIP_DAMAGE, where=st.floats(0, 1), byte=st.integers(0, 255))
def test_a_damaged_gzip_stream_reads_or_is_refused(tmp_path: Path, damage: str, where: float, byte: int) -> None:
    plain = hostile_header({})
    packed = bytearray(gzip.compress(plain))
    at = int(where * (len(packed) - 1))
    if damage == "truncate":
        packed = packed[:at]
    elif damage == "flip":
        packed[at] ^= byte or 1
    elif damage == "append":
        packed += bytes([byte]) * (at + 1)
    elif damage == "second member":
        packed += gzip.compress(plain[: at + 1])
    else:
        packed = bytearray(plain)
    path = tmp_path / (next(_names) + ".gz")
    path.write_bytes(bytes(packed))
    volume = read_or_refuse(path)
    if volume is not None and damage in ("truncate", "flip"):
        np.testing.assert_array_equal(volume.array, ARRAY)  # a damaged stream never gives other voxels
