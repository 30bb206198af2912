import numpy as np
import pytest

from cranial_sct.preprocess.normalise import normalise_mr


def test_percentile_uses_only_masked_voxels():
    array = np.zeros((4, 4, 4))
    array[1:3, 1:3, 1:3] = np.arange(8).reshape(2, 2, 2) + 100.0
    mask = array > 0
    out = normalise_mr(array, mask, percentiles=(0, 100))
    assert out[mask].min() == pytest.approx(0.0)
    assert out[mask].max() == pytest.approx(1.0)


def test_zscore_gives_zero_mean_unit_std_inside():
    rng = np.random.default_rng(1)
    array = rng.normal(50, 7, size=(6, 6, 6))
    mask = np.ones_like(array, bool)
    out = normalise_mr(array, mask, method="zscore")
    assert out.mean() == pytest.approx(0, abs=1e-5)
    assert out.std() == pytest.approx(1, abs=1e-5)


def test_constant_inside_mask_is_refused():
    with pytest.raises(ValueError, match="constant"):
        normalise_mr(np.ones((3, 3, 3)), np.ones((3, 3, 3)))
