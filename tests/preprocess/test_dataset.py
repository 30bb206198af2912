import json

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.manifest import read_manifest
from cranial_sct.io.readers import read_volume
from cranial_sct.io.writers import write_volume
from cranial_sct.preprocess.dataset import preprocess_dataset
from cranial_sct.preprocess.pipeline import PreprocessOptions
from tests.heads import head_volumes, rigid, write_case

OPTIONS = PreprocessOptions(spacing_mm=6.0)


@pytest.fixture
def data(tmp_path):
    write_case(tmp_path / "data" / "a", move=rigid(5, 0, 0, (0, 5, 0)))
    write_case(tmp_path / "data" / "b", mr_name="mr_0.064T_flair.nii.gz")
    return tmp_path / "data"


def test_writes_the_phantom_layout_in_parallel_and_resumes(tmp_path, data):
    out = tmp_path / "out"
    result = preprocess_dataset(data, out, options=OPTIONS, workers=2)
    assert sorted(result.done) == ["a", "b"]
    rows = read_manifest(out / "manifest.csv")
    assert {(r.subject, r.modality, r.contrast, r.field_T) for r in rows} >= {
        ("a", "mr", "t1w", "1.5"), ("b", "mr", "flair", "0.064"), ("a", "ct", "", ""), ("b", "mask", "", "")
    }  # fmt: skip
    ct, mask = read_volume(out / "a" / "ct.nii.gz"), read_volume(out / "a" / "mask.nii.gz")
    assert ct.array.dtype == np.int16 and ct.same_grid(mask)
    assert json.loads((out / "a" / "case.json").read_text())["images"]["mr_1.5T_t1w"]["registration"]

    (out / "b" / "case.json").unlink()  # as if the run had died while writing b
    again = preprocess_dataset(data, out, options=OPTIONS)
    assert again.skipped == ["a"] and again.done == ["b"]


def test_refuses_foreign_or_differently_made_output(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="is not empty; pass --overwrite"):
        preprocess_dataset(data, out, options=OPTIONS)
    preprocess_dataset(data, tmp_path / "out2", options=OPTIONS)
    with pytest.raises(InputError, match="made with other options"):
        preprocess_dataset(data, tmp_path / "out2", options=PreprocessOptions(spacing_mm=5.0))


def test_a_bad_case_fails_alone_and_leaves_no_partial_folder(tmp_path, data):
    _, ct = head_volumes(6.0)
    write_volume(ct.with_array(np.clip(ct.array + 1000, 0, 255).astype(np.uint8)), data / "b" / "ct.nii.gz")
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"1 of 2 cases failed.*b: .*ct.nii.gz: CT values span 0..255, not Hounsfield"):
        preprocess_dataset(data, out, options=OPTIONS)
    assert sorted(p.name for p in out.iterdir()) == ["a", "manifest.csv", "preprocess.json"]
    assert {r.subject for r in read_manifest(out / "manifest.csv")} == {"a"}


def test_a_phantom_cohort_is_read_through_its_manifest(tmp_path):
    from cranial_sct.phantom import simulate_cohort

    simulate_cohort(tmp_path / "cohort", 1, [0.064], ["flair"], spacing=6.0, seed=0)
    out = tmp_path / "prep"
    preprocess_dataset(tmp_path / "cohort", out, options=PreprocessOptions(spacing_mm=6.0, registered=True))
    rows = {(r.modality, r.field_T, r.site) for r in read_manifest(out / "manifest.csv")}
    assert ("mr", "0.064", "phantom-0.064T") in rows and ("labels", "", "phantom-ct") in rows
    labels = read_volume(out / "sub-000" / "labels.nii.gz")
    assert labels.same_grid(read_volume(out / "sub-000" / "ct.nii.gz")) and labels.array.max() > 1


def test_field_strength_comes_from_dicom_before_the_file_name(tmp_path):
    from tests.io.dicom_factory import write_mr_series

    mr, ct = head_volumes(6.0, codes="LPS")
    case = tmp_path / "data" / "s1"
    write_mr_series(mr.with_array(np.rint(mr.array)), case / "mr_1.5T_flair", field_T=3.0)  # header says 3 T
    write_volume(ct, case / "ct.mha")
    preprocess_dataset(tmp_path / "data", tmp_path / "out", options=PreprocessOptions(spacing_mm=6.0, registered=True))
    assert (tmp_path / "out" / "s1" / "mr_3T_flair.nii.gz").is_file()
