"""Speed and peak memory of reading and preprocessing (issues 3 and 10), printed as a table.

    .venv/bin/python benchmarks/bench_io.py [--repeats 3] [--work DIR] [--only TEXT] [--folder DIR --series KEY]

- preprocess one 1-mm head pair end to end (read, N4, rigid MI registration, mask, normalise,
  crop, write) with ``preprocess_dataset``: target <= 60 s on the 2-core machine;
- read a 200-slice 512 x 512 DICOM CT series with ``read_volume``: target <= 3 s;
- pick one 100-slice series out of a folder of 5,000 small DICOM files (50 series, built here):
  target <= 3 s and <= 500 MB. "before" repeats what the reader did until issue 10 (read every
  file whole, pixels included, then decode the chosen series); "after" is ``read_volume``, which
  indexes headers only. ``--folder``/``--series`` times the same on a folder of your own;
- scan the same folder (``index_series``, issue 24): first scan one process, first scan in parallel
  (an empty cache each run), second scan (a warm cache): targets 5 s and 1 s for 7,355 files.

The head is the 1-mm phantom subject (seed 0, 1.5 T T1w) with the MR moved rigidly by a known
8 deg / 16 mm (its affine changes, not its voxels), so the registration error is printed too.
Each run is a fresh process, so the peak resident memory reported is that run's alone (it includes
the interpreter and imports, about 0.3 GB). Report the machine's load next to the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from cranial_sct.io import dicom_index
from cranial_sct.io.dicom_index_cache import CACHE_ENV
from cranial_sct.io.dicom_write import write_ct_series
from cranial_sct.io.readers import read_volume
from cranial_sct.io.sitk_bridge import RAS_FROM_LPS
from cranial_sct.io.volume import Volume
from cranial_sct.io.writers import write_volume
from cranial_sct.phantom import simulate_subject
from cranial_sct.preprocess.dataset import CASE_RECORD, preprocess_dataset
from cranial_sct.preprocess.geometry import transform_from_dict
from cranial_sct.preprocess.masks import head_mask
from cranial_sct.preprocess.registration import mean_displacement_mm

MOVE_DEG, MOVE_MM = (8.0, -5.0, 6.0), (10.0, -10.0, 8.0)
MANY_SERIES, MANY_SLICES, MANY_SIDE = 50, 100, 64  # 5,000 files of 64 x 64 pixels
CHOSEN = 17  # the series picked out of the many
PREPROCESS_LABEL, READ_LABEL = "preprocess 1-mm head pair (N4 + registration)", "read 200-slice 512x512 DICOM CT series"


def series_uid(number: int) -> str:
    return generate_uid(entropy_srcs=[f"bench-io-series-{number}"])


def preprocess_pair(data: Path, out: Path) -> None:
    preprocess_dataset(data, out)


def read_series(folder: Path, _: Path) -> None:
    read_volume(folder)


def pick_series_reading_pixels(folder: Path, _: Path) -> None:
    """Before issue 10: every file read whole (pixels included) and kept, then one series decoded."""
    groups: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        dataset = pydicom.dcmread(path)
        groups.setdefault(str(dataset.SeriesInstanceUID), []).append(dataset)
    for dataset in groups[(os.environ.get("BENCH_SERIES") or series_uid(CHOSEN)).split("#")[0]]:
        dataset.pixel_array


def pick_series(folder: Path, _: Path) -> None:
    read_volume(folder, series_uid=os.environ.get("BENCH_SERIES") or series_uid(CHOSEN))


def scan_serial(folder: Path, out: Path) -> None:
    os.environ[CACHE_ENV] = str(out / "cache")  # empty
    dicom_index.PARALLEL_FILES_PER_WORKER = 10**9
    dicom_index.index_series(folder)


def scan_first(folder: Path, out: Path) -> None:
    os.environ[CACHE_ENV] = str(out / "cache")  # empty
    dicom_index.index_series(folder)


def scan_second(folder: Path, out: Path) -> None:
    os.environ[CACHE_ENV] = str(out.parent / f"warm-cache-{folder.name}")  # warmed by main()
    dicom_index.index_series(folder)


def write_many_series(folder: Path) -> None:
    """MANY_SERIES series of MANY_SLICES small CT slices, one file each, all in one folder."""
    folder.mkdir(parents=True)
    pixels = (np.arange(MANY_SIDE * MANY_SIDE, dtype=np.int16).reshape(MANY_SIDE, MANY_SIDE) % 2000).tobytes()
    for number in range(MANY_SERIES):
        uid, study = series_uid(number), generate_uid()
        for k in range(MANY_SLICES):
            ds = Dataset()
            ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, generate_uid(), "CT"
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SeriesNumber, ds.InstanceNumber = study, uid, number, k + 1
            ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0, 0, 2.0 * k]
            ds.PixelSpacing, ds.Rows, ds.Columns = [1, 1], MANY_SIDE, MANY_SIDE
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
            ds.RescaleSlope, ds.RescaleIntercept, ds.PixelData = 1, -1024, pixels
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CTImageStorage, ds.SOPInstanceUID
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.save_as(folder / f"{number:03d}_{k:03d}.dcm", enforce_file_format=True)


def _timed(task: Callable[[Path, Path], None], source: Path, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    task(source, out)
    seconds = time.perf_counter() - start
    return seconds, _peak_rss_mib()


def _peak_rss_mib() -> float:
    """This process's high-water resident memory (VmHWM; ru_maxrss would include the parent's, inherited)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def measure(task: Callable[[Path, Path], None], source: Path, work: Path, repeats: int) -> tuple[list[float], float]:
    """Run ``task`` ``repeats`` times, each in a fresh process; (seconds per run, worst peak RSS MiB)."""
    times, peaks = [], []
    for run in range(repeats):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            seconds, peak = pool.submit(_timed, task, source, work / f"{task.__name__}-{run}").result()
        times.append(seconds)
        peaks.append(peak)
    return times, max(peaks)


def rigid_move() -> np.ndarray:
    """The known misalignment (RAS): rotations about x, y, z through the world origin, then a shift."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_euler("xyz", MOVE_DEG, degrees=True).as_matrix()
    out[:3, 3] = MOVE_MM
    return out


def make_inputs(work: Path) -> tuple[Path, Path, Volume]:
    """A 1-mm MR/CT pair in the phantom layout and a 200-slice 512 x 512 DICOM CT series."""
    subject = simulate_subject(0, [1.5], ["t1w"], 1.0)
    mr = subject.mr[(1.5, "t1w")]
    data = work / "pair" / "s01"
    data.mkdir(parents=True)
    write_volume(Volume(mr.array, rigid_move() @ mr.affine), data / "mr_1.5T_t1w.nii.gz")
    write_volume(subject.ct, data / "ct.nii.gz", np.int16)
    slab = np.full((512, 512, 200), -1024, np.int16)
    ct = subject.ct.array[:, :, :200]
    slab[:ct.shape[0], :ct.shape[1], :ct.shape[2]] = ct
    write_ct_series(Volume(slab, np.diag([-0.5, -0.5, 1.0, 1.0])), work / "dicom")
    return data.parent, work / "dicom", subject.ct


def registration_error_mm(case_json: Path, ct: Volume) -> float:
    """Mean distance over the CT head between the recovered and the true CT -> MR transform."""
    step = json.loads(case_json.read_text())["images"]["mr_1.5T_t1w"]["steps"][1]
    truth_lps = RAS_FROM_LPS @ rigid_move() @ RAS_FROM_LPS
    truth = sitk.AffineTransform(3)
    truth.SetMatrix(truth_lps[:3, :3].ravel().tolist())
    truth.SetTranslation(truth_lps[:3, 3].tolist())
    head = np.argwhere(head_mask(ct.array))[::50]
    points = (RAS_FROM_LPS @ ct.affine @ np.c_[head, np.ones(len(head))].T).T[:, :3]
    return mean_displacement_mm(transform_from_dict(step["transform"]), truth, points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--folder", type=Path, default=None, help="also pick --series out of this DICOM folder")
    parser.add_argument("--series", default="", help="the series (key or UID) to pick out of --folder")
    parser.add_argument("--only", default="", help="run only the tasks whose label contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        wanted = [label for label in (PREPROCESS_LABEL, READ_LABEL) if args.only in label]
        data, dicom, ct = make_inputs(work) if wanted else (None, None, None)
        write_many_series(work / "many")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs")
        print(f"{'task':<48} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9} {'target s':>9}")
        for label, task, source, target in (
            (PREPROCESS_LABEL, preprocess_pair, data, 60),
            (READ_LABEL, read_series, dicom, 3),
            ("pick 1 of 50 series, 5,000 files: before", pick_series_reading_pixels, work / "many", 3),
            ("pick 1 of 50 series, 5,000 files: after", pick_series, work / "many", 3),
            *(
                [(f"pick {args.series[-12:]} from {args.folder.name}: before", pick_series_reading_pixels, args.folder, 3),
                 (f"pick {args.series[-12:]} from {args.folder.name}: after", pick_series, args.folder, 3)]
                if args.folder else []
            ),
            *(
                task
                for folder, name in ((work / "many", "5,000 files"), *([(args.folder, args.folder.name)] if args.folder else []))
                for task in (
                    (f"scan {name}: first, one process", scan_serial, folder, 5),
                    (f"scan {name}: first, parallel", scan_first, folder, 5),
                    (f"scan {name}: second (cached)", scan_second, folder, 1),
                )
            ),
        ):
            if args.only not in label:
                continue
            if task is scan_second:  # fill the cache the second scans read
                os.environ[CACHE_ENV] = str(work / f"warm-cache-{source.name}")
                dicom_index.index_series(source)
            os.environ["BENCH_SERIES"] = args.series if source == args.folder else ""
            times, peak = measure(task, source, work, args.repeats)
            print(f"{label:<48} {statistics.median(times):>9.2f} {min(times):>7.2f} {max(times):>7.2f} {peak:>9.0f} {target:>9}")
        print(f"load average after the runs: {os.getloadavg()[0]:.1f}")
        if not (work / "preprocess_pair-0").exists():
            return
        error = registration_error_mm(work / "preprocess_pair-0" / "s01" / CASE_RECORD, ct)
        print(f"1-mm registration error (known 8 deg / 16 mm move): {error:.2f} mm mean over the head")


if __name__ == "__main__":
    main()
