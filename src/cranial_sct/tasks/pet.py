"""PET attenuation: correction factors along lines of response and the bias they leave in the brain.

The attenuation correction factor (ACF) of a line of response is exp(line integral of mu at 511 keV);
a PET image is corrected by multiplying each line's counts by it, so a relative ACF error becomes a
relative error of the counts. Both maps come from ``conversion.hu_to_mu_511kev`` (Carney 2006), so
the figures isolate what the sCT's HU do.

Geometry: a parallel projection of each axial slice through the brain (skimage's Radon transform),
that is the direct-plane sinograms of a 3-D scanner after single-slice rebinning. A brain PET's
oblique lines cross few planes (axial acceptance of about 10-15 degrees), where the path through the
same slice lengthens by 1/cos, at most a few per cent, alike for CT and sCT, so the relative ACF error
is what the direct planes give.

Expected regional bias: a uniform activity in the intracranial cavity is projected, each line is
multiplied by its ACF ratio sCT / CT, and both that and the unbiased sinogram are reconstructed by
filtered back-projection; bias = region sum of the difference / region sum of the unbiased image.
Regions come from the phantom's tissue labels (``phantom.Tissue``): cortex (GM above the cerebellum),
deep grey matter (DEEP_GM) and cerebellum (grey and white matter below the deep nuclei and behind
them, the phantom having no cerebellum label). Without labels only the whole cavity is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from scipy import ndimage
from skimage.transform import iradon, radon

from cranial_sct.conversion import hu_to_mu_511kev
from cranial_sct.phantom.tissues import Tissue

ANGLES = np.linspace(0.0, 180.0, 90, endpoint=False)  # 2 degrees apart: a 2-mm brain slice is sampled finely enough
REGIONS = ("brain", "cortex", "deep_gm", "cerebellum")
METRIC_NAMES = ("pet_acf_error_mean_pct", "pet_acf_error_p5_pct", "pet_acf_error_p95_pct", *(f"pet_bias_{r}_pct" for r in REGIONS))


def _world_axis(affine: np.ndarray, world: int) -> tuple[int, float]:
    """(array axis, sign) of a world axis (0 R, 1 A, 2 S): sign +1 when the index grows towards it."""
    ornt = nib.orientations.io_orientation(affine)
    axis = int(np.flatnonzero(ornt[:, 0] == world)[0])
    return axis, float(ornt[axis, 1])


def brain_regions(labels: np.ndarray, affine: np.ndarray) -> dict[str, np.ndarray]:
    """Cortex, deep grey matter and cerebellum masks from the phantom's tissue labels."""
    labels = np.asarray(labels)
    deep = labels == Tissue.DEEP_GM
    brain_tissue = np.isin(labels, (Tissue.GM, Tissue.WM))
    if not deep.any():
        return {"cortex": labels == Tissue.GM, "deep_gm": deep, "cerebellum": np.zeros_like(deep)}
    superior, s_sign = _world_axis(affine, 2)
    anterior, a_sign = _world_axis(affine, 1)
    index = np.indices(labels.shape)
    deep_index = np.argwhere(deep)
    below = s_sign * index[superior] < (s_sign * deep_index[:, superior]).min()
    behind = a_sign * index[anterior] < a_sign * deep_index[:, anterior].mean()
    cerebellum = brain_tissue & below & behind
    return {"cortex": (labels == Tissue.GM) & ~cerebellum, "deep_gm": deep, "cerebellum": cerebellum}


def _square_pixels(image: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, float]:
    """The slice on square pixels of its finer side (linear), so a Radon line integral is in one unit,
    zero-padded to a square, the image ``iradon`` gives back."""
    side = float(min(spacing))
    zoom = [s / side for s in spacing]
    image = image if all(z == 1 for z in zoom) else ndimage.zoom(image, zoom, order=1)
    short = [max(image.shape) - n for n in image.shape]
    return np.pad(image, [(k // 2, k - k // 2) for k in short]), side


def attenuation_factors(mu: np.ndarray, side_mm: float) -> np.ndarray:
    """ACF = exp(line integral of mu) of every line of a square slice of mu (cm^-1) on pixels of
    ``side_mm``: the sinogram, detector bins x ``ANGLES``."""
    return np.exp(radon(mu, ANGLES, circle=False) * side_mm / 10.0)


@dataclass(frozen=True)
class PetResult:
    """Relative ACF errors of the lines through the brain (%) and the regional biases (%)."""

    acf_error_pct: np.ndarray
    bias_pct: dict[str, float]
    sinogram: np.ndarray  # relative ACF error (%) of the slice through the cavity's centre, for the picture

    def metrics(self) -> dict[str, float]:
        errors = self.acf_error_pct
        values = (errors.mean(), *np.percentile(errors, [5, 95]), *(self.bias_pct.get(region, np.nan) for region in REGIONS))
        return {name: float(value) for name, value in zip(METRIC_NAMES, values)}


def pet_attenuation(ct: np.ndarray, sct: np.ndarray, spacing: Sequence[float], cavity: np.ndarray, axis: int,
                    regions: dict[str, np.ndarray] | None = None, kvp: int = 120) -> PetResult:
    """ACF errors and regional biases over the axial slices through ``cavity`` (see the module docstring)."""
    in_plane = [spacing[a] for a in range(3) if a != axis]
    masks = {"brain": cavity, **(regions or {})}
    sums = {name: np.zeros(2) for name in masks}  # region sums of (biased - unbiased, unbiased) images
    errors, sinogram = [], None
    slices = np.flatnonzero(np.moveaxis(cavity, axis, 0).reshape(cavity.shape[axis], -1).any(axis=1))
    middle = slices[len(slices) // 2]
    mu_difference = hu_to_mu_511kev(sct, kvp).astype(np.float64) - hu_to_mu_511kev(ct, kvp)
    for k in slices:
        take = lambda a: np.take(a, k, axis=axis).astype(np.float64)  # noqa: E731
        activity, side = _square_pixels(take(cavity), in_plane)
        delta_mu, _ = _square_pixels(take(mu_difference), in_plane)
        emission = radon(activity, ANGLES, circle=False)
        ratio = attenuation_factors(delta_mu, side)  # exp of the integral of mu_sCT - mu_CT: ACF_sCT / ACF_CT
        through_brain = emission > 0.5
        errors.append(100 * (ratio[through_brain] - 1))
        if k == middle:
            sinogram = np.where(emission > 0.5, 100 * (ratio - 1), np.nan)
        size = activity.shape[0]
        unbiased = iradon(emission, ANGLES, circle=False, output_size=size)
        difference = iradon(emission * (ratio - 1), ANGLES, circle=False, output_size=size)
        for name, mask in masks.items():
            region, _ = _square_pixels(take(mask), in_plane)
            inside = region > 0.5
            sums[name] += (difference[inside].sum(), unbiased[inside].sum())
    bias = {name: float(100 * d / u) if u > 0 else float("nan") for name, (d, u) in sums.items()}
    return PetResult(np.concatenate(errors), bias, sinogram)
