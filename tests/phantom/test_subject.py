"""Physics checks on simulated images (not only shapes): orderings, FLAIR nulling, SNR, CT numbers."""

import numpy as np
import pytest
from scipy import ndimage

from cranial_sct.phantom import simulate_subject
from cranial_sct.phantom.tissues import TISSUES, Tissue

FIELDS = (0.064, 1.5, 3.0, 7.0)


@pytest.fixture(scope="module")
def subject():
    return simulate_subject(11, FIELDS, ("t1w", "t2w", "flair"), spacing=2.5, subject_id="sub-test")


def pure(subject, tissue):
    """Voxels made entirely of one tissue (no partial volume)."""
    return subject.fractions.counts[tissue] == subject.fractions.subvoxels


def background(subject):
    """Air well away from the head, where a magnitude image holds only noise."""
    return ~ndimage.binary_dilation(subject.mask.array > 0, iterations=4)


def rician_sigma(image, where):
    return float(np.sqrt(np.mean(image[where].astype(np.float64) ** 2) / 2))


def test_all_volumes_share_one_grid(subject):
    volumes = [subject.labels, subject.mask, subject.ct, *subject.mr.values()]
    assert all(v.same_grid(subject.ct) for v in volumes)
    assert subject.ct.orientation == "RAS" and np.allclose(subject.ct.spacing, 2.5)
    assert set(subject.mr) == {(f, c) for f in FIELDS for c in ("t1w", "t2w", "flair")}


@pytest.mark.parametrize("field", FIELDS)
def test_mr_contrast_orderings(subject, field):
    def mean(contrast, tissue):
        return float(np.mean(subject.mr[(field, contrast)].array[pure(subject, tissue)]))

    assert mean("t1w", Tissue.WM) > mean("t1w", Tissue.GM) > mean("t1w", Tissue.CSF)
    assert mean("t1w", Tissue.FAT) > mean("t1w", Tissue.GM)
    assert mean("t2w", Tissue.CSF) > mean("t2w", Tissue.GM) > 0.7 * mean("t2w", Tissue.WM)
    # 5 mm low-field slices blur the thin tables with marrow and fat, so allow more partial volume there
    bone_limit = 0.5 if field < 0.5 else 0.2
    for contrast in ("t1w", "t2w", "flair"):
        assert mean(contrast, Tissue.OUTER_TABLE) < bone_limit * mean(contrast, Tissue.WM), contrast
        assert mean(contrast, Tissue.SINUS) < 0.2 * mean(contrast, Tissue.WM), contrast


@pytest.mark.parametrize("field", FIELDS)
def test_flair_nulls_csf_below_ten_percent_of_white_matter(subject, field):
    image = subject.mr[(field, "flair")].array
    ventricles = ndimage.binary_erosion(pure(subject, Tissue.CSF) & (subject.labels.array == Tissue.CSF))
    sigma = rician_sigma(image, background(subject))
    # E[M^2] = A^2 + 2 sigma^2 for Rician magnitudes: remove the noise floor before comparing.
    csf = np.sqrt(max(np.mean(image[ventricles].astype(np.float64) ** 2) - 2 * sigma**2, 0.0))
    assert ventricles.sum() > 20
    assert csf < 0.1 * np.mean(image[pure(subject, Tissue.WM)])


def test_estimated_snr_increases_with_field(subject):
    snr = []
    for field in FIELDS:
        image = subject.mr[(field, "t1w")].array
        snr.append(np.mean(image[pure(subject, Tissue.WM)]) / rician_sigma(image, background(subject)))
    assert snr == sorted(snr), snr
    assert snr[0] > 5


def test_ct_numbers_fall_in_each_tissue_range(subject):
    for tissue, props in TISSUES.items():
        where = pure(subject, tissue)
        if where.sum() < 10:
            continue
        median = float(np.median(subject.ct.array[where]))
        low, high = props.hu_range
        assert low - 20 <= median <= high + 20, (tissue.name, median)
    bone = subject.ct.array[pure(subject, Tissue.OUTER_TABLE)]
    assert bone.std() > 50  # bone density varies along the skull


def test_ct_is_int16_and_mask_covers_the_head(subject):
    assert subject.ct.array.dtype == np.int16
    assert subject.ct.array.min() >= -1024
    inside = subject.mask.array > 0
    assert (subject.labels.array[~inside] == Tissue.BACKGROUND).all()
    assert np.median(subject.ct.array[~inside]) < -950


def test_adding_a_field_or_contrast_leaves_the_others_unchanged():
    alone = simulate_subject(5, (1.5,), ("flair",), spacing=6.0)
    more = simulate_subject(5, (0.064, 1.5), ("t1w", "flair"), spacing=6.0)
    np.testing.assert_array_equal(alone.mr[(1.5, "flair")].array, more.mr[(1.5, "flair")].array)
    np.testing.assert_array_equal(alone.ct.array, more.ct.array)
