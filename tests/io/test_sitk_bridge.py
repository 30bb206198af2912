import numpy as np
import SimpleITK as sitk

from cranial_sct.io.sitk_bridge import affine_of, from_sitk, to_sitk
from cranial_sct.io.volume import Volume


def test_itk_physical_points_match_the_ras_affine():
    affine = np.array([[0, -1.5, 0, 10], [0.8, 0, 0, -5], [0, 0, 2.0, 7], [0, 0, 0, 1]], dtype=float)
    volume = Volume(np.arange(24, dtype=np.float32).reshape(2, 3, 4), affine)
    image = to_sitk(volume)
    ras = affine @ [1, 2, 3, 1]
    lps = image.TransformIndexToPhysicalPoint((1, 2, 3))
    np.testing.assert_allclose(lps, [-ras[0], -ras[1], ras[2]])
    assert image[1, 2, 3] == volume.array[1, 2, 3]
    np.testing.assert_allclose(affine_of(image), affine)
    back = from_sitk(image)
    np.testing.assert_array_equal(back.array, volume.array)
    assert sitk.GetArrayFromImage(image).shape == (4, 3, 2)
