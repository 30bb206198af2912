"""Synthetic heads for tests: an analytic head defined in world millimetres, sampled on any grid.

Because the anatomy lives in world coordinates, the same head can be sampled on oblique, LPS or
coarse grids, or moved by a known rigid transform, and every image stays physically consistent.
MR (T1-like, non-negative) and CT (HU) share the anatomy, with different contrasts.
"""

from __future__ import annotations

import numpy as np

from cranial_sct.io.volume import Volume

# (centre mm, semi-axes mm, CT HU, MR intensity); later entries overwrite earlier ones.
STRUCTURES = (
    ((0, 0, 0), (78, 98, 86), -20.0, 700.0),  # scalp (fatty, bright on T1)
    ((0, -3, 2), (71, 91, 79), 1100.0, 120.0),  # skull (cortical bone, dark on T1)
    ((2, 2, 6), (64, 83, 70), 35.0, 600.0),  # brain; off-centre, so the skull thickness varies
    ((0, 40, -45), (60, 45, 20), 900.0, 150.0),  # skull base
    ((0, 98, -25), (12, 16, 20), 30.0, 450.0),  # nose
    ((-32, 75, -10), (12, 12, 12), 10.0, 250.0),  # right eye globe
    ((32, 75, -10), (12, 12, 12), 10.0, 250.0),  # left eye globe
    ((-40, 45, -40), (18, 14, 12), -950.0, 10.0),  # right maxillary sinus (air)
    ((-14, 10, 10), (7, 22, 10), 5.0, 200.0),  # right ventricle
    ((18, 5, 14), (6, 18, 9), 5.0, 200.0),  # left ventricle (offset: no mirror symmetry)
    ((20, -40, -30), (15, 15, 12), 60.0, 800.0),  # bright left-posterior nucleus
    ((-25, -60, 30), (10, 20, 10), 50.0, 750.0),  # another bright lesion, right-posterior-superior
)


def head_arrays(shape: tuple[int, int, int], affine: np.ndarray, world_from_head: np.ndarray | None = None):
    """(mr, ct) float32 arrays of the head on the grid ``shape``/``affine`` (RAS mm).

    ``world_from_head`` places the head in the world (default identity); the anatomy is sampled at
    ``inv(world_from_head) @ voxel world position``.
    """
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    if world_from_head is not None:
        inverse = np.linalg.inv(world_from_head)
        world = world @ inverse[:3, :3].T + inverse[:3, 3]
    ct = np.full(len(world), -1000.0)
    mr = np.zeros(len(world))
    edge_mm = 0.6 * float(np.linalg.norm(affine[:3, :3], axis=0).mean())  # partial-volume blur
    for centre, axes, hu, signal in STRUCTURES:
        radius = np.sqrt((((world - centre) / axes) ** 2).sum(axis=1))
        weight = 1 / (1 + np.exp(np.clip((radius - 1) * min(axes) / edge_mm, -50, 50)))
        ct += weight * (hu - ct)
        mr += weight * (signal - mr)
    mr += np.random.default_rng(0).normal(0, 8, mr.shape)
    return np.abs(mr).reshape(shape).astype(np.float32), ct.reshape(shape).astype(np.float32)


def grid(spacing: float, shape: tuple[int, int, int] = None, codes: str = "RAS", angle_deg: float = 0.0) -> tuple[tuple[int, int, int], np.ndarray]:
    """A grid centred on the head: axis signs from ``codes`` (RAS or LPS), optionally rotated about z."""
    if shape is None:
        shape = tuple(int(np.ceil(extent / spacing)) for extent in (180, 220, 190))
    signs = np.array([1 if c in "RAS" else -1 for c in codes], dtype=float)
    angle = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(signs * spacing)
    affine[:3, 3] = -affine[:3, :3] @ ((np.asarray(shape) - 1) / 2)
    return shape, affine


def head_volumes(spacing: float = 3.0, codes: str = "RAS", angle_deg: float = 0.0, world_from_head=None, shape=None):
    """(mr, ct) ``Volume``s of the synthetic head; CT rounded to int16 HU like a scanner export."""
    shape, affine = grid(spacing, shape, codes, angle_deg)
    mr, ct = head_arrays(shape, affine, world_from_head)
    return Volume(mr, affine, {}), Volume(np.rint(ct).astype(np.int16), affine, {})


def rigid(rx_deg: float, ry_deg: float, rz_deg: float, shift_mm) -> np.ndarray:
    """4x4 rigid transform: rotations about x, y, z (degrees) then a shift (mm)."""
    out = np.eye(4)
    for axis, deg in zip(range(3), (rx_deg, ry_deg, rz_deg)):
        a = np.deg2rad(deg)
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
        out[:3, :3] = r @ out[:3, :3]
    out[:3, 3] = shift_mm
    return out


def write_case(folder, spacing: float = 6.0, mr_name: str = "mr_1.5T_t1w.nii.gz", move=None, swap: bool = False):
    """Write one phantom-layout subject (``mr_*.nii.gz`` + ``ct.nii.gz``); the MR moved by ``move``."""
    from cranial_sct.io.writers import write_volume

    folder.mkdir(parents=True, exist_ok=True)
    mr, _ = head_volumes(spacing, codes="LPS", angle_deg=10, world_from_head=move)
    _, ct = head_volumes(spacing)
    write_volume(ct if swap else mr, folder / mr_name)
    write_volume(mr if swap else ct, folder / "ct.nii.gz")
    return folder
