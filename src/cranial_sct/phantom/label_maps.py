"""Real heads as the phantom's tissue labels: BrainWeb and SynthSeg label maps, and real CTs labelled by HU.

Each reader returns a :class:`SourceHead`: a ``Tissue``-coded label map on the file's own grid with its RAS affine,
which :mod:`cranial_sct.phantom.sources` deforms and renders with the package's CT and MR physics. How the classes
are mapped, and why:

- BrainWeb (Aubert-Broche et al., IEEE TMI 2006; Cocosco et al., NeuroImage 1997), "crisp" models: skull -> cortical
  bone, marrow -> diploe, fat -> fat, muscle -> muscle, muscle/skin -> skin, dura and connective tissue -> muscle,
  vessels -> grey matter (as issue 21's experiment did). BrainWeb's skull came from MR segmentation (its "marrow" is
  the bright part of the vault), so the source re-splits every skull into tables and diploe by depth per draw, and
  every label map's scalp (BrainWeb's is mostly muscle/skin on the bone, SynthSeg's one soft-tissue class) into
  skin, fat and galea.
- SynthSeg-v1 label maps (Billot et al., Medical Image Analysis 2023), FreeSurfer codes: white matter, cortex,
  deep grey nuclei, ventricles and CSF as named; hippocampus, amygdala and vessels -> grey matter; choroid plexus ->
  CSF; optic chiasm -> white matter; skull (165) -> cortical bone; non-brain soft tissue (258) -> muscle; eye
  fluid (259) -> vitreous. Any other brain code -> grey matter.
- A real CT by HU: air below ``AIR_BELOW_HU`` (outside the head: background; inside: sinus), fat from ``FAT_HU``,
  bone above ``BONE_THRESHOLD_HU`` (cancellous up to the cortical threshold, which each draw picks, cortical
  above), the rest soft tissue: inside the cranial cavity (:func:`cranial_cavity`) CSF, white or grey matter by
  the tissue's local contrast (:func:`local_contrast`; its lowest ``CSF_SHARE`` and the next ``WM_SHARE``: CT tells
  brain from CSF only roughly, and its grey-white contrast of ~10 HU is near the noise), outside it muscle, with
  its outer ``SKIN_MM`` skin.
In every map air enclosed by the head is sinus (the label of the phantom's air spaces), and so, once drawn, is the
air of the airways that open to the outside or to a field of view's cut (:func:`airways`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU
from cranial_sct.phantom.anatomy import SKIN_MM
from cranial_sct.phantom.tissues import Tissue

RING_GAP_MM = 10.0  # gaps in a skull's axial ring that are closed before its inside is filled
MIN_RING_RADIUS = 3  # voxels: OpenKBP's 4.7-mm CTs keep a 2-voxel closing's rings open (a third to half of the cavity lost)
FAT_HU = (-200.0, -30.0)  # CT fat (DESIGN 4: -100..-50, widened for partial volume and noise)
CSF_SHARE, WM_SHARE = 0.15, 0.40  # of the cranial cavity's soft tissue, by its local contrast, lowest first
CAVITY_NECK_MM = (7.0, 10.0, 14.0)  # ball radii tried in turn (cranial_cavity): openings narrower than twice one are cut
MAX_CAVITY_ML = 2000.0  # until the cranial cavity holds less than this (adults' intracranial volume: about 1100-1900 mL)
SMOOTH_VOXELS, TREND_MM = 1.0, 15.0  # the brain is split into CSF, WM and GM by its local contrast (local_contrast)
SPECK_ML = 0.5  # smaller pieces of non-brain HU inside the brain are noise or calcification
BRAIN_MAX_HU = 120.0  # brain, CSF and blood read below this (DESIGN 4), partial volume with bone above it
CLOSING_MM, AIR_DEPTH_MM = 10.0, 6.0  # how air spaces open to the outside (nostrils, mouth) are told from the outside air

BRAINWEB = {0: Tissue.BACKGROUND, 1: Tissue.CSF, 2: Tissue.GM, 3: Tissue.WM, 4: Tissue.FAT, 5: Tissue.MUSCLE,
            6: Tissue.SKIN, 7: Tissue.OUTER_TABLE, 8: Tissue.GM, 9: Tissue.MUSCLE, 10: Tissue.MUSCLE, 11: Tissue.DIPLOE}
SYNTHSEG = {0: Tissue.BACKGROUND, 2: Tissue.WM, 3: Tissue.GM, 4: Tissue.CSF, 5: Tissue.CSF, 7: Tissue.WM, 8: Tissue.GM,
            10: Tissue.DEEP_GM, 11: Tissue.DEEP_GM, 12: Tissue.DEEP_GM, 13: Tissue.DEEP_GM, 14: Tissue.CSF, 15: Tissue.CSF,
            16: Tissue.WM, 17: Tissue.GM, 18: Tissue.GM, 24: Tissue.CSF, 26: Tissue.DEEP_GM, 28: Tissue.DEEP_GM,
            30: Tissue.GM, 31: Tissue.CSF, 85: Tissue.WM, 165: Tissue.OUTER_TABLE, 258: Tissue.MUSCLE, 259: Tissue.EYE}
LABEL_MAP_KINDS = {"_crisp_v.mnc.gz": ("brainweb", BRAINWEB), "_seg.nii.gz": ("synthseg", SYNTHSEG)}


@dataclass(frozen=True)
class SourceHead:
    """One real head as ``Tissue`` labels on its own grid (``affine``: voxel -> RAS mm)."""

    name: str  # e.g. "brainweb/subject04"
    labels: np.ndarray  # uint8 Tissue codes
    affine: np.ndarray
    kind: str  # "brainweb", "synthseg" or "ct"


def spacing_of(affine: np.ndarray) -> tuple[float, ...]:
    return tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))


def enclosed_air_is_sinus(labels: np.ndarray) -> np.ndarray:
    """Background voxels the head encloses (not joined to the grid's border) become sinus."""
    outside, _ = ndimage.label(labels == Tissue.BACKGROUND)
    border = np.unique(np.concatenate([np.ravel(face) for axis in range(3) for face in (np.take(outside, 0, axis), np.take(outside, -1, axis))]))
    enclosed = (labels == Tissue.BACKGROUND) & ~np.isin(outside, border)
    return np.where(enclosed, np.uint8(Tissue.SINUS), labels).astype(np.uint8)


def airways(body: np.ndarray, spacing: tuple[float, ...], cut_axes: tuple[int, ...] = ()) -> np.ndarray:
    """Air inside the head that opens to the outside (nasal cavity, sinuses through their ostia, pharynx): not ``body``
    (the head's tissue) but inside it closed by ``CLOSING_MM``, and deeper than ``AIR_DEPTH_MM`` under that closed
    surface, which leaves out the concavities the closing bridges (the mouth's opening, the ears' folds). The grid's
    border counts as outside, but for the ends of ``cut_axes``: there a field of view's cut is no surface, and an
    airway it opens stays inside."""
    pad = [(0, 0) if axis in cut_axes else (1, 1) for axis in range(body.ndim)]
    tissue = np.pad(body, pad)
    grown = ndimage.distance_transform_edt(~tissue, sampling=spacing) <= CLOSING_MM
    closed = ndimage.binary_fill_holes(ndimage.distance_transform_edt(grown, sampling=spacing) > CLOSING_MM)
    air = ~tissue & (ndimage.distance_transform_edt(closed, sampling=spacing) > AIR_DEPTH_MM)
    return air[tuple(slice(low, n - high) for (low, high), n in zip(pad, air.shape))]


def read_label_map(path: Path) -> SourceHead:
    """A BrainWeb ``*_crisp_v.mnc.gz`` or SynthSeg ``*_seg.nii.gz`` file as a source head."""
    kind, table = next(((kind, table) for suffix, (kind, table) in LABEL_MAP_KINDS.items() if path.name.endswith(suffix)),
                       (None, None))
    if table is None:
        raise InputError(f"{path}: not a label map this package reads (BrainWeb *_crisp_v.mnc.gz or SynthSeg *_seg.nii.gz)")
    try:
        image = nib.load(path)
        codes = np.asarray(image.dataobj).astype(np.int32)
    except Exception as error:  # nibabel raises many types for a damaged file
        raise InputError(f"{path}: cannot read the label map ({error})") from None
    lookup = np.full(max(int(codes.max()), max(table)) + 1, Tissue.GM if kind == "synthseg" else Tissue.MUSCLE, np.uint8)
    for code, tissue in table.items():
        lookup[code] = tissue
    name = path.name.removesuffix(next(s for s in LABEL_MAP_KINDS if path.name.endswith(s)))
    return SourceHead(f"{kind}/{name}", enclosed_air_is_sinus(lookup[np.clip(codes, 0, None)]), image.affine, kind)


def vertical_axis(affine: np.ndarray) -> int:
    """The voxel axis that runs head to foot (the one ``aff2axcodes`` names S or I)."""
    return [code in "SI" for code in nib.aff2axcodes(affine)].index(True)


def inside_axial_rings(bone: np.ndarray, affine: np.ndarray, gap_mm: float = RING_GAP_MM) -> np.ndarray:
    """The inside of a skull from its bone alone (a reference skull mask; a CT's is :func:`cranial_cavity`): its axial
    rings, gaps up to ``gap_mm`` closed, filled (slices where a ring stays open, at the skull base, add nothing),
    less the bone itself. Known limit: a closing cannot bridge a gap in a one-voxel wall, so at 4-5 mm (OpenKBP)
    many rings stay open, vault slices too (docs/notes/real-skull-bases.md)."""
    axis = vertical_axis(affine)
    spacing = spacing_of(affine)
    radius = max(round(gap_mm / min(s for k, s in enumerate(spacing) if k != axis)), MIN_RING_RADIUS)
    disk = np.hypot(*np.ogrid[-radius:radius + 1, -radius:radius + 1]) <= radius
    inside = slice(radius + 1, -radius - 1)  # padded so that a ring at the image's edge closes too

    def filled(ring: np.ndarray) -> np.ndarray:
        return ndimage.binary_fill_holes(ndimage.binary_closing(np.pad(ring, radius + 1), disk))[inside, inside]

    rings = np.moveaxis(bone, axis, 0)
    return np.moveaxis(np.stack([filled(ring) for ring in rings]), 0, axis) & ~bone


def cranial_cavity(hu: np.ndarray, head: np.ndarray, bone: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The cranial cavity of a CT: its brain-density tissue (``FAT_HU`` to ``BRAIN_MAX_HU``, bone left out, specks
    under ``SPECK_ML`` of other HU taken in: OpenKBP's 4-5 mm voxels scatter +-20 HU) opened by a ball of the first
    of ``CAVITY_NECK_MM`` that keeps it under ``MAX_CAVITY_ML`` (the union of the balls that fit in that tissue,
    which cannot pass a narrower opening or a bone wall, so the face's and the neck's muscle stay out where they
    meet the brain through foramina and gaps in thin bone), only the piece that holds most of the closed axial
    rings' inside in the head's upper half (the vault; the face's and spine's rings lie lower), plus the one-voxel
    rim where brain and bone share voxels. Why not the rings alone: at 4-5 mm (OpenKBP) a ring of one-voxel wall
    keeps gaps that no closing bridges, and at the skull base the rings are open or close around the face, so their
    inside misses half the brain and takes in the pharynx (docs/notes/real-skull-bases.md)."""
    spacing = spacing_of(affine)
    voxel_ml = float(np.prod(spacing)) / 1000
    tissue = head & ~bone & (hu >= FAT_HU[1]) & (hu <= BRAIN_MAX_HU)
    specks, _ = ndimage.label(head & ~bone & ~tissue)
    tissue |= (specks > 0) & (np.bincount(specks.ravel()) * voxel_ml < SPECK_ML)[specks]
    axis = vertical_axis(affine)
    height = np.arange(hu.shape[axis]) * np.sign(affine[2, axis])  # in slices, growing upwards
    body = height[head.any(axis=tuple(k for k in range(3) if k != axis))]
    upper = (height >= (body.min() + body.max()) / 2).reshape([-1 if k == axis else 1 for k in range(3)])
    vault = inside_axial_rings(bone, affine) & upper
    depth = ndimage.distance_transform_edt(tissue, sampling=spacing)
    cavity = np.zeros_like(head)
    for radius in CAVITY_NECK_MM:
        pieces, _ = ndimage.label(depth > radius)
        votes = np.bincount(pieces[vault], minlength=pieces.max() + 1)
        votes[0] = 0
        if votes.max() == 0:
            break
        cavity = tissue & (ndimage.distance_transform_edt(pieces != np.argmax(votes), sampling=spacing) <= radius)
        cavity |= ndimage.binary_dilation(cavity) & head & ~bone & (hu >= FAT_HU[1])
        if cavity.sum() * voxel_ml <= MAX_CAVITY_ML:
            break
    return cavity


def local_contrast(hu: np.ndarray, cavity: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """The cavity's HU smoothed over a voxel (the noise is per voxel) less its mean over ``TREND_MM``, both taken
    over the cavity alone: CSF reads low against the brain around it, where a CT's cupping and beam hardening make
    a whole brain's centre read 10-20 HU below its rim (OpenKBP)."""
    inside = cavity.astype(np.float32)
    values = np.where(cavity, np.clip(hu, -100, 200), 0).astype(np.float32)

    def mean(sigma: float | list[float]) -> np.ndarray:
        return ndimage.gaussian_filter(values, sigma)[cavity] / np.maximum(ndimage.gaussian_filter(inside, sigma)[cavity], 1e-3)

    return mean(SMOOTH_VOXELS) - mean([TREND_MM / s for s in spacing])


def ct_tissues(hu: np.ndarray, affine: np.ndarray, cortical_hu: float, name: str = "ct") -> SourceHead:
    """A CT in HU as a source head (module docstring); bone above ``cortical_hu`` is cortical, below it cancellous."""
    spacing = spacing_of(affine)
    head = ndimage.binary_fill_holes(ndimage.binary_opening(hu > AIR_BELOW_HU, iterations=2))
    labelled, count = ndimage.label(head)
    if count == 0:
        raise InputError(f"{name}: no head in the CT (nothing above {AIR_BELOW_HU:g} HU); is it in HU?")
    head = labelled == np.argmax(np.bincount(labelled.ravel())[1:]) + 1
    bone = head & (hu > BONE_THRESHOLD_HU)
    cavity = cranial_cavity(hu, head, bone, affine)
    labels = np.full(hu.shape, Tissue.MUSCLE, np.uint8)
    labels[head & (ndimage.distance_transform_edt(head, sampling=spacing) <= SKIN_MM)] = Tissue.SKIN
    labels[(hu >= FAT_HU[0]) & (hu < FAT_HU[1])] = Tissue.FAT
    if cavity.any():
        local = local_contrast(hu, cavity, spacing)
        csf, wm = np.quantile(local, [CSF_SHARE, CSF_SHARE + WM_SHARE])
        labels[cavity] = np.where(local <= csf, Tissue.CSF, np.where(local <= wm, Tissue.WM, Tissue.GM))
    labels[bone] = np.where(hu[bone] > cortical_hu, Tissue.BONE, Tissue.DIPLOE)
    labels[hu < AIR_BELOW_HU] = Tissue.SINUS
    labels[~head] = Tissue.BACKGROUND
    return SourceHead(name, labels, affine, "ct")


def read_ct(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A CT file's HU and affine (the file must be in HU: air near -1000)."""
    try:
        image = nib.load(path)
        hu = np.asarray(image.dataobj, np.float32)
    except Exception as error:  # nibabel raises many types for a damaged file
        raise InputError(f"{path}: cannot read the CT ({error})") from None
    if hu.ndim != 3:
        raise InputError(f"{path}: a CT must be one 3D volume, got shape {hu.shape}")
    return hu, image.affine
