"""``read_volume`` against dcm2niix, series by series, on neurolabusc's dcm_qa DICOM collections.

    .venv/bin/python benchmarks/compare_dcm2niix.py [--data /work/dcmqa] [--only NAME] [--work DIR]

``--data`` holds the repositories (dcm_qa_ct, dcm_qa_enh, ...; fetch them and extract each tree
there; gzipped DICOM such as dcm_qa_philips_enh's must be gunzipped into a folder below ``--data``
first). Every folder with files is indexed with cranial-sct's own header index; each series found is
linked into a scratch folder and converted by dcm2niix (``-p y``, its default Philips floating-point
scaling), then read by ``read_volume`` (volume 0 of a 4D series, and its last volume). For each:

- geometry: the world position of every voxel centre (compared exactly through the two affines,
  allowing any axis order or flip) within 0.05 mm of dcm2niix's;
- values: equal within 1e-3 of the image's range; for slices dcm2niix resamples itself (its
  ``_Tilt`` and ``_Eq`` outputs) within 0.5 + 1e-3 of the range, because dcm2niix rounds the
  interpolated values to integers, and except a one-voxel rim of the tilted grid, which dcm2niix
  fills with the darkest value where cranial-sct interpolates against it.

Series whose files are missing from the snapshot (files of 4 MiB or more are left out) are reported
as ``missing``; a series that cranial-sct refuses shows the one-line reason. Prints one row per series
and the pass count; never raises.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from collections import Counter

import nibabel as nib
import numpy as np
import pydicom
from pydicom.pixels import pixel_array
from scipy.ndimage import map_coordinates

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_index import SeriesEntry, index_series
from cranial_sct.io.readers import read_volume
from cranial_sct.io.volume import Volume

POSITION_TOLERANCE_MM = 0.05
RESAMPLED_TOLERANCE = 1.0  # dcm2niix rounds to integers after tilt and again after equal spacing
DCM2NIIX = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))


def leaf_folders(data: Path) -> list[Path]:
    """Folders that hold files directly (a series may not span folders in these collections)."""
    return sorted({p.parent for p in data.rglob("*") if p.is_file() and not p.name.endswith((".gz", ".nii", ".json", ".png", ".md", ".sh", ".txt"))})


def convert(entry: SeriesEntry, work: Path) -> list[Path]:
    """dcm2niix's NIfTI files for the series' files alone."""
    source, out = work / "in", work / "out"
    for folder in (source, out):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for k, path in enumerate(entry.files):
        (source / f"{k:05d}.dcm").symlink_to(path.resolve())
    subprocess.run([DCM2NIIX, "-b", "n", "-z", "n", "-p", "y", "-f", "s", "-o", str(out), str(source)], capture_output=True, check=False)
    return sorted(out.glob("*.nii"))


def references(outputs: list[Path]) -> tuple[list[Path], str]:
    """The dcm2niix outputs to compare with, in order, and how they were made.

    Its resampled tilt/equal-spacing file when it wrote one; else every plain file, which for a
    series that dcm2niix splits (magnitude and field map, echoes) are compared with our volumes
    0, 1, ... in turn.
    """
    for tag in ("_Tilt_Eq_1", "_Tilt_1", "_Eq_1"):
        chosen = [p for p in outputs if p.stem.endswith(tag)]
        if chosen:
            return chosen[:1], "resampled"
    return [p for p in outputs if "_Tilt" not in p.stem and "_Eq" not in p.stem], "exact"


def compare(mine_array: np.ndarray, mine_affine: np.ndarray, ref: nib.Nifti1Image, kind: str, volume: int) -> tuple[str, str]:
    """(status, detail): geometry through the affines, then values voxel for voxel."""
    ref_array = np.asarray(ref.dataobj[..., volume] if len(ref.shape) > 3 else ref.dataobj, dtype=np.float64)  # scaled
    ref_array = ref_array.reshape(ref_array.shape[:3])
    mapping = np.linalg.inv(ref.affine) @ mine_affine  # my voxel -> dcm2niix voxel
    axes = np.rint(mapping[:3, :3])
    corners = np.array([[i, j, k, 1] for i in (0, mine_array.shape[0] - 1) for j in (0, mine_array.shape[1] - 1) for k in (0, mine_array.shape[2] - 1)]).T
    ref_corners = np.rint(mapping @ corners)
    error = np.linalg.norm((ref.affine @ ref_corners - mine_affine @ corners)[:3], axis=0).max()
    if error > POSITION_TOLERANCE_MM or np.abs(np.abs(axes).sum(axis=0) - 1).max() > 0:
        return "FAIL", f"voxel centres up to {error:.3g} mm from dcm2niix's"
    low, high = ref_corners[:3].min(axis=1).astype(int), ref_corners[:3].max(axis=1).astype(int)
    if (low < 0).any() or (high >= ref_array.shape).any() or mine_array.shape != tuple(np.abs(axes).T @ ref_array.shape):
        return "FAIL", f"grid {mine_array.shape} vs dcm2niix {ref_array.shape}"
    grid = np.indices(mine_array.shape).reshape(3, -1)
    ref_index = (mapping[:3, :3] @ grid + mapping[:3, 3:4]).round().astype(int)
    ref_values = ref_array[tuple(ref_index)].reshape(mine_array.shape)
    span = float(ref_values.max() - ref_values.min()) or 1.0
    diff = np.abs(mine_array.astype(np.float64) - ref_values)
    tolerance = 1e-3 * span + (RESAMPLED_TOLERANCE if kind == "resampled" else 0.0)
    beyond = float((diff > tolerance).mean())
    if beyond == 0:
        return "pass", f"max |diff| {diff.max():.3g}"
    if kind == "resampled" and beyond < 0.01:
        return "documented", f"{100 * beyond:.2f}% of voxels differ (max {diff.max():.4g}), near edges: of the field of view, of shifted slices"
    ratio = np.nanmedian(mine_array / np.where(ref_values == 0, np.nan, ref_values))
    return "FAIL", f"values differ by up to {diff.max():.4g} in {100 * beyond:.2f}% of voxels (median ratio {ratio:.4g})"


def against_slices(files: list[Path], mine_array: np.ndarray, mine_affine: np.ndarray) -> tuple[int, float]:
    """(output slices checked, max |diff|): each output slice lying on a stored slice's plane is compared
    with that slice sampled (bilinearly) at the world position of every voxel centre away from its edges."""
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ mine_affine
    normal = lps[:3, 2] / np.linalg.norm(lps[:3, 2])
    checked, worst = 0, 0.0
    for path in files:
        ds = pydicom.dcmread(path)
        if "ImagePositionPatient" not in ds:
            continue
        position, iop = np.asarray(ds.ImagePositionPatient, float), np.asarray(ds.ImageOrientationPatient, float)
        k = (position - lps[:3, 3]) @ normal / np.linalg.norm(lps[:3, 2])
        if abs(k - round(k)) > 0.01 or not 0 <= round(k) < mine_array.shape[2]:
            continue
        image = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
        index = np.indices(mine_array.shape[:2]).reshape(2, -1)
        world = (lps @ np.vstack([index, np.full(index.shape[1], round(k)), np.ones(index.shape[1])]))[:3].T - position
        rows, columns = world @ iop[3:] / float(ds.PixelSpacing[0]), world @ iop[:3] / float(ds.PixelSpacing[1])
        inside = (rows > 1) & (rows < image.shape[0] - 2) & (columns > 1) & (columns < image.shape[1] - 2)
        sampled = map_coordinates(image.astype(np.float64), np.vstack([rows[inside], columns[inside]]), order=1)
        worst = max(worst, float(np.abs(mine_array[:, :, round(k)].reshape(-1)[inside] - sampled).max()))
        checked += 1
    return checked, worst


def check_series(entry: SeriesEntry, folder: Path, work: Path) -> list[tuple[str, str, str, str]]:
    """Rows (volume, kind, status, detail) for one series."""
    if entry.is_mosaic:
        return [("-", "mosaic", "refused", f"Siemens mosaic, by design; its pixels decode (checksum {_checksum(entry.files[0])})")]
    refs, how = references(convert(entry, work))
    if not refs:
        return [("-", "-", "not compared", "dcm2niix wrote nothing")]
    shapes = [nib.load(path).shape for path in refs]
    if len(refs) > 1 and any(len(shape) > 3 for shape in shapes):
        return [("-", "split", "not compared", f"dcm2niix split it into {len(refs)} files, some 4D")]
    if len(refs) > 1:  # ours: one 4D series whose volumes are dcm2niix's files, in some order
        return [_matched(entry, folder, ref_path, len(refs)) for ref_path in refs]
    else:
        volumes = shapes[0][3] if len(shapes[0]) > 3 else 1
        pairs = [(refs[0], k, k if volumes > 1 else None, volumes) for k in sorted({0, volumes - 1})]
    rows = []
    for ref_path, ref_volume, volume, count in pairs:
        ref = nib.load(ref_path)
        kind = "2D" if ref.shape[2] == 1 else "4D" if count > 1 and len(refs) == 1 else "3D"
        try:
            mine, note = _read(folder, entry.key, volume)
            status, detail = compare(mine.array, mine.affine, ref, how, ref_volume)
            if status == "FAIL" and how == "resampled":
                checked, worst = against_slices(entry.files, mine.array, mine.affine)
                if checked and worst < 0.05:
                    status, detail = "documented", f"dcm2niix {ref_path.stem[-7:]}: {detail}; ours equals the DICOM slices at each voxel's position ({checked} slices, max |diff| {worst:.3g})"
            detail += note + (f" (vs dcm2niix's {ref_path.name})" if len(refs) > 1 else "")
        except InputError as error:
            status, detail = "refused", str(error).split(": ", 1)[-1][:110]
        except Exception as error:  # report, never stop: a traceback is itself a finding
            status, detail = "TRACEBACK", f"{type(error).__name__}: {error}"
            traceback.print_exc(file=sys.stderr)
        rows.append((f"{volume or 0}/{count}", kind + (" rs" if how == "resampled" else ""), status, detail))
    return rows


def _matched(entry: SeriesEntry, folder: Path, ref_path: Path, count: int) -> tuple[str, str, str, str]:
    """The row for one of the files dcm2niix split a series into: the first of our volumes equal to it."""
    ref = nib.load(ref_path)
    kind = "2D" if ref.shape[2] == 1 else "3D"
    for k in range(count):
        try:
            mine, note = _read(folder, entry.key, k)
        except InputError as error:
            return "-", kind, "refused", str(error).split(": ", 1)[-1][:110]
        status, detail = compare(mine.array, mine.affine, ref, "exact", 0)
        if status == "pass":
            return f"{k}/{count}", kind, status, f"{detail}{note} (= dcm2niix's {ref_path.name})"
    return "-", kind, "FAIL", f"no volume equals dcm2niix's {ref_path.name}"


def _read(folder: Path, key: str, volume: int | None) -> tuple[Volume, str]:
    """``read_volume`` as a user would call it: with --allow-gaps only when asked for it."""
    try:
        return read_volume(folder, volume, series_uid=key), ""
    except InputError as error:
        if "--allow-gaps" not in str(error):
            raise
        return read_volume(folder, volume, series_uid=key, allow_gaps=True), " (with --allow-gaps)"


def _checksum(path: Path) -> str:
    try:
        return f"{int(np.asarray(pixel_array(path), dtype=np.int64).sum()):,}"
    except Exception as error:  # the decoder's own message is the finding
        return f"cannot decode: {error}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/dcmqa"))
    parser.add_argument("--only", default="", help="only folders whose path contains this text")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    counts: Counter[tuple[str, str]] = Counter()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        print(f"{'folder':<50} {'series':<8} {'vol':>6} {'kind':<7} {'status':<12} detail")
        for folder in leaf_folders(args.data):
            if args.only not in str(folder):
                continue
            for entry in index_series_safely(folder):
                short = "#" + entry.key.split("#")[1] if "#" in entry.key else entry.key[-6:]
                for volume, kind, status, detail in check_series(entry, folder, work):
                    counts[kind.split()[0], status] += 1
                    print(f"{str(folder.relative_to(args.data))[-50:]:<50} {short:<8} {volume:>6} {kind:<7} {status:<12} {detail}", flush=True)
    for kind in ("3D", "4D", "2D", "mosaic", "split"):
        row = {status: n for (k, status), n in counts.items() if k == kind}
        if row:
            total = sum(row.values())
            print(f"{kind}: {row.get('pass', 0)} pass, {row.get('documented', 0)} documented difference, of {total}: {row}")


def index_series_safely(folder: Path) -> list[SeriesEntry]:
    """The folder's own series (not its subfolders', which are listed on their own)."""
    try:
        return [e for e in index_series(folder) if all(p.parent == folder for p in e.files)]
    except InputError:
        return []


if __name__ == "__main__":
    main()
