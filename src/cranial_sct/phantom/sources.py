"""Where a simulated subject's anatomy comes from: one seam for the procedural generator, real label maps and real CTs.

``cranial-sct simulate --anatomy SOURCE``:

- ``procedural`` (the default): :func:`cranial_sct.phantom.anatomy.design_head`, exactly as before (same seed, same files);
- ``labels:PATH``: a BrainWeb ``*_crisp_v.mnc.gz`` or SynthSeg ``*_seg.nii.gz`` label map, or a folder of them;
- ``ct:PATH``: a CT in HU (``.nii``/``.nii.gz``), or a folder of them, turned into tissues by HU
  (:mod:`cranial_sct.phantom.label_maps`);
- ``BASE^VAULT``: a joined head: BASE's skull base, face and neck under VAULT's vault and brain (e.g.
  ``ct:OPENKBP^procedural``: a real CT whose vault the scan cut off, completed by a phantom's), see :func:`join_heads`;
- ``A+B+...``: a mixture: subject ``i`` draws from source ``i mod k`` (its ``i div k``-th draw there), so one cohort
  holds procedural heads beside real ones.

Subject ``i`` of a cohort draws source head ``i mod n`` (heads sorted by file name), so holding out whole heads is
choosing subjects; the manifest's ``anatomy`` column names each subject's head. Every draw of a real head is a new
head: a random similarity (rotation up to ``ROTATION_DEG`` about each axis, an overall scale and a per-axis one), a
smooth displacement (``DEFORM_MM`` over ``DEFORM_SCALE_MM``), the cranial cavity centred where the procedural one
is, the skull's outer surface moved in or out by a smooth field of sd ``THICKNESS_MM``, and the marrow varied: a
label map's skull re-split into cortical tables ``TABLE_MM`` thick around a diploe (its own split came from MR) and
its soft tissue into skin, subcutaneous fat and a galea drawn as a procedural head's (:func:`resplit_scalp`), a
CT's cortical/cancellous threshold drawn within ``CORTICAL_HU`` (a CT coarser than ``COARSE_CT_MM`` re-split by
depth as a label map's: at 4-5 mm most of a thin skull's voxels fall under any cortical threshold). Labels are drawn
on the phantom's 2x finer grid and averaged into :class:`TissueFractions`, which the same CT model and MR physics
render as a procedural head's. Mixing sources puts whole heads side by side in a cohort; joining puts the parts of
two heads together in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cranial_sct.errors import InputError
from cranial_sct.phantom.anatomy import GALEA_MM, SCALP_FAT_MM, SKIN_MM, ShapeParameters, design_head, scalp_fat
from cranial_sct.phantom.grids import SUPERSAMPLE, Grid, Resampler, design_grid, fine_axis
from cranial_sct.phantom.label_maps import LABEL_MAP_KINDS, SourceHead, airways, ct_tissues, read_ct, read_label_map, spacing_of
from cranial_sct.phantom.random_fields import smooth_field
from cranial_sct.phantom.tissues import BONE_TISSUES, Tissue
from cranial_sct.phantom.voxelise import TissueFractions, block_counts, voxelise

PROCEDURAL = "procedural"
MIX = "mix"
JOIN = "join"
ROTATION_DEG = 6.0
SCALE_SD, AXIS_SCALE_SD = 0.04, 0.03  # log-normal: overall head size, then each axis
DEFORM_MM, DEFORM_SCALE_MM = 2.0, 50.0
THICKNESS_MM = 1.0
TABLE_MM = (1.0, 2.2)
CORTICAL_HU = (650.0, 950.0)
COARSE_CT_MM = 3.0  # a CT with voxels coarser than this reads its thin bone's edges as cancellous: split by depth instead
CAVITY_CENTRE_MM = (0.0, -16.0, 8.0)  # the procedural heads' cranial cavity centroid (mean of 3, docs/notes/anatomy-sources.md)
BRAIN_TISSUES = (Tissue.CSF, Tissue.GM, Tissue.WM, Tissue.DEEP_GM)
EXTRACRANIAL_SOFT = (Tissue.MUSCLE, Tissue.FAT)  # what a thicker skull grows into, and a thinner one leaves
LABEL_MAP_SCALP = (Tissue.SKIN, Tissue.MUSCLE)  # a label map's soft tissue outside the brain, re-split by depth


@dataclass(frozen=True)
class AnatomySource:
    """A parsed ``--anatomy``: its kind (``procedural``, ``labels``, ``ct``) and its head files."""

    spec: str
    kind: str
    paths: tuple[Path, ...] = ()
    parts: tuple[AnatomySource, ...] = ()  # a mixture's sources (kind ``mix``), or a join's base and vault (``join``)

    def part(self, index: int) -> tuple[AnatomySource, int]:
        """The single source subject ``index`` draws from, and its index there."""
        if self.kind != MIX:
            return self, index
        return self.parts[index % len(self.parts)], index // len(self.parts)

    def head_name(self, index: int) -> str:
        """What subject ``index`` is drawn from, as the manifest records it."""
        source, index = self.part(index)
        if source.kind == PROCEDURAL:
            return PROCEDURAL
        if source.kind == JOIN:
            return "^".join(part.head_name(index) for part in source.parts)
        return f"{source.kind}:{source.paths[index % len(source.paths)].name}"


def _files(option: str, path: Path, suffixes: tuple[str, ...]) -> tuple[Path, ...]:
    if path.is_file():
        files = (path,) if path.name.endswith(suffixes) else ()
    elif path.is_dir():
        files = tuple(sorted(p for p in path.iterdir() if p.name.endswith(suffixes)))
    else:
        raise InputError(f"--anatomy {option}: {path} does not exist")
    if not files:
        raise InputError(f"--anatomy {option}: no {' or '.join('*' + s for s in suffixes)} file{' in ' if path.is_dir() else ' at '}{path}")
    return files


def parse_anatomy(spec: str) -> AnatomySource:
    """``procedural``, ``labels:PATH``, ``ct:PATH`` or a ``+`` mixture of them (see the module docstring); a clear
    error otherwise."""
    if "+" in spec:
        return AnatomySource(spec, MIX, parts=tuple(parse_anatomy(part) for part in spec.split("+")))
    if "^" in spec:
        parts = spec.split("^")
        if len(parts) != 2:
            raise InputError(f"--anatomy {spec}: a join is BASE^VAULT, two sources (e.g. ct:PATH^procedural)")
        return AnatomySource(spec, JOIN, parts=tuple(parse_anatomy(part) for part in parts))
    if spec == PROCEDURAL:
        return AnatomySource(spec, PROCEDURAL)
    kind, _, path = spec.partition(":")
    if kind == "labels" and path:
        return AnatomySource(spec, kind, _files(spec, Path(path), tuple(LABEL_MAP_KINDS)))
    if kind == "ct" and path:
        return AnatomySource(spec, kind, _files(spec, Path(path), (".nii", ".nii.gz")))
    raise InputError(f"--anatomy {spec}: expected procedural, labels:PATH (BrainWeb/SynthSeg label maps), ct:PATH (CT in HU), "
                     "BASE^VAULT or a + mixture of them")


@lru_cache(maxsize=2)
def _label_map(path: Path) -> SourceHead:
    return read_label_map(path)


@lru_cache(maxsize=2)
def _ct(path: Path) -> tuple[np.ndarray, np.ndarray]:
    return read_ct(path)


def draw_anatomy(source: AnatomySource, index: int, rng: np.random.Generator, grid: Grid) -> tuple[TissueFractions, ShapeParameters | None, dict[str, Any]]:
    """Subject ``index``'s tissue fractions on ``grid``, its procedural shape parameters (None for a real head) and
    a record of the draw (for ``tissues.json``)."""
    source, index = source.part(index)
    if source.kind == PROCEDURAL:
        design = design_head(rng)
        return voxelise(design, grid), design.params, {"source": PROCEDURAL}
    if source.kind == JOIN:
        base, _, base_record = draw_anatomy(source.parts[0], index, rng, grid)
        vault, _, vault_record = draw_anatomy(source.parts[1], index, rng, grid)
        fractions, join = join_heads(base, vault, source.head_name(index))
        return fractions, None, {"source": source.head_name(index), "base": base_record, "vault": vault_record, **join}
    path = source.paths[index % len(source.paths)]
    record: dict[str, Any] = {"source": source.head_name(index)}
    if source.kind == "ct":
        record["cortical_hu"] = float(rng.uniform(*CORTICAL_HU))
        head = ct_tissues(*_ct(path), record["cortical_hu"], name=str(path))
    else:
        head = _label_map(path)
    fine, transform = deformed_labels(head, rng, grid)
    fine[airways(fine != Tissue.BACKGROUND, (grid.spacing / SUPERSAMPLE,) * 3, cut_axes=(2,))] = Tissue.SINUS  # the neck is cut
    record.update(transform)
    record["thickness_mm_sd"] = vary_thickness(fine, rng, grid)
    if head.kind != "ct" or max(spacing_of(head.affine)) > COARSE_CT_MM:
        record["table_mm"] = resplit_marrow(fine, rng, grid)
    if head.kind != "ct":
        record.update(resplit_scalp(fine, rng, grid))
    return TissueFractions(block_counts(fine, SUPERSAMPLE), grid), None, record


def join_heads(base: TissueFractions, vault: TissueFractions, name: str) -> tuple[TissueFractions, dict[str, Any]]:
    """``base`` up to its cranial cavity's widest axial slice, ``vault`` from there up: the vault head moved so that its
    own widest cavity slice lands on the join, and stretched in that plane so that its cavity's spread (sd along x
    and y) matches the base's there, which keeps the skull's wall continuous to within a few mm at the join.
    Voxels are copied whole (nearest), so every voxel's tissue counts still sum to one voxel."""
    base_cavity, vault_cavity = (np.isin(head.labels, BRAIN_TISSUES) for head in (base, vault))
    for part, cavity in zip(name.split("^"), (base_cavity, vault_cavity)):
        if cavity.sum(axis=(0, 1)).max() < 2:
            raise InputError(f"--anatomy {name}: {part} has no cranial cavity to join the heads at")
    base_z, vault_z = (int(np.argmax(cavity.sum(axis=(0, 1)))) for cavity in (base_cavity, vault_cavity))  # axis 2 runs up
    spread = []
    for cavity, z in ((base_cavity, base_z), (vault_cavity, vault_z)):
        points = np.argwhere(cavity[..., z]).astype(float)
        spread.append((points.mean(axis=0), points.std(axis=0)))
    (base_centre, base_sd), (vault_centre, vault_sd) = spread
    stretch = base_sd / vault_sd
    shape = base.grid.shape
    source = [np.clip(np.rint(vault_centre[k] + (np.arange(shape[k]) - base_centre[k]) / stretch[k]), 0, shape[k] - 1).astype(int)
              for k in range(2)]
    above = np.arange(base_z, shape[2])
    from_z = above - base_z + vault_z
    inside = from_z < shape[2]
    counts = base.counts.copy()
    counts[..., base_z:] = 0
    counts[Tissue.BACKGROUND, ..., base_z:] = base.subvoxels
    counts[..., above[inside]] = vault.counts[:, source[0][:, None, None], source[1][None, :, None], from_z[inside][None, None, :]]
    return TissueFractions(counts, base.grid), {"join_z_mm": round(float(base.grid.axis(2)[base_z]), 1),
                                                "vault_stretch": np.round(stretch, 3).tolist()}


def deformed_labels(head: SourceHead, rng: np.random.Generator, grid: Grid) -> tuple[np.ndarray, dict[str, Any]]:
    """``head``'s labels on ``grid``'s fine grid through a random similarity and smooth displacement (nearest label),
    its cranial cavity centred at ``CAVITY_CENTRE_MM``; and the draw's parameters."""
    rotation_deg = rng.uniform(-ROTATION_DEG, ROTATION_DEG, 3)
    scale = np.exp(rng.normal(0.0, SCALE_SD) + rng.normal(0.0, AXIS_SCALE_SD, 3))
    coarse = design_grid()
    displacement = [DEFORM_MM * smooth_field(rng, coarse, DEFORM_SCALE_MM) for _ in range(3)]
    centre = head.affine[:3, :3] @ np.array(ndimage.center_of_mass(np.isin(head.labels, BRAIN_TISSUES))) + head.affine[:3, 3]
    to_source = np.linalg.inv(head.affine)
    matrix = to_source[:3, :3] @ np.linalg.inv(Rotation.from_euler("xyz", rotation_deg, degrees=True).as_matrix() @ np.diag(scale))
    offset = to_source[:3, :3] @ centre + to_source[:3, 3]
    axes = [fine_axis(grid, k) for k in range(3)]
    fine = np.empty(tuple(len(a) for a in axes), np.uint8)
    step = 8 * SUPERSAMPLE  # fine slices per slab: bounded memory at 1 mm
    for start in range(0, len(axes[2]), step):
        slab = (axes[0], axes[1], axes[2][start:start + step])
        moved = Resampler.between(coarse, slab)
        points = np.meshgrid(*slab, indexing="ij")
        world = np.stack([points[k] + moved(displacement[k]) - CAVITY_CENTRE_MM[k] for k in range(3)])
        voxel = np.tensordot(matrix, world, axes=1) + offset[:, None, None, None]
        fine[..., start:start + step] = ndimage.map_coordinates(head.labels, voxel, order=0, mode="constant", cval=Tissue.BACKGROUND)
    return fine, {"rotation_deg": np.round(rotation_deg, 2).tolist(), "scale": np.round(scale, 3).tolist()}


def _fine_field(rng: np.random.Generator, grid: Grid, correlation_mm: float) -> np.ndarray:
    coarse = design_grid()
    return Resampler.between(coarse, tuple(fine_axis(grid, k) for k in range(3)))(smooth_field(rng, coarse, correlation_mm))


def vary_thickness(fine: np.ndarray, rng: np.random.Generator, grid: Grid) -> float:
    """Move the skull's outer surface by a smooth field of sd ``THICKNESS_MM`` (in place): bone grows into the scalp's
    muscle and fat where it is positive and gives way to muscle where negative. Returns the sd used."""
    spacing = grid.spacing / SUPERSAMPLE
    shift = THICKNESS_MM * _fine_field(rng, grid, 40.0)
    bone = np.isin(fine, BONE_TISSUES)
    soft = np.isin(fine, EXTRACRANIAL_SOFT)
    grow = soft & (ndimage.distance_transform_edt(~bone, sampling=spacing) <= shift)
    shrink = bone & (ndimage.distance_transform_edt(~soft, sampling=spacing) <= -shift)
    fine[grow] = Tissue.OUTER_TABLE
    fine[shrink] = Tissue.MUSCLE
    return THICKNESS_MM


def resplit_marrow(fine: np.ndarray, rng: np.random.Generator, grid: Grid) -> float:
    """A label map's skull as cortical tables of one drawn thickness around a diploe (in place); the thickness."""
    table_mm = float(rng.uniform(*TABLE_MM))
    bone = np.isin(fine, BONE_TISSUES)
    step = grid.spacing / SUPERSAMPLE
    deep = ndimage.distance_transform_edt(bone, sampling=step) - step / 2 > table_mm  # depth under the bone's surface
    fine[bone] = Tissue.OUTER_TABLE
    fine[bone & deep] = Tissue.DIPLOE
    return round(table_mm, 3)


def resplit_scalp(fine: np.ndarray, rng: np.random.Generator, grid: Grid) -> dict[str, float]:
    """A label map's soft tissue as skin ``SKIN_MM`` deep, subcutaneous fat under it and muscle-like tissue (galea,
    face and neck muscle) below (in place), its fat and galea drawn as a procedural head's; the draws.

    BrainWeb's scalp is mostly "muscle/skin" straight on the bone (its fat 0-3 mm over the vault) and SynthSeg's is
    one soft-tissue class, so both would teach that bone starts under 8-12 mm of muscle-grey tissue; real scalps
    hold bright fat between skin and galea (docs/notes/real-skull-bases.md). Fat stops ``galea_mm`` short of bone
    and brain, so the dura and the layer over the bone stay muscle; the map's own fat is kept."""
    fat_mm, galea_mm = float(rng.uniform(*SCALP_FAT_MM)), float(rng.uniform(*GALEA_MM))
    step = grid.spacing / SUPERSAMPLE
    soft = np.isin(fine, LABEL_MAP_SCALP)
    depth = ndimage.distance_transform_edt(fine != Tissue.BACKGROUND, sampling=step) - step / 2  # under the skin
    deep = np.isin(fine, BONE_TISSUES + BRAIN_TISSUES)
    clear = ndimage.distance_transform_edt(~deep, sampling=step) - step / 2 > galea_mm
    fat = soft & clear & (depth > SKIN_MM) & (depth <= SKIN_MM + scalp_fat(fat_mm, _fine_field(rng, grid, 40.0)))
    fine[soft] = Tissue.MUSCLE
    fine[soft & (depth <= SKIN_MM)] = Tissue.SKIN
    fine[fat] = Tissue.FAT
    return {"scalp_fat_mm": round(fat_mm, 3), "galea_mm": round(galea_mm, 3)}
