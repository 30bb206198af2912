"""The head's anatomy as smooth fields on the 2 mm design grid, different for every seed.

A subject is a canonical head (coordinates in mm, origin near the centre of the cerebrum, RAS)
seen through a per-subject pose, size and smooth non-linear deformation. The brain is procedural:
cerebrum, cerebellum and brainstem envelopes; cortex folded by the zero set of a smooth random field
(sulci), an interhemispheric fissure, ventricles and deep grey nuclei. We chose this over the MNI152
maps nilearn ships because nilearn is not a dependency (and would pin one template brain); folding by
noise gives a new gyral pattern per subject for free. The cranial cavity is a smooth union of the
brain's parts (filling the cisterns) plus a CSF layer, so the skull follows the brain; skull thickness
varies by region.

Every structure is a signed distance field (negative inside) sampled on the design grid;
``voxelise`` evaluates them on the supersampled grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cranial_sct.phantom import shapes
from cranial_sct.phantom.grids import Grid, design_grid
from cranial_sct.phantom.random_fields import periodic_tile, smooth_field
from cranial_sct.phantom.shapes import ellipsoid, mirrored, mirrored_cone, round_cone, sigmoid
from cranial_sct.phantom.tissues import Tissue

CELL_TILE_MM = 48  # period of the air-cell texture (mastoid, ethmoid), sampled at 1 mm
TENTORIUM_MM = 2.5  # gap between occipital lobes and cerebellum (dura and CSF)
FOLIA_RADIUS_MM = 20.0
# Subcutaneous fat over the vault, drawn per head: with skin and galea the scalp is 5.8-12.5 mm; the real CTs read 6.3
# (cadaver) to 9.6 mm (living; docs/notes/anatomy-vs-ct.md), the real T1s' references begin 9-10 mm under the skin.
# Label-map heads draw theirs from the same ranges (sources.resplit_scalp).
SCALP_FAT_MM = (3.0, 7.0)
SCALP_FAT_SD_MM, SCALP_FAT_MIN_MM = 1.2, 1.5  # the fat's smooth variation over one head, and its floor
# Under the fat, the galea, loose areolar tissue and pericranium: 2-3.5 mm of tissue that reads like muscle on T1w.
# With 0.8 mm a model learned that bone starts where the fat ends, and real scalps' dark deep layer became bone.
GALEA_MM = (0.8, 3.5)
SULCAL_TILT = 0.7  # how far towards the surface the folding field is sampled (1: straight radial sulci)


@dataclass(frozen=True)
class ShapeParameters:
    """Per-subject anatomical variation (all dimensionless factors unless named otherwise)."""

    scale: tuple[float, float, float]
    rotation_deg: tuple[float, float, float]
    shift_mm: tuple[float, float, float]
    ventricles: float  # lateral-ventricle size factor
    atrophy: float  # 0 (young) .. 1: wider sulci and subarachnoid CSF
    skull: float  # skull thickness factor
    sinuses: float  # maxillary/sphenoid size factor
    frontal_sinus: float  # 0 (aplastic) .. 1.3
    scalp_fat_mm: float  # mean subcutaneous fat over the vault: living scalps differ by several mm
    galea_mm: float  # galea, loose areolar tissue and pericranium between the scalp's fat and the outer table

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "ShapeParameters":
        size = rng.normal(1.0, 0.04)
        return cls(
            scale=tuple(float(size * rng.normal(1.0, 0.025)) for _ in range(3)),
            rotation_deg=tuple(float(v) for v in rng.normal(0.0, 2.5, 3)),
            shift_mm=tuple(float(v) for v in rng.normal(0.0, 2.0, 3)),
            ventricles=float(np.exp(rng.normal(0.0, 0.25))),
            atrophy=float(rng.uniform(0.0, 1.0)),
            skull=float(np.clip(rng.normal(1.0, 0.1), 0.8, 1.25)),
            sinuses=float(np.clip(rng.normal(1.0, 0.15), 0.6, 1.3)),
            frontal_sinus=float(np.clip(rng.normal(0.9, 0.35), 0.0, 1.3)),
            scalp_fat_mm=float(rng.uniform(*SCALP_FAT_MM)),
            galea_mm=float(rng.uniform(*GALEA_MM)),
        )


@dataclass
class HeadDesign:
    """Named signed-distance and helper fields of one subject on the design grid."""

    grid: Grid
    params: ShapeParameters
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    cell_tile: np.ndarray | None = None
    sulcus_width_mm: float = 1.0
    fissure_width_mm: float = 1.5
    cortex_mm: float = 2.6
    _extents: dict = field(default_factory=dict, repr=False)

    def extent(self, name: str, below: float) -> tuple[np.ndarray, np.ndarray]:
        """Where ``fields[name] < below``: its (x, z) and (y, z) projections, to crop the fine slabs."""
        key = (name, below)
        if key not in self._extents:
            mask = self.fields[name] < below
            self._extents[key] = (mask.any(axis=1), mask.any(axis=0))
        return self._extents[key]


def canonical_points(grid: Grid, params: ShapeParameters, rng: np.random.Generator) -> shapes.Points:
    """Canonical coordinates of every design-grid point: inverse pose/size plus a smooth warp."""
    x, y, z = np.meshgrid(*(grid.axis(k).astype(np.float32) for k in range(3)), indexing="ij")
    rotation = Rotation.from_euler("xyz", params.rotation_deg, degrees=True).as_matrix().astype(np.float32)
    local = [c - s for c, s in zip((x, y, z), params.shift_mm)]
    canonical = [sum(rotation[r, k] * local[r] for r in range(3)) / params.scale[k] for k in range(3)]
    warp_mm = 3.0  # smooth non-linear deformation, a few mm over ~5 cm
    return tuple(c + warp_mm * smooth_field(rng, grid, 50.0) for c in canonical)


def cerebrum(p: shapes.Points, grid: Grid, cerebellum_sdf: np.ndarray) -> np.ndarray:
    """Ellipsoidal cerebrum whose floor steps down over the anterior and middle fossae; behind, the
    occipital lobes drape over the cerebellum, kept ``TENTORIUM_MM`` away (tentorium and CSF)."""
    x, y, z = p
    ax = np.abs(x)
    lateral = sigmoid(ax - 24.0, 3.0)
    anterior = sigmoid(y - (14.0 + 14.0 * lateral), 3.0)
    posterior = sigmoid(-(y + 25.0), 3.0)
    floor_middle = -14.0 * (1 - lateral) - 42.0 * lateral  # diencephalon medially, temporal lobes laterally
    floor_post = -20.0 - 4.0 * (ax / 60.0) ** 2
    floor = anterior * -20.0 + (1 - anterior) * (posterior * floor_post + (1 - posterior) * floor_middle)
    slope = np.gradient(floor, grid.spacing, axis=(0, 1))
    above_floor = (floor - z) / np.sqrt(1 + slope[0] ** 2 + slope[1] ** 2)  # distance to a height field
    sdf = np.maximum.reduce([ellipsoid(p, (0.0, -8.0, 0.0), (67.0, 86.0, 72.0)), above_floor,
                             TENTORIUM_MM - cerebellum_sdf])
    return ndimage.gaussian_filter(sdf, 1.5).astype(np.float32)  # round the floor's edges


def cerebellum(p: shapes.Points) -> np.ndarray:
    hemispheres = mirrored(ellipsoid, p, (23.0, -56.0, -32.0), (30.0, 30.0, 19.0))
    vermis = ellipsoid(p, (0.0, -54.0, -29.0), (12.0, 26.0, 17.0))
    return shapes.smooth_union(hemispheres, vermis, k=4.0)


def brainstem(p: shapes.Points) -> np.ndarray:
    midbrain = round_cone(p, (0, -14, -2), (0, -17, -20), 10.0, 10.0)
    pons = ellipsoid(p, (0.0, -12.0, -30.0), (15.0, 13.0, 12.0))
    medulla = round_cone(p, (0, -19, -38), (0, -25, -56), 8.0, 6.5)
    cord = round_cone(p, (0, -25, -56), (0, -30, -140), 6.5, 5.5)
    return shapes.smooth_union(midbrain, pons, medulla, cord, k=4.0)


def ventricles(p: shapes.Points, size: float) -> np.ndarray:
    """Lateral ventricles (frontal horn, body, atrium, occipital and temporal horns), third, fourth."""
    r = 4.8 * size
    lateral = np.minimum.reduce([
        mirrored_cone(p, (8, 30, 14), (11, 10, 18), 0.8 * r, r),
        mirrored_cone(p, (11, 10, 18), (15, -24, 21), r, r),
        mirrored_cone(p, (15, -24, 21), (20, -42, 12), r, 1.1 * r),
        mirrored_cone(p, (20, -42, 12), (15, -60, 8), 1.1 * r, 0.4 * r),
        mirrored_cone(p, (20, -40, 10), (29, -22, -14), 0.9 * r, 0.6 * r),
        mirrored_cone(p, (29, -22, -14), (30, 4, -24), 0.6 * r, 0.4 * r),
    ])
    squash = (p[0], p[1], p[2] * 1.6)  # ventricle bodies are flatter than they are wide
    lateral = np.minimum(lateral, mirrored_cone(squash, (12, 12, 28), (15, -22, 33), 0.9 * r, r))
    third = round_cone((p[0] * 2.5, p[1], p[2]), (0, 6, 2), (0, -14, 6), 2.5 * size, 2.5 * size)
    fourth = ellipsoid(p, (0.0, -31.0, -30.0), (6.0, 3.5, 5.0))
    return np.minimum.reduce([lateral, third, fourth])


def deep_grey(p: shapes.Points) -> np.ndarray:
    return np.minimum.reduce([
        mirrored(ellipsoid, p, (14.0, 14.0, 12.0), (4.5, 10.0, 7.0)),  # caudate head
        mirrored(ellipsoid, p, (25.0, 3.0, 2.0), (5.0, 13.0, 9.0)),  # putamen
        mirrored(ellipsoid, p, (19.0, 0.0, 0.0), (3.5, 7.0, 5.5)),  # pallidum
        mirrored(ellipsoid, p, (9.5, -12.0, 5.0), (7.5, 13.0, 8.0)),  # thalamus
    ])


def _direction(p: shapes.Points) -> shapes.Points:
    """Unit direction from the cranial centre, for region weights on the skull and scalp."""
    x, y, z = p[0], p[1] + 5.0, p[2] - 5.0
    r = np.sqrt(x * x + y * y + z * z) + 1e-3
    return x / r, y / r, z / r


def _bump(p: shapes.Points, centre, sigma: float) -> np.ndarray:
    return np.exp(-sum((p[k] - centre[k]) ** 2 for k in range(3)) / (2 * sigma**2))


def skull_thickness(p: shapes.Points, params: ShapeParameters, noise: np.ndarray) -> np.ndarray:
    """Vault thickness (mm): thin temporal squama (~2.5), parietal ~5.5, frontal ~7, thick occiput."""
    ux, uy, uz = _direction(p)
    frontal = np.exp(-((uy - 0.9) ** 2) / 0.08)
    occipital = np.exp(-((uy + 0.9) ** 2) / 0.08) * np.exp(-((uz + 0.1) ** 2) / 0.15)
    protuberance = _bump(p, (0.0, -98.0, -12.0), 14.0)
    squama = np.exp(-((np.abs(ux) - 1.0) ** 2) / 0.03) * np.exp(-((uz + 0.05) ** 2) / 0.06)
    thickness = (5.5 + 1.5 * frontal + 3.0 * occipital + 4.0 * protuberance - 3.3 * squama) * params.skull
    base = sigmoid(-uz - 0.45, 0.08)  # skull base: thin orbital plates and fossa floors (~3 mm)
    thickness = thickness * (1 - base) + 3.0 * params.skull * base
    thickness += 0.5 * noise + 9.0 * params.frontal_sinus * _bump(p, (0.0, 84.0, 4.0), 13.0)
    # Below the foramen magnum the ring round the spinal canal is the upper cervical spine: arches and
    # lateral masses with marrow inside (merging with the vertebral bodies in front).
    canal = sigmoid(-(p[2] + 62.0), 4.0)
    return np.maximum(thickness * (1 - canal) + 8.0 * canal, 2.2).astype(np.float32)


def scalp_fat(mean_mm: float, noise: np.ndarray) -> np.ndarray:
    """Subcutaneous fat thickness (mm) over a head: its drawn mean varied by a unit-sd smooth ``noise`` field."""
    return np.maximum(mean_mm + SCALP_FAT_SD_MM * noise, SCALP_FAT_MIN_MM)


def scalp_thickness(p: shapes.Points, params: ShapeParameters, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fat, muscle) thickness (mm) over the vault: temporalis in the temporal fossa, neck muscles."""
    ux, uy, uz = _direction(p)
    fat = scalp_fat(params.scalp_fat_mm, noise)
    temporalis = 9.0 * np.exp(-((np.abs(ux) - 0.95) ** 2) / 0.05) * sigmoid(p[2] + 30.0, 4.0) * sigmoid(
        35.0 - p[2], 6.0) * sigmoid(40.0 - p[1], 6.0)
    nuchal = 14.0 * np.exp(-((uy + 0.85) ** 2) / 0.12) * sigmoid(-(p[2] + 5.0), 6.0)
    return fat.astype(np.float32), (params.galea_mm + temporalis + nuchal).astype(np.float32)


def head_outline(p: shapes.Points, cranial: np.ndarray) -> np.ndarray:
    """Outer skin surface: the scalp over the vault joined to face, nose, jaw and neck."""
    face = ellipsoid(p, (0.0, 40.0, -58.0), (62.0, 60.0, 52.0))
    nose = round_cone(p, (0, 86, -24), (0, 102, -60), 7.0, 12.0)
    jaw = ellipsoid(p, (0.0, 50.0, -100.0), (50.0, 45.0, 30.0))
    cheeks = ellipsoid(p, (0.0, 5.0, -58.0), (64.0, 58.0, 40.0))  # parotid and mandibular region
    neck = ellipsoid(p, (0.0, -20.0, -118.0), (60.0, 60.0, 75.0))
    return shapes.smooth_union(cranial, face, nose, jaw, cheeks, neck, k=12.0)


SKIN_MM = 2.0


@dataclass(frozen=True)
class Paint:
    """Paint ``label`` where ``low <= fields[name] < high`` (and ``fields[within] < 0`` if given)."""

    name: str
    label: Tissue
    low: float = -np.inf
    high: float = 0.0
    within: str | None = None


# Face and skull-base structures outside the cranial cavity, painted in this order over the scalp.
FACE_PAINTS: tuple[Paint, ...] = (
    Paint("mandible", Tissue.BONE), Paint("mandible", Tissue.DIPLOE, high=-1.6),
    Paint("vertebra", Tissue.BONE), Paint("vertebra", Tissue.DIPLOE, high=-1.6),
    Paint("zygoma", Tissue.BONE), Paint("palate", Tissue.BONE),
    Paint("orbit", Tissue.BONE, 0.0, 1.8, within="orbit_open"), Paint("orbit", Tissue.ORBITAL_FAT),
    Paint("eye", Tissue.EYE),
    Paint("nasal", Tissue.BONE, 0.0, 1.5, within="nasal_open"), Paint("maxillary", Tissue.BONE, 0.0, 1.6),
    Paint("sphenoid", Tissue.BONE, 0.0, 2.0),
    Paint("nasal", Tissue.SINUS), Paint("pharynx", Tissue.SINUS), Paint("maxillary", Tissue.SINUS),
    Paint("sphenoid", Tissue.SINUS), Paint("turbinate", Tissue.MUSCLE, within="nasal"),
    Paint("midline", Tissue.BONE, -0.9, 0.9, within="nasal_septum"),
)


def face_fields(p: shapes.Points, params: ShapeParameters) -> dict[str, np.ndarray]:
    s = params.sinuses
    nasal = shapes.smooth_union(
        ellipsoid(p, (0.0, 58.0, -52.0), (11.0, 34.0, 22.0)),
        round_cone(p, (0, 84, -54), (0, 98, -66), 6.0, 5.0), k=4.0)
    return {
        "mandible": mirrored_cone(p, (47, 2, -52), (44, 20, -125), 6.0, 5.0),
        "vertebra": round_cone(p, (0, -6, -66), (0, -8, -140), 8.5, 9.5),
        "zygoma": shapes.smooth_union(mirrored_cone(p, (53, -2, -44), (50, 42, -42), 3.0, 3.5),
                                      mirrored(ellipsoid, p, (42.0, 60.0, -44.0), (8.0, 8.0, 9.0)), k=3.0),
        "palate": ellipsoid(p, (0.0, 52.0, -78.0), (26.0, 32.0, 3.0)),
        "orbit": mirrored_cone(p, (14, 22, -36), (31, 68, -33), 3.0, 17.0),
        "orbit_open": p[1] - 66.0,
        "eye": mirrored(ellipsoid, p, (31.0, 63.0, -34.0), (12.0, 12.0, 12.0)),
        "nasal": nasal,
        "nasal_open": p[1] - 82.0,
        "nasal_septum": np.maximum(nasal, p[1] - 86.0),
        "turbinate": mirrored_cone(p, (9, 78, -58), (9, 36, -62), 4.0, 4.0),
        "maxillary": mirrored(ellipsoid, p, (29.0, 52.0, -58.0), (13.0 * s, 16.0 * s, 15.0 * s)),
        "sphenoid": ellipsoid(p, (0.0, 18.0, -38.0), (11.0 * s, 10.0 * s, 9.0 * s)),
        "pharynx": shapes.smooth_union(round_cone(p, (0, 30, -56), (0, 14, -64), 7.0, 8.0),
                                       round_cone(p, (0, 14, -64), (0, 12, -140), 8.0, 7.0), k=4.0),
        "ethmoid": ellipsoid(p, (0.0, 48.0, -31.0), (11.0, 20.0, 9.0)),
    }


def radial_sulci(cerebrum_sdf: np.ndarray, grid: Grid, folding: np.ndarray) -> np.ndarray:
    """Approximate distance (mm) to the sulcal sheets: zero set of ``folding`` sampled on the surface.

    Sampling the random field near each point's projection onto the cerebral surface makes every
    sulcus a sheet roughly perpendicular to the surface, so cross-sections show gyri rather than blobs;
    projecting only ``SULCAL_TILT`` of the way lets the sheets bend with depth, as real sulci do.
    """
    normal = np.gradient(cerebrum_sdf, grid.spacing)
    length = np.sqrt(sum(n * n for n in normal)) + 1e-6
    index = np.indices(grid.shape, dtype=np.float32)
    surface = [index[k] - SULCAL_TILT * cerebrum_sdf * normal[k] / length / grid.spacing for k in range(3)]
    projected = ndimage.map_coordinates(folding, surface, order=1, mode="nearest").astype(np.float32)
    gradient = np.sqrt(sum(g * g for g in np.gradient(projected, grid.spacing)))
    return np.clip(projected / np.maximum(gradient, 1e-3), -15.0, 15.0)


def brain_fields(p: shapes.Points, grid: Grid, params: ShapeParameters, rng: np.random.Generator) -> dict:
    """Envelopes, cortical folding (sulci and fissure), ventricles, nuclei and cerebellar folia."""
    fields = {"cerebellum": cerebellum(p), "brainstem": brainstem(p),
              "ventricles": ventricles(p, params.ventricles), "deep_gm": deep_grey(p)}
    fields["cerebrum"] = cerebrum(p, grid, fields["cerebellum"])
    fields["sulcus"] = radial_sulci(fields["cerebrum"], grid, smooth_field(rng, grid, 7.0))
    fields["minor_sulcus"] = radial_sulci(fields["cerebrum"], grid, smooth_field(rng, grid, 4.0))
    sulcal_depth = np.clip(14.0 + 5.0 * smooth_field(rng, grid, 20.0) + 3.0 * params.atrophy, 5.0, 25.0)
    fields["sulcal_floor"] = fields["cerebrum"] + sulcal_depth
    fields["midline"] = p[0] + 1.5 * smooth_field(rng, grid, 40.0)
    callosum_top = 27.0 - 10.0 * ((p[1] + 2.0) / 34.0) ** 2
    fields["callosum"] = np.where(np.abs(p[1] + 2.0) < 34.0, callosum_top - p[2], -40.0).astype(np.float32)
    # Folia run left-right and fan out from the cerebellar centre: their phase is the arc length (mm at
    # FOLIA_RADIUS_MM) of the angle about a transverse axis; the angle's cut faces the fourth ventricle.
    angle = np.arctan2(p[2] + 26.0, 48.0 + p[1])
    fields["folia_arc"] = FOLIA_RADIUS_MM * angle + 1.5 * smooth_field(rng, grid, 12.0)
    return fields


def design_head(rng: np.random.Generator) -> HeadDesign:
    """Draw one subject's anatomy: every field the voxeliser needs, on the design grid."""
    grid = design_grid()
    params = ShapeParameters.sample(rng)
    p = canonical_points(grid, params, rng)
    design = HeadDesign(grid, params, sulcus_width_mm=0.8 + 1.2 * params.atrophy)
    design.fields.update(brain_fields(p, grid, params, rng))
    csf_mm = 1.5 + 1.5 * params.atrophy + 0.4 * smooth_field(rng, grid, 30.0)
    # A smooth union fills the notches between the brain's parts with CSF (cisterns), as a closing would.
    brain = shapes.smooth_union(*(design.fields[k] for k in ("cerebrum", "cerebellum", "brainstem")), k=12.0)
    cavity = brain - csf_mm
    skull = skull_thickness(p, params, smooth_field(rng, grid, 40.0))
    fat, muscle = scalp_thickness(p, params, smooth_field(rng, grid, 40.0))
    head = head_outline(p, cavity - skull - SKIN_MM - fat - muscle)
    design.fields.update(face_fields(p, params))
    design.fields.update(cavity=cavity, skull=skull, head=head, fat_inner=head + SKIN_MM + fat)
    design.fields["frontal_sinus"] = ellipsoid(p, (0.0, 86.0, 6.0), tuple(
        max(params.frontal_sinus, 1e-3) * np.array([17.0, 7.0, 13.0])))
    design.fields["mastoid"] = np.maximum.reduce([
        mirrored(ellipsoid, p, (47.0, -40.0, -50.0), (11.0, 13.0, 15.0)), 2.0 - cavity, head + 3.0])
    design.fields["petrous"] = np.maximum(
        mirrored_cone(p, (47, -34, -44), (16, -12, -36), 8.0, 4.5), cavity - skull)
    design.cell_tile = periodic_tile(rng, CELL_TILE_MM, 1.0)
    return design
