"""Turn OpenKBP's head-and-neck CTs into NIfTI heads in HU for ``cranial-sct simulate --anatomy ct:FOLDER``.

OpenKBP (Babier et al., Med Phys 2021; github.com/ababier/open-kbp, MIT; scans from TCIA under CC BY 3.0 /
CC BY-NC 3.0) gives each patient ``pt_N/ct.csv``: the non-zero voxels of HU + 1024 on a 128^3 grid, C order, as
``index,value`` rows, and ``voxel_dimensions.csv`` (mm per axis). Axis 0 runs anterior to posterior, axis 1
right to left, axis 2 superior to inferior (read off the images: face at low axis 0, neck at high axis 2); the
affine written here is RAS with the head's top at the top. Only the top ``KEEP_MM`` of the body are kept
(skull, face, mandible and upper spine): below that the shoulders and thorax would pull the cranial cavity's
centroid, by which the simulator places a head, off the head. Most of these scans stop in the vault, cut flat;
``--skull-base-only`` makes each head air above its cranial cavity's widest slice, so that it teaches the skull base,
face and neck and leaves the vault to other heads.

    python benchmarks/openkbp_heads.py --source open-kbp/provided-data/train-pats --out runs/openkbp-train

Prints, per patient, the body's height kept, the bone volume (> 300 HU) and the cranial cavity the simulator finds
(before ``--skull-base-only``), so a user sees what came in; and how many axial slices from the cavity's top down
to its lowest brain-sized slice (``BRAIN_SLICE_CM2``; the spinal canal is smaller) hold that much of it: a slice
with none there is a slice whose brain renders as muscle (docs/notes/real-skull-bases.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np

from cranial_sct.io.atomic import atomic_path
from cranial_sct.phantom.label_maps import ct_tissues
from cranial_sct.phantom.sources import BRAIN_TISSUES, CORTICAL_HU

GRID = (128, 128, 128)
HU_OFFSET = 1024.0
KEEP_MM = 200.0
BODY_HU = -300.0
BONE_HU = 300.0
AIR_HU = -1000.0
BRAIN_SLICE_CM2 = 10.0  # a slice of brain: the cavity of a slice through the spinal canal is 1-2 cm^2


def read_patient(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """One patient's CT in HU, cropped to the top ``KEEP_MM`` of the body, and its RAS affine."""
    rows = np.loadtxt(folder / "ct.csv", delimiter=",", skiprows=1, ndmin=2)
    flat = np.zeros(int(np.prod(GRID)), np.float32)
    flat[rows[:, 0].astype(np.int64)] = rows[:, 1]
    hu = flat.reshape(GRID) - HU_OFFSET
    spacing = np.loadtxt(folder / "voxel_dimensions.csv")
    body_slices = np.flatnonzero((hu > BODY_HU).any(axis=(0, 1)))
    top = int(body_slices[0])
    hu = hu[:, :, top:top + int(round(KEEP_MM / spacing[2]))]
    affine = np.zeros((4, 4))
    affine[0, 1] = -spacing[1]  # axis 1 runs right to left: x (R) falls
    affine[1, 0] = -spacing[0]  # axis 0 runs anterior to posterior: y (A) falls
    affine[2, 2] = -spacing[2]  # axis 2 runs superior to inferior: z (S) falls
    affine[3, 3] = 1.0
    return hu, affine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="a folder of pt_N/ folders (OpenKBP provided-data/*-pats)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="the first N patients (by number); 0: all")
    parser.add_argument("--skull-base-only", action="store_true",
                        help="make each head air above its cranial cavity's widest axial slice: the vault, cut flat "
                             "where most of these scans stop, leaves, and the skull base, face and neck stay")
    parser.add_argument("--min-cavity-ml", type=float, default=0.0,
                        help="keep a patient only if the simulator finds this much cranial cavity (most scans stop "
                             "below the vault, and a cavity it misses renders as muscle)")
    args = parser.parse_args()
    folders = sorted((p for p in args.source.iterdir() if (p / "ct.csv").is_file()), key=lambda p: int(p.name.split("_")[-1]))
    folders = folders[:args.limit or None]
    args.out.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        hu, affine = read_patient(folder)
        voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000
        cavity = np.isin(ct_tissues(hu, affine, np.mean(CORTICAL_HU)).labels, BRAIN_TISSUES)  # the split does not move it
        cavity_ml = cavity.sum() * voxel_ml
        if cavity_ml < args.min_cavity_ml:
            print(f"{folder.name}: left out, cranial cavity {cavity_ml:.0f} mL")
            continue
        if args.skull_base_only:
            hu[:, :, :int(np.argmax(cavity.sum(axis=(0, 1))))] = AIR_HU  # axis 2 runs downwards
        with atomic_path(args.out / f"openkbp_{folder.name}.nii.gz") as tmp:
            nib.save(nib.Nifti1Image(hu.astype(np.int16), affine), tmp)
        height = np.ptp(np.flatnonzero((hu > BODY_HU).any(axis=(0, 1)))) * abs(affine[2, 2])
        pixel_cm2 = voxel_ml / (abs(affine[2, 2]) / 10)  # mL over the slice thickness in cm
        slices = np.flatnonzero(cavity.sum(axis=(0, 1)) * pixel_cm2 >= BRAIN_SLICE_CM2)
        span = f"in {len(slices)} of the {np.ptp(slices) + 1} slices from its top to its lowest such slice" if len(slices) else "in no slice"
        print(f"{folder.name}: body {height:.0f} mm kept, bone {(hu > BONE_HU).sum() * voxel_ml:.0f} mL, cavity {cavity_ml:.0f} mL, "
              f"over {BRAIN_SLICE_CM2:g} cm^2 {span}")


if __name__ == "__main__":
    main()
