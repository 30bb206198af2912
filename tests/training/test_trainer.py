import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR
from cranial_sct.phantom.cohort import simulate_cohort
from cranial_sct.training.checkpoint import load_for_inference, read_checkpoint
from cranial_sct.training.config import TrainConfig, load_config, save_config
from cranial_sct.training.dataset import load_cases
from cranial_sct.training.sampling import PatchDataset
from cranial_sct.training.trainer import build_input_plan, train, validate



def tiny_config(root: Path, run_dir: Path, *overrides: str) -> TrainConfig:
    return load_config(None, [
        f"data.root={root}", f"run_dir={run_dir}", "model.features=[4,8,16]", "model.contrasts=[t1w,flair]",
        "sampling.patch_size=[16,16,16]", "train.steps=20", "train.steps_per_epoch=10", "train.checkpoint_every=10",
        "train.threads=1", *overrides,
    ])


class Interrupt(Exception):
    pass


def interrupt_at(step: int):
    def hook(current: int) -> None:
        if current == step:
            raise Interrupt

    return hook


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def test_interrupted_and_resumed_run_matches_straight_run(toy_cohort: Path, tmp_path: Path) -> None:
    straight = train(tiny_config(toy_cohort, tmp_path / "straight"))
    config = tiny_config(toy_cohort, tmp_path / "resumed")
    with pytest.raises(Interrupt):
        train(config, on_step=interrupt_at(15))  # dies between checkpoints: steps 11-15 are lost
    assert read_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 10
    train(config, resume=True)
    expected, got = weights(straight), weights(tmp_path / "resumed")
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
    with open(tmp_path / "resumed" / "metrics.csv") as handle:
        assert [row["step"] for row in csv.DictReader(handle)] == ["10", "20"]


def test_ema_run_saves_the_average_and_resumes_to_the_same_weights(toy_cohort: Path, tmp_path: Path) -> None:
    """With ``train.ema_decay`` the checkpoint's ``model`` (what predict loads) is the moving average and
    ``model_raw`` the trained weights; a run interrupted between checkpoints resumes to both exactly."""
    ema = ("train.ema_decay=0.9",)
    straight = train(tiny_config(toy_cohort, tmp_path / "straight", *ema))
    config = tiny_config(toy_cohort, tmp_path / "resumed", *ema)
    with pytest.raises(Interrupt):
        train(config, on_step=interrupt_at(15))
    train(config, resume=True)
    expected, got = (read_checkpoint(run / "checkpoints" / "last.pt") for run in (straight, tmp_path / "resumed"))
    for key in ("model", "model_raw"):
        for name in expected[key]:
            torch.testing.assert_close(got[key][name], expected[key][name], rtol=1e-5, atol=1e-6, msg=f"{key} {name}")
    name = next(n for n in expected["model"] if n.endswith("weight"))
    assert not torch.equal(expected["model"][name], expected["model_raw"][name])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_on_the_gpu_in_bf16_learns_as_on_the_cpu_and_its_checkpoint_loads_without_one(toy_cohort: Path, tmp_path: Path) -> None:
    """The GPU path (bf16 autocast, pinned memory) learns what the CPU's fp32 run learns from the same seed,
    and what it saves is CPU tensors that predict on a machine without a GPU."""
    scores = {}
    for device in ("cuda", "cpu"):
        config = tiny_config(toy_cohort, tmp_path / device, f"train.device={device}", "train.amp=bf16", "train.steps=100",
                             "train.steps_per_epoch=100", "train.checkpoint_every=100", "optim.lr=3.0e-3")
        run = train(config)
        assert all(tensor.device.type == "cpu" for tensor in weights(run).values())
        model, info = load_for_inference(run / "checkpoints" / "last.pt")
        scores[device] = validate(model, load_cases(config.data, info.plan, config.model.contrasts, ["sub-00"], ["1.5"]), config)
    assert abs(scores["cuda"]["val_mae_hu"] - scores["cpu"]["val_mae_hu"]) < 0.25 * scores["cpu"]["val_mae_hu"] + 10
    assert abs(scores["cuda"]["val_bone_dice"] - scores["cpu"]["val_bone_dice"]) < 0.1


def overfit_one_subject(root: Path, subject: str, run_dir: Path, steps: int, patch: int) -> dict[str, float]:
    """Train the cascade on one subject (no augmentation), then score that whole subject by sliding window."""
    config = tiny_config(
        root, run_dir, "model.features=[16,32]", f"train.steps={steps}", f"train.steps_per_epoch={steps}",
        f"train.checkpoint_every={steps}", f"sampling.patch_size=[{patch},{patch},{patch}]", "augment.enabled=false",
        f"data.train_subjects=[{subject}]", "data.val_count=0", "data.fields=['1.5']", "optim.lr=3.0e-3",
        "optim.schedule=constant",
    )
    model, _ = load_for_inference(train(config) / "checkpoints" / "last.pt")
    return validate(model, load_cases(config.data, build_input_plan(config, subject), config.model.contrasts, [subject], ["1.5"]), config)


def test_cascade_overfits_one_toy_subject(toy_cohort: Path, tmp_path: Path) -> None:
    """Measured: 13 HU head MAE and bone Dice 1.0 after 200 steps (about 20 s on a loaded core)."""
    scores = overfit_one_subject(toy_cohort, "sub-00", tmp_path / "run", steps=200, patch=16)
    assert scores["val_mae_hu"] < 40 and scores["val_bone_dice"] > 0.9


@pytest.mark.slow
def test_cascade_overfits_its_own_patches_of_one_phantom_subject(tmp_path: Path) -> None:
    """Tissue (soft + bone) MAE on its 4 training patches. Measured with the plan's MR head mask:
    17-31 HU soft, 15-19 HU bone after 300 steps (23-33 HU both), from 280 HU untrained. Air inside the
    MR mask (the head's partial-volume rim, which the CT mask used to leave out) stays near 200-300 HU
    at this budget, so it is bounded apart. (Whole-volume MAE on the 4 mm phantom is much higher at this
    budget: 127 HU after 200 steps of fresh 16^3 patches, 76 HU after 300 steps of 24^3.)"""
    simulate_cohort(tmp_path / "phantom", 1, [1.5], ["t1w", "flair"], 4.0, seed=0)
    config = tiny_config(
        tmp_path / "phantom", tmp_path / "run", "model.features=[16,32]", "train.steps=300", "train.steps_per_epoch=300",
        "train.checkpoint_every=300", "sampling.distinct_patches=4", "augment.enabled=false", "data.val_count=0",
        "optim.lr=3.0e-3", "optim.schedule=constant",
    )
    model, _ = load_for_inference(train(config) / "checkpoints" / "last.pt")
    cases = load_cases(config.data, build_input_plan(config, "sub-000"), config.model.contrasts, ["sub-000"], ["1.5"])
    patches = PatchDataset(cases, config.sampling.patch_size, config.sampling.bone_fraction, config.seed, None, 4)
    errors, air_errors = [], []
    with torch.no_grad():
        for index in range(4):
            patch = patches[index]
            error = (model(patch["mr"][None], patch["cond"][None])["hu"][0, 0] - patch["ct"][0]).abs()
            head, air = patch["mask"][0] > 0, patch["classes"][0] == AIR
            errors.append(error[head & ~air].mean().item())
            air_errors.append(error[head & air].mean().item())
    assert max(errors) < 40, errors
    assert max(air_errors) < 400, air_errors


def test_bulk_density_is_fitted_and_saved(toy_cohort: Path, tmp_path: Path) -> None:
    run_dir = train(tiny_config(toy_cohort, tmp_path / "run", "model.kind=bulk-density"))
    model, info = load_for_inference(run_dir / "checkpoints" / "best.pt")
    assert model.requires_head_mask and info.fields_seen == ["1.5", "3"]
    with open(run_dir / "metrics.csv") as handle:
        (row,) = csv.DictReader(handle)
    assert float(row["val_mae_hu"]) < 150 and float(row["val_bone_dice"]) > 0.8


def test_init_from_with_frozen_encoder_changes_only_the_rest(toy_cohort: Path, tmp_path: Path) -> None:
    source = train(tiny_config(toy_cohort, tmp_path / "source", "train.steps=2"))
    run_dir = train(tiny_config(
        toy_cohort, tmp_path / "transfer", "train.steps=3", f"init_from={source / 'checkpoints' / 'last.pt'}",
        "freeze_encoder=true", "data.fields=['3']",
    ))
    before, after = weights(source), weights(run_dir)
    encoder = [name for name in before if ".encoder." in name]
    decoder = [name for name in before if ".decoder." in name]
    assert encoder and decoder
    assert all(torch.equal(before[name], after[name]) for name in encoder)
    assert any(not torch.equal(before[name], after[name]) for name in decoder)


def test_staged_cascade_trains_stage1_then_freezes_it(toy_cohort: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(toy_cohort, run_dir, "train.cascade_training=staged", "train.stage1_steps=3", "train.steps=6",
                         "train.checkpoint_every=1")
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    train(config, on_step=lambda step: snapshots.__setitem__(step, weights(run_dir)))
    stage1 = [name for name in snapshots[1] if name.startswith(("stage1.", "seg_head."))]
    stage2 = [name for name in snapshots[1] if name.startswith(("stage2.", "hu_head."))]

    def changed(names: list[str], a: int, b: int) -> bool:
        return any(not torch.equal(snapshots[a][n], snapshots[b][n]) for n in names)

    assert changed(stage1, 1, 3) and not changed(stage2, 1, 3)  # steps 1-3: stage 1 only
    assert changed(stage2, 3, 6) and not changed(stage1, 3, 6)  # steps 4-6: stage 2 only


def test_patch_larger_than_volume_is_refused(toy_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="larger than subject"):
        train(tiny_config(toy_cohort, tmp_path / "run", "sampling.patch_size=[32,32,32]"))


def test_no_bone_in_training_cases_is_refused(toy_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no bone"):
        train(tiny_config(toy_cohort, tmp_path / "run", "data.bone_above_hu=5000"))


def test_resume_without_or_with_a_corrupt_checkpoint_is_refused(toy_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="checkpoint not found"):
        train(tiny_config(toy_cohort, tmp_path / "run"), resume=True)
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(InputError, match="corrupt"):
        train(tiny_config(toy_cohort, tmp_path / "run"), resume=True)


def test_resume_with_another_architecture_is_refused(toy_cohort: Path, tmp_path: Path) -> None:
    train(tiny_config(toy_cohort, tmp_path / "run", "train.steps=1"))
    with pytest.raises(InputError, match="another architecture.*model.features"):
        train(tiny_config(toy_cohort, tmp_path / "run", "train.steps=2", "model.features=[4,8,32]"), resume=True)


def test_existing_run_is_not_overwritten(toy_cohort: Path, tmp_path: Path) -> None:
    train(tiny_config(toy_cohort, tmp_path / "run", "train.steps=1"))
    with pytest.raises(InputError, match="--resume"):
        train(tiny_config(toy_cohort, tmp_path / "run", "train.steps=1"))


def test_run_killed_with_sigkill_resumes_to_the_same_weights(toy_cohort: Path, tmp_path: Path) -> None:
    """A real ``kill -9`` at an arbitrary moment: the last checkpoint is intact and resuming matches a straight run."""
    # deterministic: on a GPU, cuDNN's autotuner picks kernels per process, so two processes agree only then
    common = ["optim.schedule=constant", "train.checkpoint_every=5", "train.steps_per_epoch=1000", "deterministic=true"]
    killed = tmp_path / "killed"
    config = tiny_config(toy_cohort, killed, *common, "train.steps=100000")
    save_config(config, tmp_path / "run.yaml")
    process = subprocess.Popen([sys.executable, "-m", "cranial_sct", "train", "--config", str(tmp_path / "run.yaml")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = read_checkpoint(last)["step"]
    assert stopped_at >= 5 and stopped_at % 5 == 0
    train(tiny_config(toy_cohort, killed, *common, f"train.steps={stopped_at + 5}"), resume=True)
    straight = train(tiny_config(toy_cohort, tmp_path / "straight", *common, f"train.steps={stopped_at + 5}"))
    expected, got = weights(straight), weights(killed)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
