"""The procedural anatomy's shapes where they matter for what a model learns."""

import numpy as np
import pytest

from cranial_sct.phantom.anatomy import SEPTUM_MM, ventricles


def coronal_plane(y_mm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical points (mm) of a 0.25-mm coronal plane through the ventricle bodies."""
    x, z = np.meshgrid(np.arange(-60.0, 60.0, 0.25), np.arange(-10.0, 40.0, 0.25), indexing="ij")
    return x, np.full_like(x, y_mm), z


def csf_columns(size: float) -> np.ndarray:
    """x (mm) of every column of the coronal plane at y = 0 that crosses a lateral ventricle's body."""
    p = coronal_plane(0.0)
    inside = ventricles(p, size) < 0
    above_third = p[2] > 12.0  # the bodies, above the third ventricle's roof
    return p[0][:, 0][(inside & above_third).any(axis=1)]


@pytest.mark.parametrize("size", [0.8, 1.0, 1.6])
def test_lateral_ventricles_meet_at_the_septum(size):
    """Real lateral ventricles are one dark butterfly split only by the septum pellucidum."""
    x = csf_columns(size)
    medial = np.abs(x).min()
    assert SEPTUM_MM <= medial <= SEPTUM_MM + 0.5
    assert (x > 0).any() and (x < 0).any()


def test_ventricle_bodies_widen_with_size():
    widths = [np.ptp(csf_columns(size)) for size in (0.8, 1.0, 1.6)]
    assert 25.0 <= widths[1] <= 40.0  # bodies together about 30 mm across in a normal adult
    assert widths[0] < widths[1] < widths[2]
