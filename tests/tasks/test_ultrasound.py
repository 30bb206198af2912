"""Transcranial ultrasound: the porosity model's anchors and a real jwave run on a small slice."""

from __future__ import annotations

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.tasks import ultrasound

SPACING = (2.0, 2.0)


def test_the_porosity_model_anchors_water_and_dense_bone():
    maps = ultrasound.hu_to_acoustic(np.array([-1000.0, 0.0, 500.0, 1000.0, 2000.0]), frequency_mhz=0.5)
    np.testing.assert_allclose(maps.sound_speed, [1500, 1500, 2200, 2900, 2900])
    np.testing.assert_allclose(maps.density, [1000, 1000, 1600, 2200, 2200])
    porous = 2.0 + 78.0 * np.sqrt(0.5)  # dB/cm at 1 MHz, porosity 0.5
    np.testing.assert_allclose(maps.attenuation, np.array([0, 0, porous, 2.0, 2.0]) * 0.5, rtol=1e-6)
    assert ultrasound.hu_to_acoustic(np.array([1000.0]), 1.0).attenuation[0] == pytest.approx(2.0)


def test_a_frequency_no_transducer_uses_is_refused():
    with pytest.raises(InputError, match="--frequency 50"):
        ultrasound.hu_to_acoustic(np.zeros(3), frequency_mhz=50)


def disc(size: int, radius_px: float) -> np.ndarray:
    y, x = np.indices((size, size)) - (size - 1) / 2
    return np.hypot(x, y) <= radius_px


def test_in_a_homogeneous_medium_the_focus_lies_at_the_geometric_focus():
    pytest.importorskip("jwave")
    water = np.zeros((21, 21))  # 0 HU everywhere: water, no skull
    head, cavity = disc(21, 8), disc(21, 6)
    result = ultrasound.simulate_target("deep", water, water.copy(), head, cavity, SPACING, (10, 10), (1, 0), frequency_mhz=0.5)
    offset = result.ct.position_mm - result.setup.target_mm
    # on the beam's axis, and at most 20 % of the focal length before it: a focused source of Fresnel
    # number a^2 / (lambda F) = 13^2 / (3 x 26) ~ 2 peaks short of its geometric focus (O'Neil 1949)
    assert abs(offset[1]) <= result.setup.step_mm / 2
    assert 0 <= offset[0] <= 0.2 * result.setup.radius_mm
    wavelength_mm = 3.0
    assert result.metrics() == {"us_deep_pressure_diff_pct": 0.0, "us_deep_shift_mm": 0.0, "us_deep_area_diff_pct": 0.0}
    assert wavelength_mm**2 < result.ct.area_mm2 < 100 * wavelength_mm**2
