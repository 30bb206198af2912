from pathlib import Path

import pytest

from cranial_sct.io.sidecar import format_field, sidecar_path


@pytest.mark.parametrize(
    ("value", "text"), [(1.5, "1.5"), ("3", "3"), (0.064, "0.064"), (7.0, "7"), (None, "unknown"), ("n/a", "unknown"), (0, "unknown")]
)
def test_field_strength_is_spelled_like_the_phantom_files(value, text):
    assert format_field(value) == text


def test_sidecar_sits_beside_the_image():
    assert sidecar_path(Path("/d/sub-01_T1w.nii.gz")) == Path("/d/sub-01_T1w.json")
    assert sidecar_path(Path("/d/ct.mha")) == Path("/d/ct.json")
