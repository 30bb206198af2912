import numpy as np
import pytest
import SimpleITK as sitk

from cranial_sct.io.sitk_bridge import RAS_FROM_LPS
from cranial_sct.preprocess.masks import head_mask
from cranial_sct.preprocess.registration import mean_displacement_mm, register_rigid, shrink_factors
from tests.heads import head_volumes, rigid


def as_itk(world_from_head: np.ndarray) -> sitk.AffineTransform:
    """The known misalignment as the ITK transform registration should find (CT point -> MR point, LPS)."""
    lps = RAS_FROM_LPS @ world_from_head @ RAS_FROM_LPS
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(lps[:3, :3].ravel().tolist())
    transform.SetTranslation(lps[:3, 3].tolist())
    return transform


@pytest.mark.slow
@pytest.mark.parametrize("move", [rigid(10, 0, 0, (0, 15, 0)), rigid(3, -7, 10, (8, -10, 15))])
def test_recovers_a_known_rigid_misalignment_within_1mm(move):
    _, ct = head_volumes(3.0)
    mr, _ = head_volumes(3.0, codes="LPS", world_from_head=move)
    ct_mask = head_mask(ct.array)
    result = register_rigid(ct, mr, ct_mask, head_mask(mr.array))
    head = np.argwhere(ct_mask)[::10]
    points = (RAS_FROM_LPS @ ct.affine @ np.c_[head, np.ones(len(head))].T).T[:, :3]
    assert mean_displacement_mm(sitk.Euler3DTransform(), as_itk(move), points) > 10  # it was misaligned
    assert mean_displacement_mm(result.transform, as_itk(move), points) < 1.0
    assert result.metric < 0


def test_pyramid_depends_on_voxel_size():
    assert shrink_factors(1.0, 6.0) == [4, 2, 1]
    assert shrink_factors(3.0, 6.0) == [2, 1]
    assert shrink_factors(8.0, 6.0) == [2, 1]
