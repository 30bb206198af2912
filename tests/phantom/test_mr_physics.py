import numpy as np
import pytest

from cranial_sct.phantom.mr_physics import (
    CONTRASTS, nominal_acquisition, signal, site_acquisition, tissue_signal, with_csf_null)
from cranial_sct.phantom.tissues import TISSUES, Tissue

FIELDS = (0.064, 0.5, 1.5, 3.0, 7.0, 11.7)


def nominal(field, contrast, tissue):
    return tissue_signal(tissue, nominal_acquisition(field).sequences[contrast], field)


@pytest.mark.parametrize("field", FIELDS)
def test_contrast_orderings_hold_at_every_field(field):
    t1 = {t: nominal(field, "t1w", t) for t in Tissue}
    t2 = {t: nominal(field, "t2w", t) for t in Tissue}
    flair = {t: nominal(field, "flair", t) for t in Tissue}
    assert t1[Tissue.WM] > t1[Tissue.GM] > t1[Tissue.CSF]
    assert t1[Tissue.DIPLOE] > t1[Tissue.GM]  # fatty marrow is bright on T1w
    assert t2[Tissue.CSF] > 1.5 * max(t2[Tissue.GM], t2[Tissue.WM])
    assert flair[Tissue.CSF] < 0.1 * flair[Tissue.WM]
    for image in (t1, t2, flair):
        for dark in (Tissue.OUTER_TABLE, Tissue.INNER_TABLE, Tissue.PETROUS, Tissue.BACKGROUND, Tissue.SINUS):
            assert image[dark] < 0.05 * image[Tissue.WM], dark


def test_flair_ti_nulls_csf_for_any_tr():
    flair = nominal_acquisition(3.0).sequences["flair"]
    for tr in (5000.0, 11000.0):
        sequence = with_csf_null(flair.__class__(**{**flair.__dict__, "tr_ms": tr}), 3.0)
        assert tissue_signal(Tissue.CSF, sequence, 3.0) < 1e-6


def test_site_jitter_is_small_and_keeps_csf_suppressed():
    rng = np.random.default_rng(1)
    base = nominal_acquisition(1.5)
    for _ in range(20):
        site = site_acquisition(base, rng)
        assert abs(site.sequences["t1w"].tr_ms / base.sequences["t1w"].tr_ms - 1) < 0.15
        csf = tissue_signal(Tissue.CSF, site.sequences["flair"], 1.5)
        assert csf < 0.05 * tissue_signal(Tissue.WM, site.sequences["flair"], 1.5)


def test_snr_and_b1_inhomogeneity_grow_with_field():
    acquisitions = [nominal_acquisition(f) for f in (0.064, 1.5, 3.0, 7.0)]
    per_mm3 = [a.snr_native / np.prod(a.voxel_mm) / np.sqrt(a.averages) for a in acquisitions]
    assert per_mm3 == sorted(per_mm3)
    assert [a.b1_cv for a in acquisitions] == sorted(a.b1_cv for a in acquisitions)
    assert 0.03 <= acquisitions[2].b1_cv <= 0.05 and 0.1 <= acquisitions[3].b1_cv <= 0.3  # DESIGN 4
    assert acquisitions[0].voxel_mm[2] >= 4.0  # thick low-field slices


def test_lower_transmit_field_changes_spin_echo_signal():
    props = TISSUES[Tissue.WM]
    fse = nominal_acquisition(7.0).sequences["t2w"]
    low, full = (signal(fse, props.t1_at(7), props.t2_at(7), props.pd, b1) for b1 in (0.7, 1.0))
    assert low < 0.8 * full


def test_every_contrast_has_a_protocol():
    assert set(nominal_acquisition(0.3).sequences) == set(CONTRASTS)
