"""A tiny phantom cohort and real checkpoints trained on it, shared by the inference and predict tests.

Import the fixtures into a test module (``from tests.fixtures_checkpoint import phantom_cohort,
checkpoints``). Each artefact is built once per test run in a folder all test processes share and
reused from there, even when several modules (on several xdist workers) import the fixtures.

Cohort: 3 phantom subjects at 4 mm with T1w and FLAIR at 1.5 T and 7 T. Checkpoints: two cascades
(seeds 0 and 1, for ensembles) trained briefly on sub-000 and sub-001 at 1.5 T only; sub-002 is
held out. They are barely trained: the tests check geometry, coupling and plumbing, not accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from cranial_sct.phantom import simulate_cohort
from cranial_sct.training.config import load_config
from cranial_sct.training.trainer import train
from tests.conftest import shared_folder

SPACING_MM = 4.0
FIELDS = (1.5, 7.0)
CONTRASTS = ("t1w", "flair")
HELD_OUT = "sub-002"
TRAIN_STEPS = 30


@dataclass(frozen=True)
class Checkpoints:
    cascade: Path  # seed 0
    cascade_seed1: Path  # same recipe, seed 1: an ensemble member that differs


def build_cohort(root: Path) -> Path:
    if not (root / "manifest.csv").is_file():
        simulate_cohort(root, subjects=3, fields=FIELDS, contrasts=CONTRASTS, spacing=SPACING_MM, seed=0)
    return root


def train_tiny(cohort: Path, run_dir: Path, seed: int) -> Path:
    """A few real training steps of a small cascade on 1.5 T (reused if already there)."""
    checkpoint = run_dir / "checkpoints" / "last.pt"
    if not checkpoint.is_file():
        train(load_config(None, [
            f"data.root={cohort}", f"run_dir={run_dir}", f"seed={seed}", "data.fields=['1.5']", f"data.val_subjects=[{HELD_OUT}]",
            "model.kind=cascade", "model.contrasts=[t1w,flair]", "model.features=[8,16,32]", "sampling.patch_size=[16,16,16]",
            f"train.steps={TRAIN_STEPS}", f"train.steps_per_epoch={TRAIN_STEPS}", f"train.checkpoint_every={TRAIN_STEPS}",
            "train.threads=1", "optim.lr=3.0e-3",
        ]))
    return checkpoint


@pytest.fixture(scope="session")
def phantom_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with shared_folder(tmp_path_factory, "shared-phantom") as root:
        return build_cohort(root)


@pytest.fixture(scope="session")
def checkpoints(phantom_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Checkpoints:
    with shared_folder(tmp_path_factory, "shared-runs") as runs:
        return Checkpoints(train_tiny(phantom_cohort, runs / "cascade", 0), train_tiny(phantom_cohort, runs / "cascade-seed1", 1))
