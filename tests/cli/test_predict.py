"""``cranial-sct predict`` as users run it: one case with every output, a cohort that evaluate accepts, bad inputs."""

from __future__ import annotations

import csv
import errno
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cranial_sct.cli import main
from cranial_sct.inference.air_pockets import POCKET_DEPTH_MM
from cranial_sct.inference.islands import ISLAND_DEPTH_MM
from cranial_sct.io import nifti, read_volume, write_volume
from cranial_sct.preprocess.geometry import crop, reorient
from tests.fixtures_checkpoint import HELD_OUT, checkpoints, phantom_cohort  # noqa: F401 (fixtures)
from tests.io.conftest import unwritable_folder  # noqa: F401 (a fixture)
from tests.io.dicom_factory import write_mr_series

TOP_OF_HEAD = ([8, 10, 26], [36, 46, 52])


def run_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> tuple[int, str]:
    """The real CLI entry point in this interpreter (no start-up cost); returns (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["cranial-sct", *map(str, args)])
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code or 0, capsys.readouterr().err


@pytest.fixture
def lps_mr(phantom_cohort: Path, tmp_path: Path) -> dict[str, Path]:  # noqa: F811
    """The top of the held-out head, stored LPS: what a DICOM-converted scan often looks like."""
    paths = {}
    for contrast in ("t1w", "flair"):
        volume = reorient(crop(read_volume(phantom_cohort / HELD_OUT / f"mr_1.5T_{contrast}.nii.gz"), *TOP_OF_HEAD)[0], "LPS")[0]
        paths[contrast] = write_volume(volume, tmp_path / f"{contrast}.nii.gz")
    return paths


@pytest.mark.slow
def test_one_case_gets_every_output_on_the_mr_grid(cli, checkpoints, lps_mr: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    result = cli("predict", "--checkpoint", checkpoints.cascade, "--mr", lps_mr["t1w"], "--flair", lps_mr["flair"], "--field", "7",
                 "--out", out, "--tta", "--mu-map", "--density", "--dicom", "--rsp", "--acoustic", "--frequency", "0.65")
    assert result.returncode == 0, result.stderr
    mr = read_volume(lps_mr["t1w"])
    images = {name: read_volume(out / f"{name}.nii.gz") for name in ("sct", "skull", "boneprob", "uncertainty", "mu", "density", "rsp",
                                                                     "sound_speed", "acoustic_density", "attenuation")}
    for name, image in images.items():
        assert image.shape == mr.shape and np.array_equal(image.affine, mr.affine), name
    sct, head = images["sct"].array, images["sct"].array > -1000
    assert sct.dtype == np.int16 and images["uncertainty"].array[head].mean() > 0
    mu, density = images["mu"].array, images["density"].array
    assert (mu[~head] == 0).all() and 0.09 < np.median(mu[np.abs(sct) < 20]) < 0.1 and mu.max() < 0.25
    assert np.allclose(density[~head], 0.001) and 0.95 < np.median(density[np.abs(sct) < 20]) < 1.05 and density.max() <= 2.6
    rsp, speed = images["rsp"].array, images["sound_speed"].array
    assert np.allclose(rsp[~head], 0.00106) and 0.98 < np.median(rsp[np.abs(sct) < 20]) < 1.03 and rsp.max() < 2.6
    assert speed[~head].max() == 1500 and speed.max() <= 2900 and images["acoustic_density"].array.max() <= 2200
    assert images["attenuation"].array[sct < 300].max() == 0 and images["attenuation"].array.max() <= 80 * 0.65
    units = json.loads((out / "attenuation.json").read_text())
    assert units["Units"] == "dB/cm" and units["FrequencyMHz"] == 0.65 and "Aubry" in units["Model"]
    dicom = read_volume(out / "dicom")
    assert dicom.same_grid(mr) and np.abs(dicom.array - sct).max() <= 1
    sidecar = json.loads((out / "sct.json").read_text())
    assert sidecar["passes"] == 2 and sidecar["mirrored_axes"] == [0] and sidecar["field_T"] == "7"  # left-right only
    assert sidecar["plan"]["spacing_mm"] == [4.0, 4.0, 4.0] and sidecar["plan"]["head_mask"] == "mr-log-otsu"
    assert any("field strength 7 T not seen in training" in w for w in sidecar["ood_warnings"])
    assert sidecar["bone_islands"]["removed_ml"] >= 0 and sidecar["bone_islands"]["depth_mm"] == ISLAND_DEPTH_MM
    assert sidecar["air_pockets"]["filled_ml"] >= 0 and sidecar["air_pockets"]["depth_mm"] == POCKET_DEPTH_MM


def test_deep_bone_islands_and_air_pockets_are_kept_on_request(cli, checkpoints, lps_mr: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    result = cli("predict", "--checkpoint", checkpoints.cascade, "--mr", lps_mr["t1w"], "--out", tmp_path, "--keep-bone-islands",
                 "--keep-air-pockets")
    assert result.returncode == 0, result.stderr
    sidecar = json.loads((tmp_path / "sct.json").read_text())
    assert sidecar["bone_islands"]["removed_ml"] is None and sidecar["air_pockets"]["filled_ml"] is None


@pytest.mark.slow
def test_a_cohort_is_sharded_resumed_and_evaluated(
    cli, capsys, monkeypatch, checkpoints, phantom_cohort: Path, tmp_path: Path  # noqa: F811
) -> None:
    pred = tmp_path / "pred"
    args = ["predict", "--checkpoint", checkpoints.cascade, "--data", phantom_cohort, "--fields", "7", "--out", pred]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert run_in_process(capsys, monkeypatch, *args)[0] == 0
    case_dir = pred / "cascade-resunet"
    done = sorted(p.parent.name for p in case_dir.glob("*/sct_7T_t1w+flair.json"))
    assert done == ["sub-000", HELD_OUT]  # rank 0 of 2 takes every second case
    monkeypatch.setenv("RANK", "1")
    assert run_in_process(capsys, monkeypatch, *args)[0] == 0
    for subject in ("sub-000", "sub-001", HELD_OUT):
        names = {p.name for p in (case_dir / subject).iterdir()}
        assert {"sct_7T_t1w+flair.nii.gz", "skull_7T_t1w+flair.nii.gz", "boneprob_7T_t1w+flair.nii.gz", "sct_7T_t1w+flair.json"} <= names

    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    (case_dir / "sub-001" / "sct_7T_t1w+flair.json").unlink()  # as if stopped while writing this case
    before = {p: p.stat().st_mtime_ns for p in case_dir.glob("*/sct_7T_*.nii.gz")}
    assert run_in_process(capsys, monkeypatch, *args)[0] == 0
    redone = sorted(p.parent.name for p, t in before.items() if p.stat().st_mtime_ns != t)
    assert redone == ["sub-001"] and (case_dir / "sub-001" / "sct_7T_t1w+flair.json").is_file()

    result = cli("evaluate", "--pred", pred, "--ref", phantom_cohort, "--out", tmp_path / "eval")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "eval" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["subject"] for row in rows) == ["sub-000", "sub-001", HELD_OUT]
    assert {(row["method"], row["field_T"], row["contrast"], row["skull_source"]) for row in rows} == {
        ("cascade-resunet", "7", "t1w+flair", "skull file")
    }


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--t2w", "MR", "error: checkpoint expects MR contrasts t1w+flair but got t2w"),
        ("--mr", "missing.nii.gz", "missing.nii.gz: file not found"),
        ("--field", "-1", "error: --field -1: must be the MR field strength in tesla"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    capsys, monkeypatch, checkpoints, phantom_cohort: Path, tmp_path: Path, option: str, value: str, message: str  # noqa: F811
) -> None:
    mr = phantom_cohort / HELD_OUT / "mr_1.5T_t1w.nii.gz"
    inputs = [option, mr if value == "MR" else tmp_path / value if value.endswith(".gz") else value]
    if option == "--field":
        inputs += ["--mr", mr]
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, *inputs, "--out", tmp_path / "out")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_field_strength_defaults_to_the_bids_sidecar(capsys, monkeypatch, checkpoints, lps_mr: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    lps_mr["t1w"].with_name("t1w.json").write_text(json.dumps({"MagneticFieldStrength": 7}))
    out = tmp_path / "out"
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, "--mr", lps_mr["t1w"], "--out", out)
    assert code == 0, err
    sidecar = json.loads((out / "sct.json").read_text())
    assert sidecar["field_T"] == "7" and sidecar["contrasts"] == ["t1w"] and sidecar["passes"] == 1
    assert not (out / "uncertainty.nii.gz").exists()
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, "--mr", lps_mr["t1w"], "--out", out)
    assert code == 2 and "holds a prediction already; pass --overwrite" in err


@pytest.mark.parametrize("bad", ["ct", "constant"])
def test_a_ct_as_mr_and_an_mr_constant_inside_the_mask_are_one_line_each(
    capsys, monkeypatch, checkpoints, phantom_cohort: Path, tmp_path: Path, bad: str  # noqa: F811
) -> None:
    mask = phantom_cohort / HELD_OUT / "mask.nii.gz"
    if bad == "ct":
        mr, extra, message = phantom_cohort / HELD_OUT / "ct.nii.gz", [], "looks like a CT"
    else:
        flat = read_volume(phantom_cohort / HELD_OUT / "mr_1.5T_t1w.nii.gz")
        mr = write_volume(flat.with_array(np.where(read_volume(mask).array > 0, 500.0, 0.0).astype(np.float32)), tmp_path / "flat.nii.gz")
        extra, message = ["--mask", mask], "flat.nii.gz: cannot normalise"
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, "--mr", mr, *extra, "--out", tmp_path / "out")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["a file", "unwritable", "inside the DICOM input"])
def test_bad_output_folders_are_refused_before_any_work(
    capsys, monkeypatch, checkpoints, phantom_cohort: Path, tmp_path: Path, unwritable_folder: Path, where: str  # noqa: F811
) -> None:
    mr = phantom_cohort / HELD_OUT / "mr_1.5T_t1w.nii.gz"
    if where == "a file":
        out, message = tmp_path / "taken", "is a file, not a folder"
        out.write_text("not a folder")
    elif where == "unwritable":
        out, message = unwritable_folder / "out", "cannot write in"
    else:
        write_mr_series(read_volume(mr), tmp_path / "dicom")
        mr, out, message = tmp_path / "dicom", tmp_path / "dicom" / "sct", "lies inside the input folder"
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, "--mr", mr, "--out", out)
    assert code == 2 and f"--out {out}: " in err and message in err and len(err.strip().splitlines()) == 1, err


def test_an_existing_file_as_out_is_one_line_in_a_real_run(cli, checkpoints, phantom_cohort: Path, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "sct.nii.gz").write_bytes(b"someone's file")
    result = cli("predict", "--checkpoint", checkpoints.cascade, "--mr", phantom_cohort / HELD_OUT / "mr_1.5T_t1w.nii.gz",
                 "--out", tmp_path / "sct.nii.gz")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "is a file, not a folder" in result.stderr
    assert (tmp_path / "sct.nii.gz").read_bytes() == b"someone's file"


def test_a_disk_that_fills_midway_leaves_nothing_half_written(
    capsys, monkeypatch, checkpoints, lps_mr: dict[str, Path], tmp_path: Path  # noqa: F811
) -> None:
    """The second image's write dies halfway with ENOSPC: one line, and none of the case's files stay."""
    real_save, calls = nifti.nib.save, []

    def filling_save(image, path) -> None:  # noqa: ANN001
        calls.append(path)
        if len(calls) == 2:
            Path(path).write_bytes(b"\x1f\x8b half an image")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(image, path)

    monkeypatch.setattr(nifti.nib, "save", filling_save)
    out = tmp_path / "out"
    code, err = run_in_process(capsys, monkeypatch, "predict", "--checkpoint", checkpoints.cascade, "--mr", lps_mr["t1w"], "--out", out)
    assert code == 2 and "No space left on device" in err and len(err.strip().splitlines()) == 1, err
    assert len(calls) == 2 and list(out.iterdir()) == []
