"""One picture per clinical task for one evaluated case: what the task figures of ``evaluate --task`` see.

Writes into --out: ``proton_range_error.png`` (WEPL sCT - CT to every brain voxel of the axial slice
through the deep target, for a beam from the left and one from the front), ``pet_acf_error.png`` (the
relative ACF error sinogram of that slice and the regional biases) and ``ultrasound_pressure.png``
(pressure amplitude through the CT's and the sCT's skull for the cortical and the deep target).

    .venv/bin/python benchmarks/task_pictures.py --ref REF/sub-000 --sct PRED/builtin/sub-000/sct_1.5T_t1w.nii.gz --out DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cranial_sct.hounsfield import BONE_THRESHOLD_HU  # noqa: E402
from cranial_sct.io import read_volume  # noqa: E402
from cranial_sct.tasks import geometry, measure, pet, proton  # noqa: E402


def range_error_picture(ct: np.ndarray, sct: np.ndarray, spacing, anatomy: measure.Anatomy, index: int, out: Path) -> None:
    """WEPL difference to every cavity voxel of the slice, for two beam directions."""
    in_plane = [a for a in range(3) if a != anatomy.axis]
    voxels = np.argwhere(np.take(anatomy.cavity, index, axis=anatomy.axis))
    targets = np.insert(voxels.astype(float), anatomy.axis, index, axis=1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, (name, sign, axis) in zip(axes, (("from the left", -1, in_plane[0]), ("from the front", 1, in_plane[1]))):
        direction = np.zeros((1, 3))
        direction[0, axis] = sign
        difference = np.subtract(*(proton.wepl_mm(proton.hu_to_rsp(v), spacing, targets, direction)[:, 0] for v in (sct, ct)))
        image = np.full(np.take(ct, index, axis=anatomy.axis).shape, np.nan)
        image[voxels[:, 0], voxels[:, 1]] = difference
        ax.imshow(np.take(ct, index, axis=anatomy.axis).T, cmap="gray", vmin=-1000, vmax=1600, origin="lower")
        shown = ax.imshow(image.T, cmap="RdBu_r", vmin=-5, vmax=5, origin="lower")
        ax.set_title(f"beam {name}: WEPL sCT - CT (mm)\nmedian {np.median(difference):+.2f}, |p95| {np.percentile(np.abs(difference), 95):.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    figure.colorbar(shown, ax=axes, shrink=0.8, label="mm")
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)


def pet_picture(result: pet.PetResult, out: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    limit = np.nanpercentile(np.abs(result.sinogram), 99)
    shown = axes[0].imshow(result.sinogram, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit,
                           extent=(pet.ANGLES[0], pet.ANGLES[-1] + 2, 0, result.sinogram.shape[0]))
    axes[0].set(xlabel="projection angle (degrees)", ylabel="detector bin", title="ACF error sCT vs CT (%), mid-brain slice")
    figure.colorbar(shown, ax=axes[0])
    names = [r for r in pet.REGIONS if np.isfinite(result.bias_pct.get(r, np.nan))]
    axes[1].bar(names, [result.bias_pct[r] for r in names], color="#4a7fb5")
    axes[1].axhline(0, color="grey", lw=0.6)
    axes[1].set(ylabel="bias of a uniform activity (%)", title="regional PET bias")
    figure.tight_layout()
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)


def ultrasound_picture(results, out: Path) -> None:
    figure, axes = plt.subplots(len(results), 2, figsize=(9, 4.2 * len(results)), squeeze=False)
    for row, result in zip(axes, results):
        peak = max(result.amplitude_ct.max(), result.amplitude_sct.max())
        setup = result.setup
        extent = (setup.origin_mm[0], setup.origin_mm[0] + setup.step_mm * (setup.shape[0] - 1),
                  setup.origin_mm[1], setup.origin_mm[1] + setup.step_mm * (setup.shape[1] - 1))
        for ax, name, amplitude, spot in ((row[0], "CT", result.amplitude_ct, result.ct), (row[1], "sCT", result.amplitude_sct, result.sct)):
            ax.imshow(amplitude.T, origin="lower", extent=extent, cmap="inferno", vmin=0, vmax=peak)
            ax.contour(amplitude.T, [0.5 * spot.pressure], origin="lower", extent=extent, colors="cyan", linewidths=0.8)
            ax.plot(*setup.target_mm, "w+", ms=10)
            ax.plot(*spot.position_mm, "co", ms=4, mfc="none")
            ax.set_title(f"{result.name} target, {name} skull: peak {spot.pressure / result.ct.pressure:.2f} x CT's")
            ax.set(xlabel="mm", ylabel="mm")
    figure.suptitle("pressure amplitude (jwave, 2-D); +: target, o: focus, cyan: -6 dB", y=1.0)
    figure.tight_layout()
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help="reference subject folder: ct.nii.gz, mask.nii.gz (labels.nii.gz)")
    parser.add_argument("--sct", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frequency", type=float, default=0.5)
    args = parser.parse_args()
    ct_volume = read_volume(args.ref / "ct.nii.gz")
    ct, sct = (np.asarray(v.array, np.float64) for v in (ct_volume, read_volume(args.sct)))
    inside = np.asarray(read_volume(args.ref / "mask.nii.gz").array) > 0
    labels_path = args.ref / "labels.nii.gz"
    labels = np.asarray(read_volume(labels_path).array) if labels_path.is_file() else None
    anatomy = measure.reference_anatomy(ct, inside, ct_volume.affine, ct_volume.spacing, BONE_THRESHOLD_HU, labels)
    args.out.mkdir(parents=True, exist_ok=True)
    index = int(round(geometry.deep_target(anatomy.cavity)[anatomy.axis]))
    range_error_picture(ct, sct, ct_volume.spacing, anatomy, index, args.out / "proton_range_error.png")
    pet_picture(pet.pet_attenuation(ct, sct, ct_volume.spacing, anatomy.cavity, anatomy.axis, anatomy.regions), args.out / "pet_acf_error.png")
    ultrasound_picture(measure.simulate_ultrasound(ct, sct, ct_volume.spacing, anatomy, args.frequency), args.out / "ultrasound_pressure.png")
    print(f"pictures in {args.out}")


if __name__ == "__main__":
    main()
