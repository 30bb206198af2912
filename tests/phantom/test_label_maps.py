"""Real heads as tissue labels: a hand-made CT labelled by HU, SynthSeg-style label maps, airways open to the outside."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from cranial_sct.phantom.label_maps import AIR_DEPTH_MM, airways, ct_tissues, read_label_map
from cranial_sct.phantom.tissues import Tissue

SINUS = (slice(37, 43), slice(65, 68), slice(29, 32))  # air in the front of the skull, under its outer table
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0]) + np.array([[0, 0, 0, -80.0], [0, 0, 0, -80.0], [0, 0, 0, -80.0], [0, 0, 0, 0]])


def ball_radius() -> np.ndarray:
    """Distance (mm) of each voxel of an 80^3, 2-mm grid from its centre, and that centre at world (0, 0, 0)."""
    return np.sqrt(sum(axis**2 for axis in np.ogrid[-40:40, -40:40, -40:40])) * 2.0


def synthseg_head(folder: Path) -> Path:
    """White matter, cortex and CSF inside a 8-mm skull (165), under 8 mm of soft tissue (258), with a sinus."""
    radius = ball_radius()
    codes = np.select([radius < 35, radius < 47, radius < 50, radius < 58, radius < 66], [2, 3, 24, 165, 258], 0).astype(np.int16)
    codes[SINUS] = 0
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "subject01_seg.nii.gz"
    nib.save(nib.Nifti1Image(codes, AFFINE), path)
    return path


def test_a_synthseg_map_is_read_as_phantom_tissues(tmp_path: Path) -> None:
    head = read_label_map(synthseg_head(tmp_path))
    radius = ball_radius()
    assert head.name == "synthseg/subject01" and head.kind == "synthseg"
    skull = (radius > 51) & (radius < 57)
    skull[SINUS] = False
    assert head.labels[40, 40, 40] == Tissue.WM and (head.labels[skull] == Tissue.OUTER_TABLE).all()
    assert (head.labels[SINUS] == Tissue.SINUS).all() and head.labels[0, 0, 0] == Tissue.BACKGROUND  # enclosed air is sinus


def ct_head() -> np.ndarray:
    """The same head as a CT in HU: brain 25-40, CSF 8, cortical 1300 around a 500-HU diploe, scalp fat and muscle."""
    radius = ball_radius()
    hu = np.select([radius < 35, radius < 47, radius < 50, radius < 52, radius < 56, radius < 58, radius < 61, radius < 66],
                   [25.0, 40.0, 8.0, 1300.0, 500.0, 1300.0, -90.0, 50.0], -1000.0)
    hu[SINUS] = -1000.0
    return hu


def test_an_airway_open_to_the_outside_is_inside_the_head_and_the_outside_is_not() -> None:
    """A 10-mm nostril from the skin 30 mm into a 2-mm ball head, and a 4-mm notch in its skin."""
    radius = ball_radius()
    body = radius < 66
    nostril = (slice(38, 43), slice(55, 80), slice(38, 43))  # y from 30 mm to outside
    notch = (slice(6, 10), slice(38, 43), slice(38, 43))  # at the skin on the left, x from -68 to -62 mm
    body[nostril] = False
    body[notch] = body[notch] & (radius[notch] < 62)
    air = airways(body, (2.0, 2.0, 2.0))
    assert air[40, 55:62, 40].all() and air[0, 0, 0] == False  # noqa: E712
    assert not body[8, 40, 40] and not air[notch].any()  # a dent 4 mm deep: shallower than AIR_DEPTH_MM
    assert not (air & body).any() and AIR_DEPTH_MM > 4
    cut = body[:, :, 40:]  # the head cut through its middle, the nostril in the cut plane's neighbourhood
    assert airways(cut, (2.0, 2.0, 2.0), cut_axes=(2,))[40, 55:62, 0].all()
    assert not airways(cut, (2.0, 2.0, 2.0), cut_axes=(2,))[0, 0, 0]


def test_ct_tissues_by_hu() -> None:
    labels = ct_tissues(ct_head(), AFFINE, cortical_hu=800.0).labels
    radius = ball_radius()
    assert labels[40, 40, 40] in (Tissue.WM, Tissue.GM, Tissue.CSF) and labels[0, 0, 0] == Tissue.BACKGROUND
    assert set(np.unique(labels[(radius > 35) & (radius < 50)])) <= {Tissue.CSF, Tissue.WM, Tissue.GM}
    assert (labels[(radius > 52.5) & (radius < 55.5)] == Tissue.DIPLOE).mean() > 0.9
    assert (labels[(radius > 50.5) & (radius < 51.5)] == Tissue.BONE).mean() > 0.9
    assert (labels[(radius > 58.5) & (radius < 60.5)] == Tissue.FAT).mean() > 0.9
    assert (labels[SINUS] == Tissue.SINUS).all()
    assert (labels[(radius > 47.5) & (radius < 49.5)] == Tissue.CSF).mean() > 0.95  # 8 HU against the brain's 25-40
    assert (labels[radius < 30] == Tissue.WM).all() and (labels[(radius > 36) & (radius < 45)] == Tissue.GM).all()


def test_the_cranial_cavity_holds_the_brain_behind_a_gap_and_leaves_the_neck_out() -> None:
    """A slot through the skull one slice high and wider than twice ``RING_GAP_MM`` (no axial closing bridges it) and an
    8-mm foramen joining the brain to a neck of muscle: the brain is brain in every slice, the neck and scalp are not."""
    hu = ct_head()
    radius = ball_radius()
    x, y, z = np.mgrid[-40:40, -40:40, -40:40] * 2.0  # mm from the centre
    hu[(z == 40.0) & (x > 0) & (np.abs(y) < 15) & (radius > 47) & (radius < 61)] = 40.0  # a slot 2 mm high, 28 wide
    hu[(z < 0) & (np.hypot(x, y) < 4) & (radius > 47)] = 40.0  # the foramen, down to the grid's edge
    hu[(z < -66) & (np.hypot(x, y) < 30)] = 50.0  # the neck
    labels = ct_tissues(hu, AFFINE, cortical_hu=800.0).labels
    brain = np.isin(labels, [Tissue.CSF, Tissue.WM, Tissue.GM])
    assert brain[radius < 45].all()  # the slot's slice too
    assert not brain[(z < -70)].any() and not brain[(radius > 62) & (radius < 65)].any()
