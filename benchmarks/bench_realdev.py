"""A checkpoint on the real head scans of ``../shared/realdev``: skull Dice per case, and panels to look at.

    .venv/bin/python benchmarks/bench_realdev.py --checkpoint CK [--realdev ../shared/realdev] [--out runs/realdev] [--band-mm 4] [--deep-mm 15] [--tta] [--keep-bone-islands] [--keep-air-pockets]

For every case with an MR, ``predict`` runs as a user would run it (the checkpoint's plan resamples the
scan; the field strength comes from ``info.json``). Where ``skull_ref.nii.gz`` exists the script prints
skull Dice and HD95 (mm) against it, and every case the seconds ``predict`` took (read, predict, write); for ``mne_sample``, whose FLASH BEM surfaces leave out the face and
skull base, both masks are restricted to the skull band (``bem_labels.nii.gz`` == 2) dilated by
``--band-mm`` (see realdev/README.md), and a second line says which share of the predicted skull lies
on the brain side of the band, in it and on the scalp side (a band shifted outwards or inwards). For every case
with a reference it prints the predicted skull inside the cranial cavity and over ``--deep-mm`` from the
reference skull, in mL: bone where the brain is (ventricles called bone), which a look at three slices can miss;
beside it the air inside the brain (sCT below the air line in the cranial cavity, and the part of it over ``--deep-mm``
from the reference skull), and the skull Dice of each region (``cranial_sct.evaluation.regions``: the vault, the upper
45 % of the reference skull's height, and the skull base with the face under it). Every case it prints how much of the
skull ``predict`` removed as deep islands (``--keep-bone-islands`` keeps them) and how much brain air it filled
(``--keep-air-pockets`` keeps it).
Where a reference exists it also prints a ceiling: the best Dice of the MR's dark band, thresholded with the
reference's help (``threshold_ceiling``), which shows how far a reference departs from what the MR shows,
and where the two skulls lie on the vault (``vault_depths``): the depth under the skin (p10, median, p90) of the reference
and of the predicted skull, with a plot of MR signal and both skulls' share against depth, so a band that sits
too far out or in is seen, not guessed from the Dice.
It writes ``OUT/<case>/`` (the predict outputs) and
``OUT/realdev.html``: axial, coronal and sagittal MR / sCT / skull-overlay panels per case (reference
skull outline in yellow, predicted skull in red). Real data stays outside the package.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from cranial_sct.evaluation.figures import png_bytes  # noqa: E402
from cranial_sct.evaluation.metrics import dice, hd95_mm  # noqa: E402
from cranial_sct.evaluation.regions import REGIONS, VAULT_SHARE, head_regions  # noqa: E402
from cranial_sct.hounsfield import AIR_BELOW_HU  # noqa: E402
from cranial_sct.io import read_volume  # noqa: E402
from cranial_sct.phantom.label_maps import RING_GAP_MM, inside_axial_rings  # noqa: E402
from cranial_sct.preprocess.geometry import reorient  # noqa: E402
from cranial_sct.preprocess.masks import mr_head_mask  # noqa: E402
from cranial_sct.prediction import PredictOptions, parse_field, predict_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VAULT_ABOVE_MM = 10.0  # the vault: above the reference skull's median height by this much
DEPTH_BIN_MM = 1.0  # depth profile bins under the skin


def bem_layers(case_dir: Path) -> np.ndarray | None:
    """mne_sample's BEM labels (1 inside the inner skull, 2 skull band, 3 scalp), or None for a case without them."""
    labels = case_dir / "bem_labels.nii.gz"
    return np.asarray(read_volume(labels).array) if labels.is_file() else None


def scoring_region(layers: np.ndarray | None, shape: tuple[int, ...], spacing: tuple[float, ...], band_mm: float) -> np.ndarray:
    """Where the reference is defined: the BEM skull band dilated by ``band_mm`` for mne_sample, else everywhere."""
    if layers is None:
        return np.ones(shape, bool)
    return ndimage.distance_transform_edt(layers != 2, sampling=spacing) <= band_mm


def cranial_cavity(layers: np.ndarray | None, reference: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Inside the skull: mne_sample's BEM inner-skull compartment; else the reference skull's axial rings, their
    gaps up to ``RING_GAP_MM`` closed, filled (slices where a ring stays open, at the skull base, add nothing)."""
    return layers == 1 if layers is not None else inside_axial_rings(reference, affine, RING_GAP_MM)


def brain(layers: np.ndarray | None, reference: np.ndarray, affine: np.ndarray, spacing: tuple[float, ...],
          deep_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The cranial cavity, and its part more than ``deep_mm`` from the reference skull (the BEM band where there is
    one): where no bone and no air may be. Skull-base crests reach a few mm into the cavity, and a band shifted
    inwards by a few mm is the Dice's business, so the deep part is what bone inside the brain counts."""
    bone = reference if layers is None else layers == 2
    cavity = cranial_cavity(layers, reference, affine)
    return cavity, cavity & (ndimage.distance_transform_edt(~bone, sampling=spacing) > deep_mm)


def millilitres(mask: np.ndarray, spacing: tuple[float, ...]) -> float:
    return float(mask.sum() * np.prod(spacing) / 1000.0)


def region_dice(predicted: np.ndarray, reference: np.ndarray, affine: np.ndarray, spacing: tuple[float, ...]) -> str:
    """Skull Dice of the vault and of the skull base with the face (both masks already restricted to where the
    reference is defined), with each region's share of the reference bone."""
    parts = [f"{REGIONS[name]} {dice(predicted & region, reference & region):.3f} ({millilitres(reference & region, spacing):.0f} mL)"
             for name, region in head_regions(reference, affine).items()]
    return f"  skull Dice by region (vault: upper {VAULT_SHARE:.0%} of the reference skull's height): " + ", ".join(parts)


def threshold_ceiling(mr: np.ndarray, head: np.ndarray, reference: np.ndarray, region: np.ndarray, spacing: tuple[float, ...],
                      near_mm: float) -> tuple[float, float]:
    """The best skull Dice an intensity threshold of the MR reaches against the reference, looking only within
    ``near_mm`` of the reference and inside the head (an oracle: it knows where the skull is and picks the
    threshold on the reference); and that threshold as a fraction of the head's 90th percentile. What the
    reference allows a segmentation that follows the MR's dark band."""
    looked_at = region & head & (ndimage.distance_transform_edt(~reference, sampling=spacing) <= near_mm)
    bright = float(np.percentile(mr[head], 90))
    return max((dice((mr < fraction * bright) & looked_at, reference & region), fraction) for fraction in np.linspace(0.02, 0.8, 40))


def vault_depths(mr: np.ndarray, head: np.ndarray, reference: np.ndarray, predicted: np.ndarray, affine: np.ndarray,
                 spacing: tuple[float, ...]) -> tuple[str, bytes]:
    """On the vault (over ``VAULT_ABOVE_MM`` above the reference skull's median height), the depth under the skin
    (the MR's head mask) of the reference and the predicted skull (10th, 50th, 90th percentiles: the outer edge, the
    middle and the inner edge of the band), and a plot against depth of
    the MR's median (as a fraction of the head's 90th percentile) and the share of voxels each skull holds."""
    depth = ndimage.distance_transform_edt(np.pad(head, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    height = affine[2, 3] + sum(affine[2, k] * index for k, index in enumerate(np.ogrid[tuple(slice(n) for n in mr.shape)]))
    vault = head & (height > np.median(height[reference]) + VAULT_ABOVE_MM)
    spreads = [np.percentile(depth[vault & mask], (10, 50, 90)) if (vault & mask).any() else np.full(3, np.nan)
               for mask in (reference, predicted)]
    edges = np.arange(0.0, 25.0 + DEPTH_BIN_MM, DEPTH_BIN_MM)
    bins = [vault & (depth > low) & (depth <= low + DEPTH_BIN_MM) for low in edges[:-1]]
    bright = float(np.percentile(mr[head], 90))
    figure, ax = plt.subplots(figsize=(6, 3.5))
    centres = edges[:-1] + DEPTH_BIN_MM / 2
    ax.plot(centres, [np.median(mr[b]) / bright if b.any() else np.nan for b in bins], "k-", label="MR / head's 90th percentile")
    ax.plot(centres, [reference[b].mean() if b.any() else np.nan for b in bins], "y-", lw=2, label="reference skull (share)")
    ax.plot(centres, [predicted[b].mean() if b.any() else np.nan for b in bins], "r-", lw=2, label="predicted skull (share)")
    ax.set_xlabel("depth under the skin (mm), vault")
    ax.set_ylim(0, 1.2)
    ax.legend(fontsize=8)
    line = "  vault: depth under the skin, p10 / median / p90, of the reference skull {} mm, of the predicted skull {} mm".format(
        *(" / ".join(f"{v:.1f}" for v in spread) for spread in spreads))
    return line, png_bytes(figure)


def band_sides(layers: np.ndarray, predicted: np.ndarray) -> str:
    """Where the predicted skull (already restricted to the scoring region) lies against the BEM layers."""
    share = [float((predicted & (layers == value)).sum() / max(predicted.sum(), 1)) for value in (1, 2, 3)]
    covered = float((predicted & (layers == 2)).sum() / max((layers == 2).sum(), 1))
    return (f"  predicted skull: {share[0]:.2f} brain side of the BEM band, {share[1]:.2f} in it, "
            f"{share[2]:.2f} scalp side; band covered {covered:.2f}")


def panel(mr: np.ndarray, sct: np.ndarray, skull: np.ndarray, reference: np.ndarray | None) -> bytes:
    """3 rows (axial, coronal, sagittal through the head's centre) x MR / sCT (bone window) / overlay."""
    centre = [int(c) for c in ndimage.center_of_mass(skull | (mr > np.percentile(mr, 60)))]
    figure, axes = plt.subplots(3, 3, figsize=(10, 10))
    for row, axis in enumerate((2, 1, 0)):
        take = lambda a: np.rot90(np.take(a, centre[axis], axis=axis))  # noqa: E731
        low, high = np.percentile(mr, [1, 99.5])
        axes[row, 0].imshow(take(mr), cmap="gray", vmin=low, vmax=high)
        axes[row, 1].imshow(take(sct), cmap="gray", vmin=-200, vmax=1600)
        axes[row, 2].imshow(take(mr), cmap="gray", vmin=low, vmax=high)
        axes[row, 2].imshow(np.ma.masked_where(~take(skull), take(skull)), cmap="autumn", alpha=0.5)
        if reference is not None:
            axes[row, 2].contour(take(reference), levels=[0.5], colors="yellow", linewidths=0.6)
    for ax, title in zip(axes[0], ("MR", "sCT (-200..1600 HU)", "skull (red), reference (yellow)")):
        ax.set_title(title)
    for ax in axes.ravel():
        ax.axis("off")
    figure.tight_layout()
    return png_bytes(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--realdev", type=Path, default=ROOT.parent / "shared" / "realdev")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "realdev")
    parser.add_argument("--band-mm", type=float, default=4.0)
    parser.add_argument("--deep-mm", type=float, default=15.0, help="how far from the reference skull bone counts as inside the brain")
    parser.add_argument("--tta", action="store_true", help="predict with test-time mirroring (predict --tta)")
    parser.add_argument("--keep-bone-islands", action="store_true", help="keep the skull's deep islands (predict --keep-bone-islands)")
    parser.add_argument("--keep-air-pockets", action="store_true", help="keep the brain's air pockets (predict --keep-air-pockets)")
    args = parser.parse_args()
    sections = []
    print(f"{'case':<20} {'field':>6} {'skull Dice':>10} {'HD95 mm':>8} {'predict s':>9}  scored where")
    for case_dir in sorted(d for d in args.realdev.iterdir() if (d / "mr.nii.gz").is_file()):
        info = json.loads((case_dir / "info.json").read_text())
        field = info.get("field_strength_T")
        out = args.out / case_dir.name
        start = time.perf_counter()
        predict_files([args.checkpoint], {"t1w": case_dir / "mr.nii.gz"}, out, parse_field(field),
                      options=PredictOptions(tta=args.tta, keep_bone_islands=args.keep_bone_islands,
                                               keep_air_pockets=args.keep_air_pockets, overwrite=True))
        seconds = time.perf_counter() - start  # read, predict and write, as the user waits for it
        mr = read_volume(case_dir / "mr.nii.gz")
        sct, skull = (read_volume(out / f"{name}.nii.gz") for name in ("sct", "skull"))
        reference, profile = None, None
        line = f"{case_dir.name:<20} {field if field else 'unknown':>6} {'-':>10} {'-':>8} {seconds:>9.1f}  no reference"
        if (case_dir / "skull_ref.nii.gz").is_file():
            reference = np.asarray(read_volume(case_dir / "skull_ref.nii.gz").array) > 0
            layers = bem_layers(case_dir)
            region = scoring_region(layers, reference.shape, mr.spacing, args.band_mm)
            skull_mask = np.asarray(skull.array) > 0
            predicted = skull_mask & region
            line = (f"{case_dir.name:<20} {field if field else 'unknown':>6} {dice(predicted, reference & region):>10.3f} "
                    f"{hd95_mm(predicted, reference & region, mr.spacing):>8.1f} {seconds:>9.1f}  "
                    + (f"within {args.band_mm:g} mm of the BEM skull band" if region.mean() < 1 else "whole volume"))
            if layers is not None:
                line += "\n" + band_sides(layers, predicted)
            line += "\n" + region_dice(predicted, reference & region, mr.affine, mr.spacing)
            cavity, deep = brain(layers, reference, mr.affine, mr.spacing, args.deep_mm)
            air = np.asarray(sct.array) < AIR_BELOW_HU
            mr_array = np.asarray(mr.array, np.float32)
            head = mr_head_mask(mr_array)
            ceiling, fraction = threshold_ceiling(mr_array, head, reference, region, mr.spacing, args.band_mm)
            line += f"\n  ceiling: the MR thresholded at {fraction:.2f} x its 90th percentile within {args.band_mm:g} mm of the reference: Dice {ceiling:.3f}"
            line += f"\n  bone inside the brain (in the cranial cavity, over {args.deep_mm:g} mm from the reference skull): {millilitres(skull_mask & deep, mr.spacing):.2f} mL"
            line += (f"\n  air inside the brain (sCT < {AIR_BELOW_HU:g} HU): {millilitres(air & cavity, mr.spacing):.2f} mL in the cranial cavity, "
                     f"{millilitres(air & deep, mr.spacing):.2f} mL over {args.deep_mm:g} mm from the reference skull")
            vault_line, profile = vault_depths(mr_array, head, reference, skull_mask, mr.affine, mr.spacing)
            line += "\n" + vault_line
        sidecar = json.loads((out / "sct.json").read_text())
        removed, filled = sidecar["bone_islands"]["removed_ml"], sidecar["air_pockets"]["filled_ml"]
        line += "\n  deep bone islands: " + ("kept" if removed is None else f"{removed:.2f} mL removed")
        line += "; brain air pockets: " + ("kept" if filled is None else f"{filled:.2f} mL filled")
        print(line, flush=True)
        ras = lambda array: reorient(mr.with_array(np.asarray(array)), "RAS")[0].array  # noqa: E731
        picture = panel(ras(mr.array.astype(np.float32)), ras(sct.array), ras(skull.array) > 0, None if reference is None else ras(reference))
        image = base64.b64encode(picture).decode()
        sections.append(f"<h2>{html.escape(case_dir.name)}</h2><pre>{html.escape(line)}</pre><img src='data:image/png;base64,{image}'>")
        if profile is not None:
            sections.append(f"<p><img src='data:image/png;base64,{base64.b64encode(profile).decode()}'></p>")
    page = args.out / "realdev.html"
    page.write_text(f"<html><body><h1>{html.escape(args.checkpoint)} on realdev</h1>{''.join(sections)}</body></html>")
    print(f"panels: {page}")


if __name__ == "__main__":
    main()
