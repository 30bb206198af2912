"""Anatomy sources: a hand-made SynthSeg-style label map and a hand-made CT rendered as phantom heads, and the seam."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.io.manifest import read_manifest
from cranial_sct.phantom.label_maps import AIR_DEPTH_MM, airways, ct_tissues
from cranial_sct.phantom.sources import CAVITY_CENTRE_MM, parse_anatomy
from cranial_sct.phantom.subject import simulate_subject
from cranial_sct.phantom.tissues import BONE_TISSUES, Tissue

SPACING = 4.0  # output grid; labels drawn on its 2-mm fine grid
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


def ct_head() -> np.ndarray:
    """The same head as a CT in HU: brain 25-40, CSF 8, cortical 1300 around a 500-HU diploe, scalp fat and muscle."""
    radius = ball_radius()
    hu = np.select([radius < 35, radius < 47, radius < 50, radius < 52, radius < 56, radius < 58, radius < 61, radius < 66],
                   [25.0, 40.0, 8.0, 1300.0, 500.0, 1300.0, -90.0, 50.0], -1000.0)
    hu[SINUS] = -1000.0
    return hu


def test_the_seam_parses_every_kind_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    assert parse_anatomy("procedural").kind == "procedural"
    head = synthseg_head(tmp_path / "maps")
    source = parse_anatomy(f"labels:{head.parent}")
    assert source.paths == (head,) and source.head_name(3) == "labels:subject01_seg.nii.gz"
    with pytest.raises(InputError, match="expected procedural"):
        parse_anatomy("brainweb")
    with pytest.raises(InputError, match="does not exist"):
        parse_anatomy(f"ct:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \*.nii or \*.nii.gz file in"):
        parse_anatomy(f"ct:{tmp_path / 'empty'}")


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
    brain = labels[radius < 47]
    assert 0.05 < (brain == Tissue.CSF).mean() < 0.3 and (brain == Tissue.GM).mean() > 0.3


def test_a_label_map_head_is_rendered_by_the_phantom_physics_and_each_draw_is_new(tmp_path: Path) -> None:
    source = parse_anatomy(f"labels:{synthseg_head(tmp_path)}")
    first = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", source, 0)
    again = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", source, 0)
    other = simulate_subject(6, [1.5], ["t1w"], SPACING, "sub-001", source, 1)
    labels, ct = first.labels.array, first.ct.array
    np.testing.assert_array_equal(labels, again.labels.array)
    np.testing.assert_array_equal(first.mr[(1.5, "t1w")].array, again.mr[(1.5, "t1w")].array)
    assert (labels != other.labels.array).mean() > 0.01 and first.anatomy["scale"] != other.anatomy["scale"]
    brain = np.isin(labels, (Tissue.WM, Tissue.GM, Tissue.CSF))
    centre = first.labels.affine[:3, :3] @ np.argwhere(brain).mean(axis=0) + first.labels.affine[:3, 3]
    assert np.abs(centre - CAVITY_CENTRE_MM).max() < 2 * SPACING
    counts = first.fractions.counts
    assert counts[Tissue.OUTER_TABLE].any() and counts[Tissue.DIPLOE].any() and counts[Tissue.SINUS].any()
    assert first.anatomy["source"] == "labels:subject01_seg.nii.gz" and 1.0 <= first.anatomy["table_mm"] <= 2.2
    bone = np.isin(labels, BONE_TISSUES)
    assert np.median(ct[bone]) > BONE_THRESHOLD_HU and abs(np.median(ct[brain])) < 60
    mr = first.mr[(1.5, "t1w")].array
    assert np.median(mr[labels == Tissue.WM]) > 2 * np.median(mr[labels == Tissue.OUTER_TABLE])


def test_simulate_cli_records_each_subjects_source(cli, tmp_path: Path) -> None:
    ct_folder = tmp_path / "cts"
    ct_folder.mkdir()
    nib.save(nib.Nifti1Image(ct_head().astype(np.int16), AFFINE), ct_folder / "head_a.nii.gz")
    result = cli("simulate", "--out", tmp_path / "out", "--subjects", "2", "--fields", "1.5", "--contrasts", "t1w",
                 "--spacing", str(SPACING), "--anatomy", f"ct:{ct_folder}")
    assert result.returncode == 0, result.stderr
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert {row.anatomy for row in rows} == {"ct:head_a.nii.gz"} and len({row.subject for row in rows}) == 2
    record = json.loads((tmp_path / "out" / "tissues.json").read_text())["subjects"]["sub-001"]
    assert record["anatomy"]["source"] == "ct:head_a.nii.gz" and 650 <= record["anatomy"]["cortical_hu"] <= 950 and record["shape"] is None
    labels = nib.load(tmp_path / "out" / "sub-000" / "labels.nii.gz").get_fdata()
    assert (labels == Tissue.DIPLOE).any() and (labels == Tissue.BONE).any()
    bad = cli("simulate", "--out", tmp_path / "bad", "--anatomy", "labels:" + str(tmp_path / "missing"))
    assert bad.returncode == 2 and "--anatomy" in bad.stderr and "Traceback" not in bad.stderr
