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
