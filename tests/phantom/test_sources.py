"""Anatomy sources: the seam, and hand-made label maps and CTs rendered as phantom heads, each draw a new one."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.io.manifest import read_manifest
from cranial_sct.phantom.grids import Grid
from cranial_sct.phantom.anatomy import GALEA_MM, SCALP_FAT_MIN_MM, SCALP_FAT_MM, SCALP_FAT_SD_MM, SKIN_MM
from cranial_sct.phantom.sources import CAVITY_CENTRE_MM, join_heads, parse_anatomy, resplit_scalp
from cranial_sct.phantom.subject import simulate_subject
from cranial_sct.phantom.tissues import BONE_TISSUES, Tissue
from cranial_sct.phantom.voxelise import TissueFractions
from tests.phantom.test_label_maps import AFFINE, ct_head, synthseg_head

SPACING = 4.0  # output grid; labels drawn on its 2-mm fine grid
BRAIN = (Tissue.WM, Tissue.GM, Tissue.CSF)


def test_the_seam_parses_every_kind_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    assert parse_anatomy("procedural").kind == "procedural"
    head = synthseg_head(tmp_path / "maps")
    source = parse_anatomy(f"labels:{head.parent}")
    assert source.paths == (head,) and source.head_name(3) == "labels:subject01_seg.nii.gz"
    mixture = parse_anatomy(f"procedural+labels:{head.parent}")
    assert [mixture.head_name(i) for i in range(4)] == ["procedural", "labels:subject01_seg.nii.gz"] * 2
    assert mixture.part(3) == (mixture.parts[1], 1)
    with pytest.raises(InputError, match="expected procedural"):
        parse_anatomy("brainweb")
    with pytest.raises(InputError, match="does not exist"):
        parse_anatomy(f"ct:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \*.nii or \*.nii.gz file in"):
        parse_anatomy(f"ct:{tmp_path / 'empty'}")


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
    assert counts[Tissue.SKIN].any() and counts[Tissue.FAT].any() and "scalp_fat_mm" in first.anatomy
    bone = np.isin(labels, BONE_TISSUES)
    assert np.median(ct[bone]) > BONE_THRESHOLD_HU and abs(np.median(ct[brain])) < 60
    mr = first.mr[(1.5, "t1w")].array
    assert np.median(mr[labels == Tissue.WM]) > 2 * np.median(mr[labels == Tissue.OUTER_TABLE])


def test_a_label_maps_muscle_scalp_is_split_into_skin_fat_and_a_galea_on_the_bone() -> None:
    """12 mm of muscle-grey scalp on a ball skull, at 0.5 mm: skin, then the drawn fat, then muscle down to the bone."""
    grid = Grid((-29.75, -29.75, -29.75), 0.5, (120, 120, 120))  # its 0.25-mm fine grid, centred on the ball
    axis = np.arange(-29.875, 30.0, 0.25)
    radius = np.sqrt(sum(a ** 2 for a in np.meshgrid(axis, axis, axis, indexing="ij")))
    labels = np.select([radius < 10, radius < 16, radius < 28], [Tissue.WM, Tissue.OUTER_TABLE, Tissue.MUSCLE],
                       Tissue.BACKGROUND).astype(np.uint8)
    split = labels.copy()
    record = resplit_scalp(split, np.random.default_rng(3), grid)
    again = labels.copy()
    assert resplit_scalp(again, np.random.default_rng(3), grid) == record
    np.testing.assert_array_equal(split, again)
    assert SCALP_FAT_MM[0] <= record["scalp_fat_mm"] <= SCALP_FAT_MM[1] and GALEA_MM[0] <= record["galea_mm"] <= GALEA_MM[1]
    depth = 28 - radius
    np.testing.assert_array_equal(split[labels != Tissue.MUSCLE], labels[labels != Tissue.MUSCLE])
    assert (split[(labels == Tissue.MUSCLE) & (depth < SKIN_MM - 0.3)] == Tissue.SKIN).all()
    fat = split == Tissue.FAT
    assert depth[fat].min() >= SKIN_MM - 0.3 and (radius[fat] - 16).min() >= record["galea_mm"] - 0.3
    assert (split[(labels == Tissue.MUSCLE) & (radius < 16 + record["galea_mm"] - 0.3)] == Tissue.MUSCLE).all()
    fat_mm = fat.sum() * 0.25 ** 3 / (4 * np.pi * 24 ** 2)  # the fat's volume over its mid-layer's area
    assert SCALP_FAT_MIN_MM - 0.3 <= fat_mm <= record["scalp_fat_mm"] + 3 * SCALP_FAT_SD_MM  # varied by a smooth field


def test_a_coarse_ct_has_its_marrow_split_by_depth_not_by_hu(tmp_path: Path) -> None:
    """At 4 mm a thin skull's voxels read under any cortical threshold; a 2-mm CT keeps its HU split."""
    coarse = tmp_path / "coarse.nii.gz"
    nib.save(nib.Nifti1Image(ct_head()[::2, ::2, ::2].astype(np.int16), AFFINE @ np.diag([2.0, 2.0, 2.0, 1.0])), coarse)
    fine = tmp_path / "fine.nii.gz"
    nib.save(nib.Nifti1Image(ct_head().astype(np.int16), AFFINE), fine)
    coarse_head = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", parse_anatomy(f"ct:{coarse}"), 0)
    fine_head = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", parse_anatomy(f"ct:{fine}"), 0)
    assert 1.0 <= coarse_head.anatomy["table_mm"] <= 2.2 and "table_mm" not in fine_head.anatomy
    counts = coarse_head.fractions.counts
    assert counts[Tissue.OUTER_TABLE].sum() > counts[Tissue.DIPLOE].sum() > 0 and not counts[Tissue.BONE].any()


def test_simulate_cli_records_each_subjects_source_in_a_mixed_cohort(cli, tmp_path: Path) -> None:
    ct_folder = tmp_path / "cts"
    ct_folder.mkdir()
    nib.save(nib.Nifti1Image(ct_head().astype(np.int16), AFFINE), ct_folder / "head_a.nii.gz")
    result = cli("simulate", "--out", tmp_path / "out", "--subjects", "2", "--fields", "1.5", "--contrasts", "t1w",
                 "--spacing", str(SPACING), "--anatomy", f"procedural+ct:{ct_folder}")
    assert result.returncode == 0, result.stderr
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert {row.subject: row.anatomy for row in rows} == {"sub-000": "procedural", "sub-001": "ct:head_a.nii.gz"}
    records = json.loads((tmp_path / "out" / "tissues.json").read_text())["subjects"]
    assert records["sub-000"]["anatomy"]["source"] == "procedural" and records["sub-000"]["shape"] is not None
    record = records["sub-001"]
    assert record["anatomy"]["source"] == "ct:head_a.nii.gz" and 650 <= record["anatomy"]["cortical_hu"] <= 950 and record["shape"] is None
    labels = nib.load(tmp_path / "out" / "sub-001" / "labels.nii.gz").get_fdata()
    assert (labels == Tissue.DIPLOE).any() and (labels == Tissue.BONE).any()
    bad = cli("simulate", "--out", tmp_path / "bad", "--anatomy", "labels:" + str(tmp_path / "missing"))
    assert bad.returncode == 2 and "--anatomy" in bad.stderr and "Traceback" not in bad.stderr


def test_a_joined_head_is_the_base_head_below_its_widest_cavity_slice_and_a_vault_head_above(tmp_path: Path) -> None:
    """``ct:PATH^procedural``: the CT's skull base as the CT alone draws it, a phantom's vault on top, the skull's
    wall continuous across the join, every voxel still one voxel of tissue."""
    path = tmp_path / "head.nii.gz"
    nib.save(nib.Nifti1Image(ct_head().astype(np.int16), AFFINE), path)
    joined = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", parse_anatomy(f"ct:{path}^procedural"), 0)
    alone = simulate_subject(5, [1.5], ["t1w"], SPACING, "sub-000", parse_anatomy(f"ct:{path}"), 0)
    record = joined.anatomy
    assert record["source"] == "ct:head.nii.gz^procedural" and record["base"]["source"] == "ct:head.nii.gz"
    assert record["vault"]["source"] == "procedural" and len(record["vault_stretch"]) == 2
    join = int(np.flatnonzero(joined.labels.affine[2, 3] + SPACING * np.arange(joined.labels.shape[2]) == record["join_z_mm"])[0])
    counts = joined.fractions.counts
    np.testing.assert_array_equal(counts[..., :join], alone.fractions.counts[..., :join])
    assert (counts[..., join:] != alone.fractions.counts[..., join:]).any()
    assert (counts.sum(axis=0) == joined.fractions.subvoxels).all()
    brain = np.isin(joined.labels.array, BRAIN)
    below, above = (np.argwhere(brain[..., z]).std(axis=0) for z in (join - 1, join))
    assert np.abs(below - above).max() < 1.0  # voxels: the cavity, and so the skull's wall, does not step
    assert np.isin(joined.labels.array[..., join:], BONE_TISSUES).sum() > 0
    with pytest.raises(InputError, match="a join is BASE\\^VAULT"):
        parse_anatomy(f"ct:{path}^procedural^procedural")


def test_a_join_with_a_head_that_has_no_cranial_cavity_is_refused_in_one_line() -> None:
    grid = Grid((0.0, 0.0, 0.0), 4.0, (6, 6, 6))
    counts = np.zeros((len(Tissue), *grid.shape), np.uint8)
    counts[Tissue.MUSCLE] = TissueFractions.subvoxels
    neck = TissueFractions(counts, grid)
    with pytest.raises(InputError, match="--anatomy ct:neck.nii.gz\\^procedural: ct:neck.nii.gz has no cranial cavity"):
        join_heads(neck, neck, "ct:neck.nii.gz^procedural")
