import nibabel as nib
import numpy as np
import pytest

from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.nifti import read_nifti, write_nifti
from cranial_sct.io.volume import Volume


def oblique_affine() -> np.ndarray:
    angle = np.deg2rad(12)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([-0.9, -1.1, 2.0])
    affine[:3, 3] = [10.0, -20.0, 5.5]
    return affine


def test_spacing_and_orientation_follow_affine():
    vol = Volume(np.zeros((4, 5, 6), np.float32), oblique_affine())
    assert vol.spacing == pytest.approx((0.9, 1.1, 2.0))
    assert vol.orientation == "".join(nib.aff2axcodes(oblique_affine()))


def test_nifti_round_trip_keeps_grid_and_values(tmp_path):
    data = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)
    vol = Volume(data, oblique_affine())
    path = write_nifti(vol, tmp_path / "x.nii.gz")
    back = read_nifti(path)
    assert back.same_grid(vol, atol_mm=1e-5)
    np.testing.assert_array_equal(back.array, data)
    assert [p.name for p in tmp_path.iterdir()] == ["x.nii.gz"]


def test_with_array_rejects_other_shape():
    vol = Volume(np.zeros((2, 2, 2)), np.eye(4))
    with pytest.raises(ValueError):
        vol.with_array(np.zeros((3, 2, 2)))


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out.nii.gz"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
