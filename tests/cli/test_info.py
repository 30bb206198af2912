import json

import nibabel as nib
import numpy as np

from cranial_sct.io.writers import write_volume
from tests.heads import head_volumes
from tests.io.dicom_factory import write_mr_series


def fields(stdout: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in stdout.strip().splitlines())


def test_info_on_nifti_with_sidecar(cli, tmp_path):
    mr, _ = head_volumes(8.0, codes="LPS")
    write_volume(mr, tmp_path / "sub-01_T1w.nii.gz")
    (tmp_path / "sub-01_T1w.json").write_text(json.dumps({"MagneticFieldStrength": 0.064, "EchoTime": 0.006}))
    run = cli("info", tmp_path / "sub-01_T1w.nii.gz")
    assert run.returncode == 0, run.stderr
    shown = fields(run.stdout)
    assert shown["shape"] == " x ".join(map(str, mr.shape)) and shown["spacing_mm"] == "8 x 8 x 8"
    assert shown["orientation"] == "LPS" and shown["field_T"] == "0.064" and shown["EchoTime"] == "0.006"
    assert shown["modality"].startswith("mr")


def test_info_on_dicom_folder_and_ct(cli, tmp_path):
    mr, ct = head_volumes(8.0)
    write_mr_series(mr.with_array(np.rint(mr.array)), tmp_path / "dicom", field_T=7.0)
    write_volume(ct, tmp_path / "ct.mha")
    dicom, mha = cli("info", tmp_path / "dicom"), cli("info", tmp_path / "ct.mha")
    assert fields(dicom.stdout)["field_T"] == "7" and fields(dicom.stdout)["format"] == "dicom"
    assert fields(mha.stdout)["modality"] == "ct (intensities suggest ct)"


def test_info_bad_inputs_print_one_line_and_exit_2(cli, tmp_path):
    mr, _ = head_volumes(8.0)
    nib.save(nib.Nifti1Image(np.stack([mr.array] * 3, -1), mr.affine), tmp_path / "fmri.nii.gz")
    write_mr_series(mr.with_array(np.rint(mr.array)), tmp_path / "two" / "a")
    write_mr_series(mr.with_array(np.rint(mr.array)), tmp_path / "two" / "b")
    cases = {
        (tmp_path / "missing.nii.gz",): "file not found",
        (tmp_path / "fmri.nii.gz",): "4D image with 3 volumes; choose one with --volume K",
        (tmp_path / "two",): "2 series found",
    }
    for args, message in cases.items():
        run = cli("info", *args)
        assert run.returncode == 2 and message in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert cli("info", tmp_path / "fmri.nii.gz", "--volume", "2").returncode == 0
