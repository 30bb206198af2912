"""Paint the design fields onto the supersampled grid and average down to tissue fractions.

The fine grid has ``SUPERSAMPLE`` sub-voxels per output voxel along each axis; it is processed in
z-slabs so memory stays bounded at 1 mm output spacing. Each structure is only evaluated inside the
bounding box where its field can be negative, which keeps the face's many small parts cheap.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from cranial_sct.phantom.anatomy import CELL_TILE_MM, FACE_PAINTS, SKIN_MM, HeadDesign, Paint
from cranial_sct.phantom.grids import SUPERSAMPLE, Grid, Resampler, fine_axis
from cranial_sct.phantom.tissues import Tissue

Box = tuple[slice, slice, slice]
N_TISSUES = len(Tissue)
MINOR_SULCUS_MM = 6.0  # depth of the shallow, short-wavelength sulci that break up the gyri
FOLIUM_MM = 5.0  # folium period at the folia radius
DIPLOE_FREE_MM = 3.6  # cortical part of the vault (tables ~1.6 + ~2.0 mm); thinner bone has no diploe


@dataclass
class TissueFractions:
    """Sub-voxel counts per tissue on the output grid: fraction = counts / SUPERSAMPLE**3."""

    counts: np.ndarray  # (N_TISSUES, *grid.shape) uint8
    grid: Grid

    subvoxels: int = SUPERSAMPLE**3

    @property
    def fractions(self) -> np.ndarray:
        return self.counts.astype(np.float32) / self.subvoxels

    @property
    def labels(self) -> np.ndarray:
        """Majority tissue per voxel (uint8)."""
        return np.argmax(self.counts, axis=0).astype(np.uint8)


class SlabPainter:
    """Fine-grid labels for one z-slab, painted structure by structure in priority order."""

    def __init__(self, design: HeadDesign, axes: tuple[np.ndarray, np.ndarray, np.ndarray]):
        self.design = design
        self.axes = axes
        self.resampler = Resampler.between(design.grid, axes)
        self.labels = np.zeros(tuple(len(a) for a in axes), dtype=np.uint8)
        grid_z = design.grid.axis(2)
        step = design.grid.spacing
        self._z_range = slice(max(int(np.searchsorted(grid_z, axes[2][0]) - 1), 0),
                              int(np.searchsorted(grid_z, axes[2][-1])) + 1)
        self._step = step

    def box(self, name: str, below: float) -> Box | None:
        """Fine-index bounding box of where ``fields[name]`` can be below ``below`` in this slab."""
        xz, yz = self.design.extent(name, below)
        xs, ys = xz[:, self._z_range].any(axis=1), yz[:, self._z_range].any(axis=1)
        if not xs.any():
            return None
        box = []
        for k, hits in enumerate((xs, ys)):
            index = np.flatnonzero(hits)
            world = self.design.grid.axis(k)
            lo = np.searchsorted(self.axes[k], world[index[0]] - self._step)
            hi = np.searchsorted(self.axes[k], world[index[-1]] + self._step)
            if hi <= lo:
                return None
            box.append(slice(int(lo), int(hi)))
        return (box[0], box[1], slice(0, len(self.axes[2])))

    def sample(self, name: str, box: Box) -> np.ndarray:
        return self.resampler.crop(box)(self.design.fields[name])

    def paint(self, rule: Paint) -> None:
        box = self.box(rule.name, rule.high)
        if box is None:
            return
        values = self.sample(rule.name, box)
        where = (values >= rule.low) & (values < rule.high)
        if rule.within is not None:
            where &= self.sample(rule.within, box) < 0
        self.labels[box][where] = rule.label

    def cells(self, box: Box) -> np.ndarray:
        """Air-cell texture (unit std) at the fine points of ``box``, from the periodic 1 mm tile."""
        index = [np.floor(self.axes[k][box[k]]).astype(np.intp) % CELL_TILE_MM for k in range(3)]
        return self.design.cell_tile[np.ix_(*index)]


def paint_scalp(painter: SlabPainter) -> None:
    box = painter.box("head", 0.0)
    if box is None:
        return
    head, fat_inner = painter.sample("head", box), painter.sample("fat_inner", box)
    labels = painter.labels[box]
    labels[head < 0] = Tissue.MUSCLE
    labels[(head < -SKIN_MM) & (fat_inner >= 0)] = Tissue.FAT
    labels[(head < 0) & (head >= -SKIN_MM)] = Tissue.SKIN


def paint_air_cells(painter: SlabPainter, name: str, air: Tissue, threshold: float, rim_mm: float) -> None:
    """Air cells separated by bony septa (mastoid, ethmoid), inside a cortical rim."""
    box = painter.box(name, 0.0)
    if box is None:
        return
    region = painter.sample(name, box)
    inside = region < 0
    labels = painter.labels[box]
    labels[inside] = np.where(painter.cells(box)[inside] > threshold, air, Tissue.BONE)
    labels[inside & (region > -rim_mm)] = Tissue.BONE


def paint_skull(painter: SlabPainter) -> None:
    """Inner table, diploe, outer table; the frontal sinus hollows the diploe above the nasion."""
    box = painter.box("cavity", float(painter.design.fields["skull"].max()))
    if box is None:
        return
    cavity, thickness = painter.sample("cavity", box), painter.sample("skull", box)
    diploe = np.maximum(thickness - DIPLOE_FREE_MM, 0.0)
    inner = 0.45 * (thickness - diploe)
    labels = painter.labels[box]
    in_bone = (cavity >= 0) & (cavity < thickness)
    labels[in_bone] = Tissue.OUTER_TABLE
    labels[in_bone & (cavity < inner + diploe)] = Tissue.DIPLOE
    labels[in_bone & (cavity < inner)] = Tissue.INNER_TABLE
    sinus_box = painter.box("frontal_sinus", 0.0)
    if sinus_box is not None:
        sinus = painter.sample("frontal_sinus", sinus_box) < 0
        sub = painter.labels[sinus_box]
        sub[sinus & (sub == Tissue.DIPLOE)] = Tissue.SINUS


def paint_cerebrum(painter: SlabPainter) -> None:
    """Cortical ribbon around deep and shallow sulci and the interhemispheric fissure; white matter inside."""
    design = painter.design
    box = painter.box("cerebrum", 0.0)
    if box is None:
        return
    depth = -painter.sample("cerebrum", box)
    inside = depth > 0
    sulcus_gap = np.maximum(np.abs(painter.sample("sulcus", box)) - design.sulcus_width_mm / 2, 0.0)
    below_floor = np.maximum(-painter.sample("sulcal_floor", box), 0.0)
    fissure_gap = np.maximum(np.abs(painter.sample("midline", box)) - design.fissure_width_mm / 2, 0.0)
    below_callosum = np.maximum(painter.sample("callosum", box), 0.0)
    minor_gap = np.maximum(np.abs(painter.sample("minor_sulcus", box)) - design.sulcus_width_mm / 2, 0.0)
    below_minor = np.maximum(depth - MINOR_SULCUS_MM, 0.0)
    to_csf = np.minimum.reduce([np.hypot(sulcus_gap, below_floor), np.hypot(minor_gap, below_minor),
                                np.hypot(fissure_gap, below_callosum)])
    tissue = np.where((depth < design.cortex_mm) | (to_csf < design.cortex_mm), Tissue.GM, Tissue.WM)
    tissue[to_csf == 0] = Tissue.CSF
    painter.labels[box][inside] = tissue[inside]


def paint_cerebellum(painter: SlabPainter) -> None:
    """Arbor vitae: radial fissures cut the cortex into folia, each with a white-matter branch."""
    box = painter.box("cerebellum", 0.0)
    if box is None:
        return
    depth = -painter.sample("cerebellum", box)
    phase = np.cos(2 * np.pi * painter.sample("folia_arc", box) / FOLIUM_MM)
    tissue = np.full(depth.shape, Tissue.GM, dtype=np.uint8)
    tissue[(depth > 8.0) | ((depth > 2.5) & (phase > 0.55))] = Tissue.WM
    tissue[(depth < 10.0) & (phase < -0.9)] = Tissue.CSF
    inside = depth > 0
    painter.labels[box][inside] = tissue[inside]


CORE_PAINTS = (Paint("brainstem", Tissue.WM), Paint("deep_gm", Tissue.DEEP_GM, within="cerebrum"),
               Paint("ventricles", Tissue.CSF))


def paint_slab(painter: SlabPainter) -> None:
    """All structures, outermost first: later paints win."""
    paint_scalp(painter)
    for rule in FACE_PAINTS:
        painter.paint(rule)
    paint_air_cells(painter, "ethmoid", Tissue.SINUS, threshold=0.2, rim_mm=0.0)
    paint_skull(painter)
    paint_air_cells(painter, "mastoid", Tissue.MASTOID, threshold=-0.1, rim_mm=1.2)
    painter.paint(Paint("petrous", Tissue.PETROUS))
    painter.paint(Paint("cavity", Tissue.CSF))
    paint_cerebrum(painter)
    paint_cerebellum(painter)
    for rule in CORE_PAINTS:
        painter.paint(rule)


def block_counts(labels: np.ndarray, factor: int) -> np.ndarray:
    """Per output voxel, how many of its factor**3 sub-voxels hold each tissue: (N_TISSUES, nx, ny, nz)."""
    nx, ny, nz = (n // factor for n in labels.shape)
    blocks = labels.reshape(nx, factor, ny, factor, nz, factor).transpose(0, 2, 4, 1, 3, 5)
    keys = np.arange(nx * ny * nz, dtype=np.int64).repeat(factor**3) * N_TISSUES + blocks.reshape(-1)
    counts = np.bincount(keys, minlength=nx * ny * nz * N_TISSUES).astype(np.uint8)
    return counts.reshape(nx, ny, nz, N_TISSUES).transpose(3, 0, 1, 2)


def voxelise(design: HeadDesign, grid: Grid, slab_voxels: int = 8) -> TissueFractions:
    """Tissue fractions on ``grid`` from labels painted on its ``SUPERSAMPLE``-times finer grid.

    Slabs are independent and write disjoint parts of the result, so they run on all cores.
    """
    xs, ys, zs = (fine_axis(grid, k) for k in range(3))
    counts = np.empty((N_TISSUES, *grid.shape), dtype=np.uint8)

    def run(start: int) -> None:
        stop = min(start + slab_voxels, grid.shape[2])
        painter = SlabPainter(design, (xs, ys, zs[start * SUPERSAMPLE: stop * SUPERSAMPLE]))
        paint_slab(painter)
        counts[..., start:stop] = block_counts(painter.labels, SUPERSAMPLE)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(run, range(0, grid.shape[2], slab_voxels)))
    return TissueFractions(counts, grid)


def fine_labels(design: HeadDesign, grid: Grid) -> np.ndarray:
    """The whole supersampled label map of ``grid`` in one piece (for inspection and tests)."""
    painter = SlabPainter(design, tuple(fine_axis(grid, k) for k in range(3)))
    paint_slab(painter)
    return painter.labels
