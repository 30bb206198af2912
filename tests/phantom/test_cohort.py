import json

import nibabel as nib
import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.manifest import read_manifest
from cranial_sct.phantom import simulate_cohort
from cranial_sct.phantom.tissues import Tissue

FIELDS, CONTRASTS = (0.064, 3.0), ("t1w", "flair")


def small_cohort(out, seed=3, subjects=2):
    return simulate_cohort(out, subjects, FIELDS, CONTRASTS, spacing=5.0, seed=seed)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return small_cohort(tmp_path_factory.mktemp("cohort") / "out")


def test_manifest_and_files_agree(cohort):
    folder = cohort.parent
    rows = read_manifest(cohort)
    assert len(rows) == 2 * (3 + len(FIELDS) * len(CONTRASTS))
    assert {r.path for r in rows} == {str(p.relative_to(folder)) for p in folder.rglob("*.nii.gz")}
    mr = [r for r in rows if r.modality == "mr"]
    assert {(r.field_T, r.contrast) for r in mr} == {(f"{f:g}", c) for f in FIELDS for c in CONTRASTS}
    assert all(r.path.endswith(f"mr_{r.field_T}T_{r.contrast}.nii.gz") for r in mr)
    assert {r.anatomy for r in rows} == {"procedural"}  # the default source, recorded per row
    assert not list(folder.rglob(".partial-*"))


def test_volumes_share_one_affine_and_have_their_dtypes(cohort):
    subject = cohort.parent / "sub-000"
    images = {p.name: nib.load(p) for p in subject.glob("*.nii.gz")}
    affines = [image.affine for image in images.values()]
    assert all(np.allclose(a, affines[0]) for a in affines)
    assert images["ct.nii.gz"].get_data_dtype() == np.int16
    assert images["labels.nii.gz"].get_data_dtype() == np.uint8
    assert images["mr_3T_t1w.nii.gz"].get_data_dtype() == np.int16
    assert set(np.unique(np.asarray(images["mask.nii.gz"].dataobj))) == {0, 1}
    assert np.asarray(images["labels.nii.gz"].dataobj).max() < len(Tissue)


def test_tissues_json_records_parameters_per_field(cohort):
    parameters = json.loads((cohort.parent / "tissues.json").read_text())
    assert parameters["fields_T"] == list(FIELDS)
    assert set(parameters["tissues"]["gm"]["t1_ms"]) == {"0.064", "3"}
    assert set(parameters["subjects"]) == {"sub-000", "sub-001"}
    assert parameters["subjects"]["sub-000"]["acquisition"]["3"]["sequences"]["flair"]["ti_ms"] > 1000


def test_same_seed_gives_identical_files_and_other_seeds_differ(cohort, tmp_path):
    again = small_cohort(tmp_path / "again")
    other = small_cohort(tmp_path / "other", seed=4, subjects=1)
    for path in cohort.parent.rglob("*.*"):
        twin = again.parent / path.relative_to(cohort.parent)
        assert path.read_bytes() == twin.read_bytes(), path.name
    labels = [np.asarray(nib.load(c.parent / "sub-000" / "labels.nii.gz").dataobj) for c in (cohort, other)]
    assert (labels[0] != labels[1]).mean() > 0.01
    subjects = [np.asarray(nib.load(cohort.parent / s / "labels.nii.gz").dataobj) for s in ("sub-000", "sub-001")]
    assert (subjects[0] != subjects[1]).mean() > 0.01


def test_non_empty_folder_needs_overwrite(cohort):
    with pytest.raises(InputError, match="not empty"):
        small_cohort(cohort.parent)
    assert simulate_cohort(cohort.parent, 1, (1.5,), ("t2w",), 6.0, 0, overwrite=True).is_file()
