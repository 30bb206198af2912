"""Every metric against hand-computed volumes and against scikit-image/scipy reference calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import binary_erosion, uniform_filter
from scipy.spatial.distance import cdist
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.util import crop

from cranial_sct.evaluation.metrics import (
    MS_SSIM_WEIGHTS,
    CaseMetrics,
    ct_regions,
    hd95_mm,
    image_metrics,
    mae,
    mean_error,
    ms_ssim_synthrad2025,
    mu_relative_error_pct,
    psnr,
    region_mae,
    skull_overlap,
    ssim_synthrad2023,
    PRESETS,
)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smooth positively-correlated CT/sCT pair (HU) with an ellipsoidal mask, 20 x 22 x 18."""
    rng = np.random.default_rng(0)
    grid = np.indices((20, 22, 18)).astype(float)
    r = np.sqrt(((grid[0] - 9.5) / 8) ** 2 + ((grid[1] - 10.5) / 9) ** 2 + ((grid[2] - 8.5) / 7) ** 2)
    ct = np.where(r < 1, np.where(r < 0.8, 30.0, 1100.0), -1000.0) + rng.normal(0, 15, r.shape)
    sct = ct + rng.normal(0, 40, r.shape)
    return ct, sct, r < 1.05


def test_mae_and_me_by_hand() -> None:
    ct = np.zeros((4, 4, 4))
    sct = np.full((4, 4, 4), 999.0)  # outside the mask: must not count
    mask = np.zeros((4, 4, 4))
    mask[0, 0, 0], mask[1, 1, 1] = 1, 2  # any value > 0 is inside
    sct[0, 0, 0], sct[1, 1, 1] = 10.0, -30.0
    assert mae(ct, sct, mask) == pytest.approx(20.0)
    assert mean_error(ct, sct, mask) == pytest.approx(-10.0)


def test_mae_is_not_clipped() -> None:
    ct, sct, mask = np.zeros((2, 2, 2)), np.full((2, 2, 2), 5000.0), np.ones((2, 2, 2))
    assert mae(ct, sct, mask) == pytest.approx(5000.0)


@pytest.mark.parametrize(("hu_max", "peak"), [(3000.0, 4024.0), (3071.0, 4095.0)])
def test_psnr_by_hand_and_against_skimage(hu_max: float, peak: float) -> None:
    ct = np.zeros((2, 2, 2))
    sct = np.zeros((2, 2, 2))
    sct[0, 0, 0], sct[0, 0, 1] = 100.0, 5000.0  # the second is clipped to hu_max
    sct[1, 1, 1] = 1e6  # outside the mask
    mask = np.zeros((2, 2, 2), bool)
    mask[0] = True
    mse = (100.0**2 + hu_max**2) / 4
    assert psnr(ct, sct, mask, hu_max) == pytest.approx(10 * math.log10(peak**2 / mse))
    clipped = np.clip(sct, -1024, hu_max)
    assert psnr(ct, sct, mask, hu_max) == pytest.approx(peak_signal_noise_ratio(ct[mask], clipped[mask], data_range=peak))


def _prepared(volume: np.ndarray, mask: np.ndarray, hu_max: float) -> np.ndarray:
    return np.where(mask, np.clip(volume, -1024, hu_max), -1024) + 1024


def test_ssim_2023_whole_volume_mask_equals_skimage_mean(pair) -> None:
    """With every voxel inside, the masked mean is skimage's own mean (which drops the 3-voxel border)."""
    ct, sct, _ = pair
    everything = np.ones(ct.shape, bool)
    expected = structural_similarity(_prepared(ct, everything, 3000), _prepared(sct, everything, 3000), data_range=4024)
    assert ssim_synthrad2023(ct, sct, everything) == pytest.approx(expected, abs=1e-12)


def test_ssim_2023_mask_and_border_rule(pair) -> None:
    ct, sct, mask = pair
    _, ssim_map = structural_similarity(_prepared(ct, mask, 3000), _prepared(sct, mask, 3000), data_range=4024, full=True)
    inside = mask.copy()
    inside[:3], inside[-3:], inside[:, :3], inside[:, -3:], inside[:, :, :3], inside[:, :, -3:] = (False,) * 6
    assert ssim_synthrad2023(ct, sct, mask) == pytest.approx(ssim_map[inside].mean(), abs=1e-12)
    assert ssim_synthrad2023(ct, ct, mask) == pytest.approx(1.0)
    changed_outside = np.where(mask, sct, 3000.0)  # outside-mask values are replaced by -1024 first
    assert ssim_synthrad2023(ct, changed_outside, mask) == ssim_synthrad2023(ct, sct, mask)
    border_only = np.zeros(ct.shape, bool)
    border_only[:3] = True
    assert math.isnan(ssim_synthrad2023(ct, sct, border_only))


def _reference_ms_ssim(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray) -> float:
    """An independent route: skimage's SSIM map (= L*C*S when no component is clipped) ^ weight per
    level, edge padding with np.pad, and a 2x2x2 mean over voxels (2j-1, 2j) via ndimage."""
    x, y, m = _prepared(ct, mask, 3071), _prepared(sct, mask, 3071), mask.astype(float)
    pad = [((97 - n) // 2, 97 - n - (97 - n) // 2) for n in x.shape]
    x, y, m = (np.pad(a, pad, mode="edge") for a in (x, y, m))
    values = []
    for weight in MS_SSIM_WEIGHTS:
        _, ssim_map = structural_similarity(x, y, data_range=4095, full=True)
        values.append(crop(ssim_map**weight, 3)[crop(m, 3) > 0].mean())
        x, y = (uniform_filter(a, size=2, mode="constant")[::2, ::2, ::2] for a in (x, y))
        m = m[::2, ::2, ::2]
    return float(np.prod(np.clip(values, 0, 1)))


def test_ms_ssim_2025_tiny_volume_against_skimage_levels(pair) -> None:
    """20 x 22 x 18 must be edge-padded to 97 per axis for 5 levels (97, 49, 25, 13, 7)."""
    ct, sct, mask = pair
    value = ms_ssim_synthrad2025(ct, sct, mask)
    assert value == pytest.approx(_reference_ms_ssim(ct, sct, mask), abs=1e-9)
    assert 0.5 < value < 1.0
    assert ms_ssim_synthrad2025(ct, ct, mask) == pytest.approx(1.0)


def test_ms_ssim_2025_pads_with_edge_values(pair) -> None:
    """Padding happens inside: a volume already edge-padded to 97 gives the same number."""
    ct, sct, mask = pair
    pad = [((97 - n) // 2, 97 - n - (97 - n) // 2) for n in ct.shape]
    padded = [np.pad(a, pad, mode="edge") for a in (ct, sct, mask)]
    assert ms_ssim_synthrad2025(*padded) == pytest.approx(ms_ssim_synthrad2025(ct, sct, mask), abs=1e-12)


def test_synthrad2025_sets_outside_to_floor_and_clips_psnr_at_3071(pair) -> None:
    ct, sct, mask = pair
    sct = sct.copy()
    sct[mask & (ct > 500)] = 3500.0  # clipped to 3071 by the 2025 preset, to 3000 by 2023
    rows = {name: image_metrics(ct, sct, mask, preset) for name, preset in PRESETS.items()}
    assert rows["synthrad2023"]["mae"] == rows["synthrad2025"]["mae"] == pytest.approx(mae(ct, sct, mask))
    assert rows["synthrad2025"]["psnr"] == pytest.approx(psnr(ct, sct, mask, 3071.0))
    assert rows["synthrad2023"]["psnr"] == pytest.approx(psnr(ct, sct, mask, 3000.0))
    assert set(rows["synthrad2023"]) == {"mae", "me", "psnr", "ssim"}
    assert set(rows["synthrad2025"]) == {"mae", "me", "psnr", "ms_ssim"}


def test_dice_and_jaccard_on_half_overlapping_cubes() -> None:
    a, b = np.zeros((8, 4, 4), bool), np.zeros((8, 4, 4), bool)
    a[0:4], b[2:6] = True, True  # 64 voxels each, 32 shared
    result = skull_overlap(a, b, (1.0, 1.0, 1.0))
    assert result["dice"] == pytest.approx(0.5)
    assert result["jaccard"] == pytest.approx(1 / 3)


def test_hd95_parallel_planes_anisotropic_by_hand() -> None:
    """Two one-voxel-thick planes 3 voxels apart along a 2.5 mm axis: every distance is 7.5 mm."""
    a, b = np.zeros((10, 8, 8), bool), np.zeros((10, 8, 8), bool)
    a[2, 1:7, 1:7], b[5, 1:7, 1:7] = True, True
    assert hd95_mm(a, b, (2.5, 1.0, 0.7)) == pytest.approx(7.5)


def _brute_force_hd95(a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]) -> float:
    surfaces = [np.argwhere(x ^ binary_erosion(x)) * np.asarray(spacing) for x in (a, b)]
    distances = cdist(*surfaces)
    return max(np.percentile(distances.min(axis=1), 95), np.percentile(distances.min(axis=0), 95))


def test_hd95_shifted_cubes_against_brute_force() -> None:
    a, b = np.zeros((16, 14, 12), bool), np.zeros((16, 14, 12), bool)
    a[3:10, 3:9, 2:8] = True
    b[5:12, 4:10, 2:8] = True  # shifted by 2 voxels (2 x 2.5 mm) and 1 voxel (1 x 0.8 mm)
    spacing = (2.5, 0.8, 1.3)
    assert hd95_mm(a, b, spacing) == pytest.approx(_brute_force_hd95(a, b, spacing), rel=1e-6)
    assert hd95_mm(a, a, spacing) == 0.0


def test_empty_prediction_gives_zero_overlap_and_no_distance() -> None:
    ref = np.zeros((6, 6, 6), bool)
    ref[2:4, 2:4, 2:4] = True
    result = skull_overlap(np.zeros_like(ref), ref, (1.0, 1.0, 1.0))
    assert result["dice"] == 0.0 and result["jaccard"] == 0.0 and math.isnan(result["hd95_mm"])


def test_region_mae_by_hand() -> None:
    ct = np.array([-1000.0, -1000.0, 40.0, 40.0, 1000.0, 1000.0, 0.0]).reshape(7, 1, 1)
    sct = ct + np.array([10.0, 30.0, 5.0, -15.0, -200.0, 100.0, 500.0]).reshape(7, 1, 1)
    mask = np.array([1, 1, 1, 1, 1, 1, 0]).reshape(7, 1, 1)  # the last voxel is outside the head
    result = region_mae(ct, sct, ct_regions(ct, mask, 300.0))
    assert result == pytest.approx({"mae_bone": 150.0, "mae_soft": 10.0, "mae_air": 20.0})
    no_air = region_mae(ct, sct, ct_regions(ct, mask * (ct > -400), 300.0))
    assert math.isnan(no_air["mae_air"])


def test_mu_relative_error_by_hand() -> None:
    """0 HU -> 0.096 cm^-1; 100 HU at 120 kVp -> 5.10e-5 * 1100 + 4.71e-2 = 0.1032 cm^-1 (Carney 2006)."""
    ct, sct, mask = np.zeros((2, 2, 2)), np.full((2, 2, 2), 100.0), np.ones((2, 2, 2))
    assert mu_relative_error_pct(ct, sct, mask) == pytest.approx(100 * (0.1032 - 0.096) / 0.096, rel=1e-4)


def test_case_metrics_accumulates_and_aggregates(pair) -> None:
    ct, sct, mask = pair
    metrics = CaseMetrics("synthrad2025", bone_threshold_hu=300.0, mu_map=True)
    skull = (ct > 300) & mask
    first = metrics(ct, sct, mask, skull, np.eye(4), method="a", subject="s1")
    metrics(ct, ct, mask, skull, np.eye(4), method="a", subject="s2")
    assert first["method"] == "a" and first["dice"] == 1.0 and "ms_ssim" in first and "mu_rel_error_pct" in first
    (group,) = metrics.aggregate(["method"])
    assert group["method"] == "a" and group["mae"]["n"] == 2
    assert group["mae"]["mean"] == pytest.approx(first["mae"] / 2)
    assert metrics.metric_names[:4] == ["mae", "me", "psnr", "ms_ssim"]
