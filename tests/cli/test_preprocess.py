import json

from cranial_sct.io.manifest import read_manifest
from tests.heads import rigid, write_case
from tests.io.conftest import unwritable_folder  # noqa: F401  (a fixture)

FAST = ("--spacing", "6")


def test_preprocess_end_to_end_then_resume(cli, tmp_path):
    write_case(tmp_path / "data" / "s1", move=rigid(0, 0, 8, (5, 0, 0)))
    write_case(tmp_path / "data" / "s2", mr_name="mr_7T_t2w.nii.gz")
    out = tmp_path / "prep"
    run = cli("preprocess", "--data", tmp_path / "data", "--out", out, *FAST, "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert "2 cases prepared" in run.stdout
    assert sorted(p.name for p in (out / "s2").iterdir()) == ["case.json", "ct.nii.gz", "mask.nii.gz", "mr_7T_t2w.nii.gz"]
    assert len(read_manifest(out / "manifest.csv")) == 6
    again = cli("preprocess", "--data", tmp_path / "data", "--out", out, *FAST)
    assert again.returncode == 0 and "0 cases prepared, 2 already done" in again.stdout


def test_bids_layout_takes_field_strength_from_the_sidecar(cli, tmp_path):
    anat = tmp_path / "bids" / "sub-01" / "anat"
    write_case(anat, mr_name="sub-01_T1w.nii.gz")
    (anat / "ct.nii.gz").rename(anat / "sub-01_ct.nii.gz")
    (anat / "sub-01_T1w.json").write_text(json.dumps({"MagneticFieldStrength": 3}))
    run = cli("preprocess", "--data", tmp_path / "bids", "--out", tmp_path / "prep", *FAST, "--registered", "--no-n4")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "prep" / "sub-01" / "mr_3T_t1w.nii.gz").is_file()


def test_bad_inputs_exit_2_with_one_line_and_no_half_written_case(cli, tmp_path, unwritable_folder):
    write_case(tmp_path / "swapped" / "s1", swap=True)
    write_case(tmp_path / "good" / "s1")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("keep me")
    cases = [
        (tmp_path / "swapped", tmp_path / "o1", "they seem swapped"),
        (tmp_path / "good", tmp_path / "taken", "is not empty; pass --overwrite"),
        (tmp_path / "good", unwritable_folder / "prep", "choose another --out"),
        (tmp_path / "nothing", tmp_path / "o2", "data folder not found"),
    ]
    for data, out, message in cases:
        run = cli("preprocess", "--data", data, "--out", out, *FAST)
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]  # the rest is the progress bar
        assert run.returncode == 2 and len(errors) == 1 and message in errors[0] and "Traceback" not in run.stderr, run.stderr
    assert sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["manifest.csv", "preprocess.json"]
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]
