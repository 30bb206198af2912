"""Proton WEPL against answers known in advance: water slabs, the calibration curve's anchors."""

from __future__ import annotations

import numpy as np
import pytest

from cranial_sct.conversion import read_hu_table
from cranial_sct.errors import InputError
from cranial_sct.tasks import proton

SPACING = (2.0, 1.5, 2.5)


def test_the_schneider_curve_anchors_air_water_and_is_continuous():
    rsp = proton.hu_to_rsp(np.array([-1000.0, 0.0, 41.46, 1000.0]))
    np.testing.assert_allclose(rsp, [0.00106, 1.0, 1.04867, 1.0279 + 0.5011], atol=1e-5)
    below, above = proton.hu_to_rsp(np.array([41.45, 41.47]))
    assert above - below == pytest.approx(0.0, abs=2e-5)


def test_a_water_slab_gives_its_exact_wepl():
    rsp = np.zeros((20, 16, 12))
    rsp[5:15] = 1.0  # water along axis 0, voxels 5..14
    target = np.array([[12.0, 8.0, 6.0]])
    toward_low = np.array([[-1.0, 0.0, 0.0]])
    toward_high = np.array([[1.0, 0.0, 0.0]])
    # from the target's centre to the slab's face: 7.5 voxels below, 2.5 above, 2 mm each
    assert proton.wepl_mm(rsp, SPACING, target, toward_low)[0, 0] == pytest.approx(7.5 * 2.0)
    assert proton.wepl_mm(rsp, SPACING, target, toward_high)[0, 0] == pytest.approx(2.5 * 2.0)


def test_a_denser_slab_in_the_sct_shifts_every_crossing_beam_by_its_extra_wepl():
    ct = np.full((60, 80, 28), 0.0)  # a water block, 120 x 120 x 60 mm, with air above
    ct[:, :, 24:] = -1000.0
    sct = ct.copy()
    sct[:, :, 18:24] = 1000.0  # bone-dense cap on top: 6 voxels x 2.5 mm = 15 mm of RSP 1.529 instead of 1
    cavity = np.zeros(ct.shape, bool)
    cavity[26:34, 36:44, 4:12] = True
    result = proton.proton_ranges(ct, sct, SPACING, cavity, axis=2)
    metrics = result.metrics()
    vertical_beams = np.abs(proton.beam_directions(2)[:, 2]) > 0
    expected = 15.0 * (proton.hu_to_rsp(np.array([1000.0]))[0] - 1) / np.sin(np.pi / 4)
    np.testing.assert_allclose(result.difference[:, vertical_beams], expected, rtol=0.02)
    np.testing.assert_allclose(result.difference[:, ~vertical_beams], 0.0, atol=1e-9)
    assert metrics["proton_wepl_worst_mm"] == pytest.approx(expected, rel=0.02)
    assert metrics["proton_within_1mm_pct"] == pytest.approx(100 * 8 / 12)
    assert metrics["proton_wepl_median_mm"] == 0.0


def test_a_user_rsp_table_is_read_and_a_bad_one_names_its_file(tmp_path):
    good = tmp_path / "rsp.csv"
    good.write_text("hu,rsp\n-1000,0\n0,1\n2000,2\n")
    assert proton.hu_to_rsp(np.array([1000.0]), read_hu_table(good, "rsp"))[0] == pytest.approx(1.5)
    bad = tmp_path / "bad.csv"
    bad.write_text("hu,rsp\n0,1\nwater,2\n")
    with pytest.raises(InputError, match="bad.csv.*'hu,rsp'"):
        read_hu_table(bad, "rsp")
