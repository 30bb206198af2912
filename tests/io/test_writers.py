import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.readers import read_volume
from cranial_sct.io.volume import Volume
from cranial_sct.io.writers import write_volume


def lps_oblique() -> Volume:
    angle = np.deg2rad(25)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]) @ np.diag(
        [-1.2, -0.9, 2.5]
    )
    affine[:3, 3] = [40.0, 12.5, -30.0]
    return Volume(np.random.default_rng(0).normal(100, 10, (5, 6, 7)).astype(np.float32), affine)


@pytest.mark.parametrize("suffix", [".mha", ".nrrd", ".nii.gz"])
def test_written_file_sits_on_the_same_grid(tmp_path, suffix):
    volume = lps_oblique()
    back = read_volume(write_volume(volume, tmp_path / f"x{suffix}", np.int16))
    assert back.same_grid(volume, atol_mm=1e-5)
    assert back.array.dtype == np.int16
    assert [p.name for p in tmp_path.iterdir()] == [f"x{suffix}"]


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(InputError, match="cannot write this format"):
        write_volume(lps_oblique(), tmp_path / "x.png")


def test_unwritable_folder_is_refused(unwritable_folder):
    with pytest.raises(InputError, match="cannot write"):
        write_volume(lps_oblique(), unwritable_folder / "x.mha")
