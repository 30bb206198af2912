import numpy as np
import pytest
from scipy import ndimage

from cranial_sct.phantom.anatomy import design_head
from cranial_sct.phantom.grids import SUPERSAMPLE, covering_grid
from cranial_sct.phantom.tissues import BONE_TISSUES, Tissue
from cranial_sct.phantom.voxelise import block_counts, fine_labels, voxelise

INTRACRANIAL = (Tissue.CSF, Tissue.GM, Tissue.WM, Tissue.DEEP_GM)


@pytest.fixture(scope="module")
def design():
    return design_head(np.random.default_rng(7))


@pytest.fixture(scope="module")
def labels(design):
    return fine_labels(design, covering_grid(3.0))  # 1.5 mm sub-voxels


def test_skull_is_a_closed_shell_around_the_brain(labels):
    intracranial = np.isin(labels, INTRACRANIAL)
    components, _ = ndimage.label(intracranial)
    brain = components == components[tuple(np.argwhere(labels == Tissue.DEEP_GM).mean(0).astype(int))]
    touching = ndimage.binary_dilation(brain) & ~brain
    assert touching.any()
    neighbours = np.unique(labels[touching])
    assert set(neighbours) <= set(BONE_TISSUES), [Tissue(n).name for n in neighbours]


def test_every_required_tissue_is_present(labels):
    present = set(np.unique(labels))
    assert present == set(Tissue)


def test_skull_is_thin_at_the_temporal_squama_and_thick_at_the_occiput(design):
    thickness = design.fields["skull"]
    grid = design.grid
    x, y, z = (grid.axis(k) for k in range(3))
    index = lambda axis, mm: int(np.argmin(np.abs((x, y, z)[axis] - mm)))  # noqa: E731
    squama = thickness[index(0, 68), index(1, -5), index(2, 5)]
    occiput = thickness[index(0, 0), index(1, -95), index(2, 0)]
    assert squama < 4.0 < 7.0 < occiput


def test_block_counts_give_partial_volume_fractions():
    fine = np.zeros((4, 2, 2), dtype=np.uint8)
    fine[1, 0, 0] = Tissue.GM
    fine[2:] = Tissue.WM
    counts = block_counts(fine, 2)
    assert counts.shape == (len(Tissue), 2, 1, 1)
    assert counts[Tissue.BACKGROUND, 0, 0, 0] == 7 and counts[Tissue.GM, 0, 0, 0] == 1
    assert counts[Tissue.WM, 1, 0, 0] == 8


def test_voxelise_matches_the_fine_labels(design):
    grid = covering_grid(6.0)
    fractions = voxelise(design, grid, slab_voxels=5)  # slabs that do not divide the volume
    whole = block_counts(fine_labels(design, grid), SUPERSAMPLE)
    np.testing.assert_array_equal(fractions.counts, whole)
    assert (fractions.counts.sum(0) == SUPERSAMPLE**3).all()


def test_different_seeds_give_different_anatomy():
    a, b = (design_head(np.random.default_rng(s)) for s in (1, 2))
    assert a.params != b.params
    assert not np.allclose(a.fields["cerebrum"], b.fields["cerebrum"])



def vertex_layers_mm(seed: int) -> tuple[float, float, float, float]:
    """A head's drawn scalp fat and galea, and the fat and muscle measured at its vertex (medians over the
    columns whose skin lies within 3 mm of the top, where the scalp is level)."""
    design = design_head(np.random.default_rng(seed))
    grid = covering_grid(3.0)
    labels = fine_labels(design, grid)
    step = grid.spacing / SUPERSAMPLE
    inside = labels != Tissue.BACKGROUND
    top = np.where(inside.any(axis=2), inside.shape[2] - 1 - np.argmax(inside[:, :, ::-1], axis=2), -1)
    vertex = top >= top.max() - 3.0 / step
    scalp = labels[:, :, int(top.max() - 25.0 / step):]  # the top 25 mm: skin to brain at the vertex
    fat, muscle = (float(np.median((scalp == tissue).sum(axis=2)[vertex]) * step) for tissue in (Tissue.FAT, Tissue.MUSCLE))
    return design.params.scalp_fat_mm, design.params.galea_mm, fat, muscle


def test_the_scalp_layers_over_the_vault_follow_each_heads_draw():
    thin_fat, thick_galea, fat_a, muscle_a = vertex_layers_mm(0)  # drawn: fat 3.7 mm, galea 3.1 mm
    thick_fat, thin_galea, fat_b, muscle_b = vertex_layers_mm(3)  # fat 6.8 mm, galea 1.6 mm
    # The fat's own smooth variation (+-1.2 mm) and 1.5-mm voxels blur each head's figure, not the difference's sign
    # or size: each layer differs between the two heads by half to twice what was drawn.
    assert 0.5 < (fat_b - fat_a) / (thick_fat - thin_fat) < 2.0, (fat_a, fat_b)
    assert 0.5 < (muscle_a - muscle_b) / (thick_galea - thin_galea) < 2.0, (muscle_a, muscle_b)
