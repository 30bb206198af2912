"""Hypothesis corrupts MetaImage (.mha) headers read through SimpleITK: a volume on the stated grid, or one line."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.io.outcomes import read_or_refuse

pytestmark = pytest.mark.fuzz
SHAPE = (9, 10, 11)  # x, y, z
ARRAY = (np.arange(np.prod(SHAPE)).reshape(SHAPE[::-1]) % 89).astype(np.int16)  # stored z, y, x
FIELDS = {
    "NDims": "3", "BinaryData": "True", "BinaryDataByteOrderMSB": "False", "CompressedData": "False",
    "TransformMatrix": "1 0 0 0 1 0 0 0 1", "Offset": "10 -20 30", "ElementSpacing": "1.5 2 2.5",
    "DimSize": "9 10 11", "ElementType": "MET_SHORT",
}  # fmt: skip
HOSTILE = ["", "0", "-1", "nan", "inf", "1e30", "abc", "0 0 0", "1 2", "1 0 0 0 0 0 0 0 1", "1 1 0 0 1 0 0 0 1",
           "0.01 0.01 0.01", "2 0 0 0 2 0 0 0 2", "MET_FLOAT", "MET_UCHAR_ARRAY", "True", "4", "9 10 11 2"]
_names = (f"case{k}.mha" for k in itertools.count())


@given(changes=st.dictionaries(st.sampled_from(sorted(FIELDS) + ["drop"]), st.sampled_from(HOSTILE), min_size=1, max_size=3),
       keep=st.just(1.0) | st.floats(0.2, 1.0))
def test_a_corrupt_metaimage_header_reads_on_the_stated_grid_or_is_refused(tmp_path: Path, changes: dict, keep: float) -> None:
    fields = {**FIELDS, **{k: v for k, v in changes.items() if k != "drop"}}
    if "drop" in changes:
        fields.pop(sorted(FIELDS)[len(changes["drop"]) % len(FIELDS)])
    header = "ObjectType = Image\n" + "".join(f"{k} = {v}\n" for k, v in fields.items()) + "ElementDataFile = LOCAL\n"
    data = ARRAY.tobytes()
    path = tmp_path / next(_names)
    path.write_bytes(header.encode() + data[: int(len(data) * keep)])
    volume = read_or_refuse(path)
    if volume is not None:
        stated = [float(v) for v in fields["ElementSpacing"].split()] if "ElementSpacing" in fields else [1.0, 1.0, 1.0]
        matrix = np.array([float(v) for v in fields.get("TransformMatrix", "1 0 0 0 1 0 0 0 1").split()]).reshape(3, 3)
        np.testing.assert_allclose(volume.spacing, np.array(stated) * np.linalg.norm(matrix, axis=0), rtol=1e-5)


NRRD_FIELDS = {
    "type": "short", "dimension": "3", "space": "left-posterior-superior", "sizes": "9 10 11",
    "space directions": "(1.5,0,0) (0,2,0) (0,0,2.5)", "endian": "little", "encoding": "raw", "space origin": "(10,-20,30)",
}  # fmt: skip
NRRD_HOSTILE = ["", "0", "-1", "4", "nan", "abc", "9 10", "9 10 -11", "0 0 0", "(0,0,0) (0,2,0) (0,0,2.5)", "(nan,0,0) (0,2,0) (0,0,2.5)",
                "(1,0,0) (1,0,0) (0,0,1)", "(1e30,0,0) (0,1,0) (0,0,1)", "(1,0) (0,1)", "none (0,2,0) (0,0,2.5)", "gzip", "big", "float",
                "block", "RAS", "(1,2)"]


@given(changes=st.dictionaries(st.sampled_from(sorted(NRRD_FIELDS) + ["drop"]), st.sampled_from(NRRD_HOSTILE), min_size=1, max_size=3),
       keep=st.just(1.0) | st.floats(0.2, 1.0))
def test_a_corrupt_nrrd_header_reads_on_the_stated_grid_or_is_refused(tmp_path: Path, changes: dict, keep: float) -> None:
    fields = {**NRRD_FIELDS, **{k: v for k, v in changes.items() if k != "drop"}}
    if "drop" in changes:
        fields.pop(sorted(NRRD_FIELDS)[len(changes["drop"]) % len(NRRD_FIELDS)])
    header = "NRRD0004\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n"
    data = ARRAY.tobytes()
    path = tmp_path / next(_names).replace(".mha", ".nrrd")
    path.write_bytes(header.encode() + data[: int(len(data) * keep)])
    read_or_refuse(path)
