"""The training loop behind ``cranial-sct train``: resumable, validated, single- or multi-process.

Layout of a run directory::

    RUN/config.yaml              the resolved config
    RUN/checkpoints/last.pt      written atomically every ``train.checkpoint_every`` steps and at the end;
                                 with ``train.ema_decay`` its ``model`` is the moving average (what
                                 validation and predict use) and ``model_raw`` the weights being trained
    RUN/checkpoints/best.pt      the lowest validation MAE so far
    RUN/metrics.csv              one row per epoch (train loss, validation MAE and bone Dice, lr)
    RUN/tensorboard/             the same, for TensorBoard
    RUN/ddp_replicas.json        per-rank parameter checksums at the end of a multi-process run

Every case reaches the network through the input plan (:mod:`cranial_sct.preprocess.plan`), which
is built here from ``data`` (spacing, mask rule, N4, crop margin, normalisation) plus the training
intensity statistics and saved in every checkpoint. Validation runs every ``train.steps_per_epoch``
steps on whole held-out volumes through the same window engine ``predict`` uses, scored inside the
cohort's reference head mask. ``bulk-density`` is fitted in one pass instead of trained.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from cranial_sct.errors import InputError
from cranial_sct.evaluation.metrics import dice, mae
from cranial_sct.hounsfield import BONE, BONE_THRESHOLD_HU, HU_AIR
from cranial_sct.inference.engine import run_windows
from cranial_sct.inference.predict import couple_to_skull
from cranial_sct.io.atomic import atomic_path
from cranial_sct.models.bulk_density import BulkDensityModel
from cranial_sct.models.registry import build_model, check_patch_size
from cranial_sct.preprocess.plan import InputPlan
from cranial_sct.training import distributed
from cranial_sct.training.augment import Augmenter
from cranial_sct.training.checkpoint import (
    check_same_architecture,
    load_weights,
    read_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    stored_config,
)
from cranial_sct.training.config import TrainConfig, save_config, to_dict
from cranial_sct.training.dataset import (
    Case,
    intensity_statistics,
    load_cases,
    native_spacing,
    preprocessed_with_n4,
    split_subjects,
)  # fmt: skip
from cranial_sct.training.losses import SCTLoss
from cranial_sct.training.sampling import PatchDataset, StepSampler

METRIC_COLUMNS = ("step", "epoch", "train_loss", "val_mae_hu", "val_bone_dice", "lr", "elapsed_s")


@dataclass
class RunState:
    """What the loop carries between steps and what a checkpoint restores."""

    step: int = 0
    best_val_mae: float = math.inf
    metrics: list[dict[str, Any]] = field(default_factory=list)


def train(
    config: TrainConfig, resume: bool = False, on_step: Callable[[int], None] | None = None
) -> Path:
    """Train (or fit) the configured model; return the run directory.

    ``resume`` continues from ``RUN/checkpoints/last.pt`` exactly; ``config.init_from`` (with
    optional ``config.freeze_encoder``) starts from another run's weights. ``on_step(step)`` is
    called after every optimiser step (progress hooks, tests that interrupt a run).
    """
    dist_info = distributed.setup(config.train.device)
    try:
        _configure_torch(config, dist_info, resume)
        run_dir = _prepare_run_dir(config, resume, dist_info)
        train_cases, val_cases, plan, stats = _load_data(config)
        if config.model.kind == "bulk-density":
            _fit_bulk_density(config, train_cases, val_cases, plan, stats, run_dir, dist_info)
        else:
            _Trainer(config, train_cases, val_cases, plan, stats, run_dir, dist_info).run(resume, on_step)
        return run_dir
    finally:
        distributed.teardown()


def cpu_threads(config: TrainConfig, world_size: int = 1) -> int:
    """Torch threads for a training process: ``train.threads``, or (0) the cores this process may use,
    shared among the processes of the run, less one per patch-loading worker (workers run one thread
    each) and less the cores other processes keep busy when training starts. Two threads on two cores while another
    job holds one made a 48^3 cascade step 4.9 s instead of 0.5 s: never more busy threads than cores."""
    if config.train.threads > 0:
        return config.train.threads
    cores = len(os.sched_getaffinity(0))
    idle = cores - round(busy_cores())
    return max(1, min(cores // max(1, world_size) - config.sampling.num_workers, idle))


def busy_cores(window_s: float = 0.5) -> float:
    """How many of this process's cores other processes keep busy now: the non-idle time of those CPUs
    (/proc/stat) while this process sleeps. The load average would count this process's own recent work
    (a benchmark's simulation or prediction just before a training job), lags a minute behind and counts
    the whole machine; elsewhere it is the fallback."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return os.getloadavg()[0]
    mine = {f"cpu{index}" for index in os.sched_getaffinity(0)}

    def times() -> dict[str, tuple[float, float]]:
        """(all, idle + iowait) jiffies per CPU of this process."""
        rows = (line.split() for line in stat.read_text().splitlines() if line.startswith("cpu"))
        return {row[0]: (sum(map(float, row[1:])), float(row[4]) + float(row[5])) for row in rows if row[0] in mine}

    before = times()
    time.sleep(window_s)
    after = times()
    busy = 0.0
    for cpu, (total, idle) in after.items():
        elapsed = total - before[cpu][0]
        busy += 1.0 - (idle - before[cpu][1]) / elapsed if elapsed > 0 else 0.0
    return busy


def _one_thread_worker(_: int) -> None:
    torch.set_num_threads(1)


def _configure_torch(config: TrainConfig, dist_info: distributed.DistInfo, resume: bool) -> None:
    """Threads: ``train.threads`` wherever set; otherwise, on the CPU, the policy of ``cpu_threads``, or
    the count the run was started with when resuming (CPU reductions then add up in the same order)."""
    last = Path(config.run_dir) / "checkpoints" / "last.pt"
    if config.train.threads > 0:
        torch.set_num_threads(config.train.threads)
    elif resume and last.is_file() and "threads" in (state := read_checkpoint(last)):
        torch.set_num_threads(int(state["threads"]))
    elif dist_info.device.type == "cpu":
        torch.set_num_threads(cpu_threads(config, dist_info.world_size))
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif dist_info.device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def _prepare_run_dir(config: TrainConfig, resume: bool, dist_info: distributed.DistInfo) -> Path:
    run_dir = Path(config.run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    if last.exists() and not resume:
        raise InputError(f"{run_dir}: holds a run already; pass --resume to continue it or choose another run_dir")
    if dist_info.is_main:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
    distributed.barrier()
    return run_dir


def build_input_plan(config: TrainConfig, first_subject: str) -> InputPlan:
    """The plan from ``data``; without ``data.spacing_mm``, the voxel size of the training data itself.
    N4 is in the plan when the config asks for it or ``preprocess`` already applied it to the cohort.
    A run that starts from another model's weights (``init_from``) keeps that model's plan: its weights
    only make sense on inputs made that way."""
    data = config.data
    if config.init_from:
        source = InputPlan.from_dict(read_checkpoint(config.init_from)["plan"])
        return dataclasses.replace(source, intensity_stats={})
    spacing = data.spacing_mm * 3 if len(data.spacing_mm) == 1 else data.spacing_mm or native_spacing(data, first_subject)
    return InputPlan(spacing_mm=[float(s) for s in spacing], head_mask=data.head_mask,
                     n4=data.n4 or preprocessed_with_n4(data, first_subject), normalisation=data.normalisation,
                     crop_margin_mm=data.crop_margin_mm)


def _load_data(config: TrainConfig) -> tuple[list[Case], list[Case], InputPlan, dict[str, Any]]:
    train_subjects, val_subjects = split_subjects(config.data)
    contrasts = config.model.contrasts
    plan = build_input_plan(config, train_subjects[0])
    train_cases = load_cases(config.data, plan, contrasts, train_subjects, config.data.fields)
    if not train_cases:
        raise InputError(
            f"{config.data.root}: no MR of contrasts {contrasts} at fields {config.data.fields or 'any'} "
            "for the training subjects; check model.contrasts and data.fields"
        )
    val_cases = load_cases(config.data, plan, contrasts, val_subjects, config.data.val_fields or config.data.fields)
    stats = intensity_statistics(train_cases, contrasts)
    plan.intensity_stats = {k: v for k, v in stats.items() if k not in ("fields_seen", "contrasts_seen")}
    return train_cases, val_cases, plan, stats


def _checkpoint_state(config: TrainConfig, model: nn.Module, plan: InputPlan, stats: dict[str, Any], run: RunState) -> dict[str, Any]:
    return {"step": run.step, "config": to_dict(config), "model": model.state_dict(), "plan": plan.to_dict(),
            "stats": {"fields_seen": stats["fields_seen"], "contrasts_seen": stats["contrasts_seen"]},
            "best_val_mae": run.best_val_mae, "rng": rng_state(), "threads": torch.get_num_threads()}


def _fit_bulk_density(
    config: TrainConfig, train_cases: list[Case], val_cases: list[Case], plan: InputPlan, stats: dict[str, Any], run_dir: Path,
    dist_info: distributed.DistInfo,
) -> None:
    model = build_model(config.model)
    assert isinstance(model, BulkDensityModel)
    for case in tqdm(train_cases, desc="fitting bulk density", unit="case", disable=not dist_info.is_main):
        model.accumulate(case.mr, case.classes, case.ct, case.mask, [c in case.present for c in config.model.contrasts])
    if not dist_info.is_main:
        return
    run = RunState()
    scores = validate(model, val_cases, config)
    run.best_val_mae = scores["val_mae_hu"]
    run.metrics.append({"step": 0, "epoch": 0, "train_loss": float("nan"), **scores, "lr": 0.0, "elapsed_s": 0.0})
    state = _checkpoint_state(config, model, plan, stats, run)
    save_checkpoint(run_dir / "checkpoints" / "last.pt", state)
    save_checkpoint(run_dir / "checkpoints" / "best.pt", state)
    write_metrics(run_dir / "metrics.csv", run.metrics)


def validate(model: nn.Module, cases: list[Case], config: TrainConfig) -> dict[str, float]:
    """Mean head MAE (HU) and bone Dice over whole held-out volumes (NaN when there are none), each volume
    through the window engine and scored inside its reference head mask with ``evaluation.metrics``."""
    if not cases:
        return {"val_mae_hu": float("nan"), "val_bone_dice": float("nan")}
    device = next(itertools.chain(model.parameters(), model.buffers())).device
    model.eval()
    maes, dices = [], []
    for case in cases:
        image = torch.from_numpy(np.concatenate([case.mr, case.mask[None].astype(np.float32)]))[None]
        passes, _ = run_windows([model], image, case.condition()[None], config.sampling.patch_size, overlap=config.train.val_overlap,
                                device=device)
        inside = case.mask > 0
        hu = np.where(inside, passes.hu_mean.numpy(), HU_AIR)
        skull = (passes.probs.argmax(0).numpy() == BONE) & inside if passes.probs is not None else hu > BONE_THRESHOLD_HU
        maes.append(mae(case.ct, couple_to_skull(hu, skull), case.reference_mask))  # scored as predict outputs it
        if passes.probs is not None:
            dices.append(dice(skull, case.classes == BONE))
    model.train()
    return {"val_mae_hu": float(np.mean(maes)), "val_bone_dice": float(np.mean(dices)) if dices else float("nan")}


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the whole (small) CSV atomically, so a crash never leaves a torn row."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_metrics(path: Path, up_to_step: int) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def _lr_factor(config: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:
        warmup = min(1.0, (step + 1) / config.optim.warmup_steps) if config.optim.warmup_steps else 1.0
        if config.optim.schedule == "constant":
            return warmup
        return warmup * 0.5 * (1.0 + math.cos(math.pi * min(step, config.train.steps) / config.train.steps))

    return factor


class _Trainer:
    def __init__(
        self, config: TrainConfig, train_cases: list[Case], val_cases: list[Case], plan: InputPlan, stats: dict[str, Any],
        run_dir: Path, dist_info: distributed.DistInfo,
    ) -> None:
        check_patch_size(config.model, config.sampling.patch_size)
        self.config, self.val_cases, self.plan, self.stats, self.run_dir, self.dist = config, val_cases, plan, stats, run_dir, dist_info
        augmenter = Augmenter(config.augment, config.model.contrasts) if config.augment.enabled else None
        sampling = config.sampling
        self.dataset = PatchDataset(train_cases, sampling.patch_size, sampling.bone_fraction, config.seed, augmenter, sampling.distinct_patches)
        self.model = build_model(config.model).to(dist_info.device)
        self.criterion = SCTLoss(config.loss)
        self.state = RunState()
        self.resume_state: dict[str, Any] | None = None  # the checkpoint being resumed, until restored
        self.ema: AveragedModel | None = None  # built once the starting weights are loaded
        cuda = dist_info.device.type == "cuda"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.train.amp) if cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    @property
    def staged(self) -> bool:
        return self.config.model.kind == "cascade" and self.config.train.cascade_training == "staged"

    def _phase(self) -> tuple[bool, bool]:
        """Which loss terms are on: (segmentation, hu). Staged cascades train stage 1 first, then stage 2."""
        if not self.staged:
            return True, True
        return (True, False) if self.state.step < self.config.train.stage1_steps else (False, True)

    def _freeze_encoder(self) -> None:
        if self.config.freeze_encoder:
            for module in self.model.encoder_modules():
                module.requires_grad_(False)

    def _freeze_stage1_when_done(self) -> None:
        """Staged cascade: once stage 1 has had its steps it stays fixed (no gradient, so AdamW skips it)."""
        if self.staged and not self._phase()[0]:
            for module in self.model.stage1_modules():
                module.requires_grad_(False)

    def _build_optimiser(self) -> None:
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimiser = torch.optim.AdamW(parameters, lr=self.config.optim.lr, weight_decay=self.config.optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimiser, _lr_factor(self.config))

    def _load_start(self, resume: bool) -> None:
        source = self.run_dir / "checkpoints" / "last.pt" if resume else self.config.init_from
        if not source:
            return
        state = read_checkpoint(source, self.dist.device)
        check_same_architecture(stored_config(state, source).model, self.config.model, source)
        load_weights(self.model, state["model_raw" if resume and "model_raw" in state else "model"], source)
        if resume:
            self.state = RunState(int(state["step"]), float(state["best_val_mae"]), read_metrics(self.run_dir / "metrics.csv", int(state["step"])))
            self.resume_state = state

    def _start_ema(self) -> None:
        """The moving average starts from the starting weights; a resumed run continues its stored average."""
        if self.config.train.ema_decay <= 0:
            return
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(self.config.train.ema_decay), use_buffers=True)
        if self.resume_state is not None and "model_raw" in self.resume_state:
            load_weights(self.ema.module, self.resume_state["model"], self.run_dir / "checkpoints" / "last.pt")
            self.ema.n_averaged.fill_(self.state.step)

    @property
    def inference_model(self) -> nn.Module:
        """What validation scores and checkpoints hand to predict: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def _restore_optimiser(self) -> None:
        state = self.resume_state
        if state is not None:
            self.optimiser.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            restore_rng_state(state["rng"])

    def _save(self, name: str) -> None:
        state = _checkpoint_state(self.config, self.inference_model, self.plan, self.stats, self.state)
        if self.ema is not None:
            state["model_raw"] = self.model.state_dict()
        state.update(optimizer=self.optimiser.state_dict(), scheduler=self.scheduler.state_dict(), scaler=self.scaler.state_dict())
        save_checkpoint(self.run_dir / "checkpoints" / name, state)

    def _loader(self) -> DataLoader:
        sampler = StepSampler(self.state.step, self.config.train.steps, self.config.sampling.batch_size, self.dist.rank, self.dist.world_size)
        workers = self.config.sampling.num_workers
        return DataLoader(self.dataset, batch_size=self.config.sampling.batch_size, sampler=sampler, num_workers=workers,
                          persistent_workers=workers > 0, pin_memory=self.dist.device.type == "cuda",
                          worker_init_fn=_one_thread_worker)

    def _train_step(self, network: nn.Module, batch: dict[str, torch.Tensor]) -> float:
        batch = {key: value.to(self.dist.device, non_blocking=True) for key, value in batch.items()}
        segmentation, hu = self._phase()
        autocast = torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype else nullcontext()
        with autocast:
            outputs = network(batch["mr"], batch["cond"])
        loss, _ = self.criterion(outputs, batch, segmentation, hu)
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimiser)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
        self.scaler.step(self.optimiser)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.state.step += 1
        return float(loss.detach())

    def run(self, resume: bool, on_step: Callable[[int], None] | None) -> None:
        self._load_start(resume)
        self._start_ema()
        self._freeze_encoder()
        self._build_optimiser()
        self._restore_optimiser()
        network: nn.Module = self.model
        if self.dist.world_size > 1:
            network = DistributedDataParallel(self.model, find_unused_parameters=self.staged)
        writer = self._writer()
        progress = tqdm(total=self.config.train.steps, initial=self.state.step, unit="step", disable=not self.dist.is_main,
                        desc=f"{self.config.model.kind}/{self.config.model.backbone}", dynamic_ncols=True)
        started, losses = time.monotonic(), []
        for batch in self._loader():
            self._freeze_stage1_when_done()
            losses.append(self._train_step(network, batch))
            progress.update()
            progress.set_postfix(loss=f"{losses[-1]:.4f}")
            if self.state.step % self.config.train.steps_per_epoch == 0 or self.state.step == self.config.train.steps:
                self._end_epoch(float(np.mean(losses)), time.monotonic() - started, writer)
                losses = []
            if self.state.step % self.config.train.checkpoint_every == 0 or self.state.step == self.config.train.steps:
                if self.dist.is_main:
                    self._save("last.pt")
                distributed.barrier()
            if on_step is not None:
                on_step(self.state.step)
        progress.close()
        if writer is not None:
            writer.close()
        self._check_replicas()

    def _writer(self):  # -> SummaryWriter | None; imported here because TensorBoard is slow to import
        if not self.dist.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=self.state.step or None)

    def _end_epoch(self, train_loss: float, elapsed: float, writer) -> None:
        """Validate on the main process, log the epoch, keep the best checkpoint by validation MAE."""
        if self.dist.is_main:
            scores = validate(self.inference_model, self.val_cases, self.config)
            row = {"step": self.state.step, "epoch": math.ceil(self.state.step / self.config.train.steps_per_epoch),
                   "train_loss": train_loss, **scores, "lr": self.scheduler.get_last_lr()[0], "elapsed_s": round(elapsed, 2)}
            self.state.metrics.append(row)
            write_metrics(self.run_dir / "metrics.csv", self.state.metrics)
            for key in ("train_loss", "val_mae_hu", "val_bone_dice", "lr"):
                writer.add_scalar(key, row[key], self.state.step)
            if scores["val_mae_hu"] < self.state.best_val_mae:
                self.state.best_val_mae = scores["val_mae_hu"]
                self._save("best.pt")
        distributed.barrier()

    def _check_replicas(self) -> None:
        """Multi-process runs: every replica must end with the same weights; record and enforce it."""
        if self.dist.world_size == 1:
            return
        checksums = distributed.replica_checksums(self.model)
        if self.dist.is_main:
            with atomic_path(self.run_dir / "ddp_replicas.json") as tmp:
                tmp.write_text(json.dumps({"checksums": checksums}))
        if len(set(checksums)) != 1:
            raise RuntimeError(f"DDP replicas diverged: parameter checksums {checksums}")
