"""PET attenuation against answers known in advance: a uniform cylinder's ACF, no error, a known offset."""

from __future__ import annotations

import numpy as np
import pytest

from cranial_sct.conversion import MU_WATER_511KEV, hu_to_mu_511kev
from cranial_sct.phantom.tissues import Tissue
from cranial_sct.tasks import pet

SIDE_MM = 2.0


def disc(size: int, radius_px: float) -> np.ndarray:
    y, x = np.indices((size, size)) - (size - 1) / 2
    return np.hypot(x, y) <= radius_px


def test_a_uniform_water_cylinder_gives_its_analytic_acf():
    cylinder = disc(81, 30)  # odd size: the disc's centre is skimage's rotation centre
    acf = pet.attenuation_factors(MU_WATER_511KEV * cylinder, SIDE_MM)
    offsets = np.arange(acf.shape[0]) - acf.shape[0] // 2  # detector bins from the centre (pixels)
    radius = np.sqrt(cylinder.sum() / np.pi)  # the pixelated disc's area-equivalent radius
    chord_cm = 2 * np.sqrt(np.clip(radius**2 - offsets**2, 0, None)) * SIDE_MM / 10
    central = np.abs(offsets) < 0.7 * radius  # away from the rim, where a pixelated disc is not a circle
    pixel_of_water = MU_WATER_511KEV * SIDE_MM / 10  # a pixelated chord may differ from the circle's by a pixel at each end
    assert np.abs(np.log(acf[central]) - MU_WATER_511KEV * chord_cm[central, None]).max() <= 2 * pixel_of_water
    assert acf[acf.shape[0] // 2].mean() == pytest.approx(np.exp(MU_WATER_511KEV * 12.0), rel=0.01)  # 12 cm of water: ACF 3.2


def cylinder_head(hu_brain: float) -> tuple[np.ndarray, np.ndarray]:
    """A stack of 6 slices: water-like brain disc inside a 1000 HU ring, in air; and the brain cavity."""
    ring, brain = disc(64, 28), disc(64, 24)
    slice_hu = np.where(ring, 1000.0, -1000.0)
    slice_hu[brain] = hu_brain
    return np.repeat(slice_hu[:, :, None], 6, axis=2), np.repeat(brain[:, :, None], 6, axis=2)


def test_an_exact_sct_has_no_acf_error_and_no_bias():
    ct, cavity = cylinder_head(30.0)
    result = pet.pet_attenuation(ct, ct.copy(), (SIDE_MM,) * 3, cavity, axis=2)
    metrics = result.metrics()
    assert metrics["pet_acf_error_mean_pct"] == 0.0 and metrics["pet_bias_brain_pct"] == 0.0
    assert np.isnan(metrics["pet_bias_cortex_pct"])  # no labels: no regions, said with NaN


def test_a_denser_brain_overcorrects_by_the_chord_through_it():
    ct, cavity = cylinder_head(0.0)
    sct, _ = cylinder_head(100.0)  # above Carney's 47 HU break: mu 0.096 -> 0.103
    result = pet.pet_attenuation(ct, sct, (SIDE_MM,) * 3, cavity, axis=2)
    metrics = result.metrics()
    central_chord_cm = 2 * 24.5 * SIDE_MM / 10
    delta_mu = float(np.diff(hu_to_mu_511kev(np.array([0.0, 100.0])))[0])
    assert result.acf_error_pct.max() == pytest.approx(100 * (np.exp(delta_mu * central_chord_cm) - 1), rel=0.03)
    assert 0 < metrics["pet_acf_error_p5_pct"] < metrics["pet_acf_error_mean_pct"] < metrics["pet_acf_error_p95_pct"]
    assert 0 < metrics["pet_bias_brain_pct"] < metrics["pet_acf_error_p95_pct"]
    assert np.isfinite(result.sinogram).any()


def test_regions_from_the_phantom_labels():
    labels = np.zeros((10, 10, 10), np.uint8)
    labels[2:8, 2:8, 6:9] = Tissue.GM  # cerebrum's cortex, above
    labels[4:6, 4:6, 4:6] = Tissue.DEEP_GM
    labels[2:8, 0:3, 0:3] = Tissue.WM  # below the nuclei and behind them (posterior = low y in RAS)
    labels[2:8, 7:10, 0:3] = Tissue.GM  # below but in front: not cerebellum
    regions = pet.brain_regions(labels, np.eye(4))
    assert regions["deep_gm"].sum() == 8
    assert regions["cerebellum"].sum() == 6 * 3 * 3 and not regions["cerebellum"][:, 7:].any()
    assert regions["cortex"].sum() == 6 * 6 * 3 + 6 * 3 * 3
