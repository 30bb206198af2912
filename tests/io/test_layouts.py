import json

import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.layouts import discover
from cranial_sct.io.manifest import ManifestRow, write_manifest


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_layout_parses_field_and_contrast(tmp_path):
    for name in ("mr_1.5T_t1w.nii.gz", "mr_0.064T_flair.nii.gz", "ct.nii.gz", "mask.nii.gz", "notes.txt"):
        touch(tmp_path / "s01" / name)
    touch(tmp_path / "1BA001" / "mr.mha")  # SynthRAD2023 naming
    touch(tmp_path / "1BA001" / "ct.mha")
    cases = discover(tmp_path)
    assert [c.subject for c in cases] == ["1BA001", "s01"]
    synthrad, phantom = cases
    assert [(i.field_T, i.contrast) for i in synthrad.of("mr")] == [("unknown", "t1w")]
    assert sorted((i.field_T, i.contrast) for i in phantom.of("mr")) == [("0.064", "flair"), ("1.5", "t1w")]
    assert [i.path.name for i in phantom.of("mask")] == ["mask.nii.gz"]


def test_bids_layout(tmp_path):
    touch(tmp_path / "sub-01" / "anat" / "sub-01_T1w.nii.gz")
    touch(tmp_path / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_FLAIR.nii.gz")
    touch(tmp_path / "sub-01" / "ct" / "sub-01_acq-head.nii.gz")
    touch(tmp_path / "sub-02" / "anat" / "sub-02_T2w.nii.gz")
    touch(tmp_path / "sub-02" / "other" / "sub-02_ct.nii.gz")
    (tmp_path / "sub-01" / "anat" / "sub-01_T1w.json").write_text(json.dumps({"MagneticFieldStrength": 3}))
    one, two = discover(tmp_path)
    assert sorted(i.contrast for i in one.of("mr")) == ["flair", "t1w"]
    assert [i.path.name for i in one.of("ct")] == ["sub-01_acq-head.nii.gz"]
    assert [i.contrast for i in two.of("mr")] == ["t2w"] and len(two.of("ct")) == 1


def manifest(tmp_path, rows):
    for row in rows:
        touch(tmp_path / row.path)
    write_manifest(rows, tmp_path / "manifest.csv")


def test_manifest_layout(tmp_path):
    manifest(tmp_path, [ManifestRow("a", "mr", "t2w", "3", "siteA", "a/t2.nii.gz"), ManifestRow("a", "ct", "", "", "siteA", "a/ct.nii.gz")])
    (case,) = discover(tmp_path / "manifest.csv")
    assert [(i.modality, i.contrast, i.field_T, i.site) for i in case.images] == [("mr", "t2w", "3", "siteA"), ("ct", "", "unknown", "siteA")]
    assert discover(tmp_path)[0].subject == "a"  # DIR/manifest.csv is detected


def test_manifest_with_unknown_columns(tmp_path):
    (tmp_path / "manifest.csv").write_text("subject,modality,contrast,field_T,site,path,age\n")
    with pytest.raises(InputError, match="unknown: age"):
        discover(tmp_path)


def test_manifest_with_missing_path(tmp_path):
    write_manifest([ManifestRow("a", "mr", "t1w", "1.5", "", "a/gone.nii.gz")], tmp_path / "manifest.csv")
    with pytest.raises(InputError, match="subject a: a/gone.nii.gz not found"):
        discover(tmp_path)


def test_manifest_with_duplicate_subject_rows(tmp_path):
    row = ManifestRow("a", "mr", "t1w", "1.5", "", "a/t1.nii.gz")
    manifest(tmp_path, [row, row])
    with pytest.raises(InputError, match="duplicate rows for subject a"):
        discover(tmp_path)


def test_unknown_layout_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="--layout xyz: unknown"):
        discover(tmp_path, "xyz")
    with pytest.raises(InputError, match="no cases found in the folder layout"):
        discover(tmp_path)
    with pytest.raises(InputError, match="data folder not found"):
        discover(tmp_path / "missing")
