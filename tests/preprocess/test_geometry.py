import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.geometry import crop, crop_box, invert_step, reorient, resample, spacing_grid
from tests.heads import grid


def ramp(codes: str, angle: float) -> Volume:
    shape, affine = grid(10.0, (7, 8, 9), codes, angle)
    return Volume(np.arange(np.prod(shape), dtype=np.float32).reshape(shape), affine)


@pytest.mark.parametrize(("codes", "angle"), [("LPS", 0.0), ("LPS", 20.0), ("RAS", 0.0)])
def test_reorient_to_ras_is_exactly_undone(codes, angle):
    volume = ramp(codes, angle)
    ras, step = reorient(volume)
    assert ras.orientation == "RAS"
    back = invert_step(ras, json.loads(json.dumps(step)))
    assert back.same_grid(volume, atol_mm=1e-9)
    np.testing.assert_array_equal(back.array, volume.array)
    voxel = (2, 3, 4)  # the same world point holds the same value in both
    world = volume.affine @ [*voxel, 1]
    ras_index = np.rint(np.linalg.solve(ras.affine, world)[:3]).astype(int)
    assert ras.array[tuple(ras_index)] == volume.array[voxel]


def test_crop_keeps_world_positions_and_pads_back():
    volume = ramp("LPS", 20.0)
    mask = np.zeros(volume.shape, bool)
    mask[3:5, 2:4, 4] = True
    start, stop = crop_box(mask, np.array([1, 1, 1]))
    assert (start, stop) == ([2, 1, 3], [6, 5, 6])
    cropped, step = crop(volume, start, stop)
    np.testing.assert_allclose(cropped.affine @ [0, 0, 0, 1], volume.affine @ [*start, 1])
    back = invert_step(cropped, step, fill=-1)
    assert back.same_grid(volume)
    inside = tuple(slice(a, b) for a, b in zip(start, stop))
    np.testing.assert_array_equal(back.array[inside], volume.array[inside])
    assert (back.array == -1).sum() == volume.array.size - cropped.array.size


def test_spacing_grid_keeps_the_field_of_view():
    volume = ramp("LPS", 20.0)
    target = spacing_grid(volume, 4.0)
    assert target["shape"] == [18, 20, 23]
    affine = np.asarray(target["affine"])
    corner = lambda a: a[:3, :3] @ [-0.5, -0.5, -0.5] + a[:3, 3]  # noqa: E731
    np.testing.assert_allclose(corner(affine), corner(volume.affine), atol=1e-9)


def test_resample_with_rigid_transform_is_undone_through_its_inverse():
    volume = ramp("RAS", 0.0)
    smooth = volume.with_array(np.fromfunction(lambda i, j, k: 100 + 3 * i - 2 * j + k, volume.shape, dtype=np.float32))
    transform = sitk.Euler3DTransform((0, 0, 0), 0.05, -0.03, 0.08, (4.0, -3.0, 2.0))
    moved, step = resample(smooth, {"shape": list(volume.shape), "affine": volume.affine.tolist()}, transform=transform)
    back = invert_step(moved, json.loads(json.dumps(step)), fill=np.nan)
    # compare away from the edges, where ITK clamps instead of interpolating
    inside = ndimage.binary_erosion(np.isfinite(back.array) & (back.array != 0), iterations=2)
    assert inside.sum() > 20
    np.testing.assert_allclose(back.array[inside], smooth.array[inside], atol=0.5)
    with pytest.raises(ValueError, match="does not match the recorded grid"):
        invert_step(Volume(smooth.array[:-1], smooth.affine), step)
