"""``cranial-sct simulate`` as a user runs it: real subprocesses, real files."""

import pytest

from cranial_sct.io.manifest import read_manifest

SMALL = ("--subjects", "1", "--fields", "1.5", "--contrasts", "t1w", "--spacing", "6", "--seed", "1")


def test_simulate_writes_cohort_and_preview(cli, tmp_path):
    out = tmp_path / "cohort"
    result = cli("simulate", *SMALL[:3], "0.064,7", "--contrasts", "t1w,t2w", "--spacing", "6", "--out", out,
                 "--preview")
    assert result.returncode == 0, result.stderr
    rows = read_manifest(out / "manifest.csv")
    assert {r.path for r in rows} >= {"sub-000/ct.nii.gz", "sub-000/mr_0.064T_t1w.nii.gz", "sub-000/mr_7T_t2w.nii.gz"}
    assert (out / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "tissues.json").is_file()
    assert "subject" in result.stderr  # the progress bar


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--contrasts", "t1w,pd", "unknown contrast"),
        ("--fields", "0.005", "0.01..12"),
        ("--fields", "1.5,14", "0.01..12"),
        ("--spacing", "0", "positive"),
        ("--spacing", "-1", "positive"),
        ("--fields", "1.5,abc", "comma-separated"),
    ],
)
def test_bad_option_values_give_one_line_and_write_nothing(cli, tmp_path, option, value, message):
    out = tmp_path / "cohort"
    args = dict(zip(SMALL[::2], SMALL[1::2]))
    args[option] = value
    result = cli("simulate", *[t for pair in args.items() for t in pair], "--out", out)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_non_empty_output_is_refused_without_overwrite(cli, tmp_path):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = cli("simulate", *SMALL, "--out", out)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert result.stderr.count("\n") == 1
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert cli("simulate", *SMALL, "--out", out, "--overwrite").returncode == 0
    assert (out / "keep.txt").read_text() == "mine"


def test_unwritable_output_folder_is_refused(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = cli("simulate", *SMALL, "--out", blocker / "cohort")
    assert result.returncode == 2 and "a-file is a file, not a folder; choose another --out" in result.stderr
    assert result.stderr.count("\n") == 1
    assert blocker.read_text() == ""
