"""Figures render to PNG, and image panels show the same anatomy whatever the file's orientation."""

from __future__ import annotations

import numpy as np

from cranial_sct.evaluation.figures import PanelCase, _slice_and_crop, case_panels, metric_boxplots
from cranial_sct.io.volume import Volume
from tests.evaluation.study import AFFINE, head, synthetic_sct


def _case(affine: np.ndarray, flip: tuple[int, ...] = ()) -> PanelCase:
    ct, mask, mr = head(0)
    sct = synthetic_sct(ct, 30.0, seed=1)
    arrays = [np.flip(a, flip) if flip else a for a in (ct, mask, mr, sct)]
    ct, mask, mr, sct = arrays
    return PanelCase("case", Volume(ct, affine), Volume(sct, affine), mask, sct > 300, ct > 300, Volume(mr, affine))


def test_slices_do_not_depend_on_storage_orientation() -> None:
    """The same head stored RAS and stored LPS (axes 0, 1 flipped, affine to match) looks the same."""
    shape = np.array(head(0)[0].shape)
    lps = AFFINE @ np.diag([-1.0, -1.0, 1.0, 1.0])
    lps[:2, 3] = AFFINE.diagonal()[:2] * (shape[:2] - 1)  # flipped voxel n-1-i lands where voxel i was
    ras_slices, ras_spacing = _slice_and_crop(_case(AFFINE))
    lps_slices, lps_spacing = _slice_and_crop(_case(lps, flip=(0, 1)))
    assert ras_spacing == lps_spacing == (1.2, 1.0)
    for a, b in zip(ras_slices, lps_slices):
        np.testing.assert_array_equal(a, b)


def test_figures_are_png() -> None:
    rows = [{"method": m, "field_T": f, "mae": v, "dice": 0.9} for m, v in (("a", 30.0), ("b", 60.0)) for f in ("1.5", "7")]
    png_signature = b"\x89PNG\r\n\x1a\n"
    assert metric_boxplots(rows, [("mae", "MAE"), ("dice", "Dice")], ["1.5", "7"], ["a", "b"]).startswith(png_signature)
    assert case_panels([_case(AFFINE), _case(AFFINE)]).startswith(png_signature)
