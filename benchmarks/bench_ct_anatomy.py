"""The phantom's CT against real head CTs: air spaces, bone volume by region, bone HU, scalp and fat.

    .venv/bin/python benchmarks/bench_ct_anatomy.py [--realdev ../shared/realdev] [--heads 2] [--spacing 1] [--seed 99]
        [--anatomy procedural] [--out OUT]

Measured the same way on every CT: the real ``ct_unc_cthead`` (vertex to C2) and both parts of ``ct_ge_hispeed``
(skull base to lower vault, and vault to vertex), and ``--heads`` phantom CTs (``simulate_ct`` of heads drawn from
``--anatomy``, any ``cranial-sct simulate --anatomy`` source, as subjects 0, 1, ... of a cohort with seeds ``--seed``,
``--seed`` + 1, ...). The head is the largest connected body above the air line
(opened, holes filled); per CT the script prints:

- air inside the head (below ``AIR_BELOW_HU``; airways open to the outside counted: ``label_maps.airways``), in mL, midline (nasal cavity, paranasal sinuses, pharynx: within
  ``LATERAL_MM`` of the head's mid-sagittal plane) and lateral (mastoid cells, middle ears);
- bone (above the bone threshold) in mL, and its share in the vault and under it (``cranial_sct.evaluation.regions``);
- percentiles of the bone's HU, and the share of bone under ``CORTICAL_HU`` (cancellous-like);
- in the vault: the share of voxels between 150 and 300 HU among those over 150 HU (marrow that the 300-HU line
  leaves out of the skull), and the median depth of the bone's outer surface under the skin (the scalp);
- fat (-200..-30 HU) as a share of the head's soft tissue, and the median HU of soft tissue (-30..150 HU).

With ``--out`` it writes a histogram of bone and marrow HU per CT (``ct_anatomy.png``). Real data stays outside.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from cranial_sct.evaluation.regions import head_regions, world_height  # noqa: E402
from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU  # noqa: E402
from cranial_sct.phantom.ct import simulate_ct  # noqa: E402
from cranial_sct.phantom.grids import covering_grid  # noqa: E402
from cranial_sct.phantom.label_maps import FAT_HU, airways, spacing_of  # noqa: E402
from cranial_sct.phantom.sources import draw_anatomy, parse_anatomy  # noqa: E402
from cranial_sct.phantom.subject import stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LATERAL_MM = 30.0  # the paranasal sinuses and nasal cavity lie within this of the midline; mastoids beyond
CORTICAL_HU = 800.0  # a rough line between cancellous and cortical bone
MARROW_HU = (150.0, BONE_THRESHOLD_HU)
SOFT_HU = (FAT_HU[1], 150.0)


def head_of(hu: np.ndarray) -> np.ndarray:
    """The largest body above the air line, opened (noise, table edges) and with its holes filled."""
    body = ndimage.binary_opening(hu > AIR_BELOW_HU, iterations=2)
    labels, count = ndimage.label(body)
    largest = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
    return ndimage.binary_fill_holes(largest)


def scalp_of(soft: np.ndarray, depth: np.ndarray, step: float) -> np.ndarray:
    """The parts of ``soft`` (the vault's non-bone head) joined to the skin: over the vault the bone parts them from
    the brain."""
    labels, _ = ndimage.label(soft)
    touching = np.unique(labels[soft & (depth <= 1.5 * step)])
    return np.isin(labels, touching[touching > 0])


def measure(name: str, hu: np.ndarray, affine: np.ndarray) -> tuple[str, np.ndarray, np.ndarray]:
    """One CT's line of figures (module docstring); its bone HU and its vault's HU over 150 (for the histogram)."""
    spacing = spacing_of(affine)
    ml = float(np.prod(spacing)) / 1000.0
    head = head_of(hu)
    bone = head & (hu > BONE_THRESHOLD_HU)
    air = (head & (hu < AIR_BELOW_HU)) | airways(head, spacing)
    lateral_axis = [code in "LR" for code in nib.aff2axcodes(affine)].index(True)
    index = np.indices(hu.shape)[lateral_axis]
    mid = float(np.median(index[head]))
    lateral = np.abs(index - mid) * spacing[lateral_axis] > LATERAL_MM
    vault = head_regions(bone, affine)["vault"]
    over_150 = vault & head & (hu > MARROW_HU[0])
    depth = ndimage.distance_transform_edt(np.pad(head, 1), sampling=spacing)[1:-1, 1:-1, 1:-1]
    outer_surface = bone & vault & ndimage.binary_dilation(scalp_of(head & ~bone & vault, depth, min(spacing)))
    soft = head & (hu >= SOFT_HU[0]) & (hu < SOFT_HU[1])
    fat = head & (hu >= FAT_HU[0]) & (hu < FAT_HU[1])
    height = world_height(hu.shape, affine)[head]
    p = np.percentile(hu[bone], [10, 25, 50, 75, 90])
    line = (f"{name:<28} head {head.sum() * ml:6.0f} mL over {height.max() - height.min():4.0f} mm | air: midline {(air & ~lateral).sum() * ml:5.1f}, "
            f"lateral {(air & lateral).sum() * ml:5.1f} mL | bone {bone.sum() * ml:4.0f} mL, vault {((bone & vault).sum() / bone.sum()):.2f} | "
            f"bone HU p10-p90 {' '.join(f'{v:.0f}' for v in p)}, under {CORTICAL_HU:g}: {(hu[bone] < CORTICAL_HU).mean():.2f} | "
            f"vault 150-300 HU share {(over_150 & (hu < MARROW_HU[1])).sum() / max(over_150.sum(), 1):.2f}, scalp {np.median(depth[outer_surface]):.1f} mm | "
            f"fat {fat.sum() / max((fat | soft).sum(), 1):.2f} of soft, soft median {np.median(hu[soft]):.0f} HU")
    return line, hu[bone], hu[over_150]


def real_cts(realdev: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    files = [("ct_unc_cthead", realdev / "ct_unc_cthead/ct.nii.gz"), ("ct_ge_hispeed part1 (base)", realdev / "ct_ge_hispeed/ct_part1_4mm.nii.gz"),
             ("ct_ge_hispeed part2 (vault)", realdev / "ct_ge_hispeed/ct_part2_7mm.nii.gz")]
    return [(name, np.asarray(image.dataobj, np.float32), image.affine) for name, path in files if path.is_file() for image in [nib.load(path)]]


def phantom_cts(heads: int, spacing: float, seed: int, anatomy: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    grid = covering_grid(spacing)
    source = parse_anatomy(anatomy)
    cts = []
    for index in range(heads):
        fractions, _, _ = draw_anatomy(source, index, stream(seed + index, 1), grid)
        name = f"{source.head_name(index).split(':')[-1]} seed {seed + index}"
        cts.append((name, simulate_ct(fractions, stream(seed + index, 3)).astype(np.float32), grid.affine))
    return cts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdev", type=Path, default=ROOT.parent / "shared" / "realdev")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--spacing", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--anatomy", default="procedural", help="where the phantom heads come from (simulate's --anatomy)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    histograms = []
    for name, hu, affine in real_cts(args.realdev) + phantom_cts(args.heads, args.spacing, args.seed, args.anatomy):
        line, bone_hu, vault_hu = measure(name, hu, affine)
        print(line, flush=True)
        histograms.append((name, bone_hu, vault_hu))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        figure, axes = plt.subplots(1, 2, figsize=(12, 4))
        bins = np.arange(MARROW_HU[0], 2400, 25)
        for name, bone_hu, vault_hu in histograms:
            axes[0].hist(bone_hu, bins=bins, density=True, histtype="step", label=name)
            axes[1].hist(vault_hu, bins=bins, density=True, histtype="step", label=name)
        axes[0].set_title("bone (> 300 HU), whole head")
        axes[1].set_title("vault, > 150 HU (marrow and cortical)")
        for ax in axes:
            ax.set_xlabel("HU")
        axes[1].legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(args.out / "ct_anatomy.png", dpi=100)
        print(f"histograms: {args.out / 'ct_anatomy.png'}")


if __name__ == "__main__":
    main()
