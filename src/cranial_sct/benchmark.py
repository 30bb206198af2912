"""``cranial-sct benchmark``: the paper's cross-field protocol on the phantom, end to end and resumable.

Protocol (Xin et al. 2026, DESIGN.md section 1): train on 1.5 T only, with T1w, FLAIR or both as
inputs; test on held-out subjects at 1.5 T and on the same held-out subjects imaged at 3 T, 7 T and
0.064 T; methods ``cascade`` and ``direct`` for each backbone, and ``bulk-density``; transfer to
the ``transfer_fields`` (the paper's: 7 T) by fine-tuning the 1.5 T model (``init_from``) on k
subjects of that field (k = 0 is the 1.5 T model as it is). Then ``evaluate`` and the HTML report.

Subjects of the one simulated cohort are split by index: the first ``train_subjects`` train (1.5 T
only), the next ``test_subjects`` are tested at every field, the last ``max(transfer_k)`` are the
fine-tuning pool. Testing the same subjects at every field makes the drop from 1.5 T a paired
comparison. With several ``train_seeds`` every network is trained once per seed (method folders
``<method>-seed<N>``) on the same cohort, so ``accuracy.md`` can give each figure as mean ± sd over
seeds and test cascade against direct over subjects (each subject's value averaged over seeds). The run is a plan of jobs (simulate, train, predict, evaluate) built from the config and
executed in order; finished jobs are skipped, so a stopped run continues where it was. The resolved
config (with its seed) is written to ``OUT/benchmark.yaml`` first; rerunning with it repeats the run.

Layout: ``OUT/cohort`` (unless ``data`` is given), ``OUT/runs/<job>``, ``OUT/predictions/<method>``,
``OUT/evaluation``, ``OUT/accuracy.md`` (cascade vs direct per field) and ``OUT/report.html``.
Transfer methods are named ``<method>-ft<k>`` and use the ``transfer_inputs`` contrasts only.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from tqdm import tqdm

from cranial_sct.errors import InputError
from cranial_sct.evaluation.statistics import describe, paired_tests
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.manifest import MANIFEST_NAME, read_manifest
from cranial_sct.io.sidecar import format_field
from cranial_sct.training.config import TrainConfig, apply_override, from_dict, load_config, validate

BASELINE = "bulk-density"


@dataclass
class BenchmarkConfig:
    seed: int = 0  # the cohort's, and every training run's unless train_seeds is given
    train_seeds: list[int] = field(default_factory=list)  # each network trained once per seed (empty: [seed])
    spacing_mm: float = 4.0  # phantom voxel size
    train_subjects: int = 6  # trained on at 1.5 T (paper: 37)
    test_subjects: int = 6  # tested at every field (paper: 44 per field)
    train_field: str = "1.5"
    test_fields: list[str] = field(default_factory=lambda: ["1.5", "3", "7", "0.064"])
    input_sets: list[str] = field(default_factory=lambda: ["t1w", "flair", "t1w+flair"])
    methods: list[str] = field(default_factory=lambda: ["cascade", "direct", BASELINE])
    backbones: list[str] = field(default_factory=lambda: ["resunet"])
    transfer_k: list[int] = field(default_factory=lambda: [0, 2, 5])
    transfer_fields: list[str] = field(default_factory=lambda: ["7"])  # fine-tuning targets (the paper's: 7 T)
    transfer_inputs: str = "t1w+flair"
    train: list[str] = field(default_factory=list)  # training config overrides (key=value), every network job
    steps: int = 150
    finetune_steps: int = 50
    device: Literal["auto", "cpu", "cuda"] = "auto"
    tta: bool = False


PRESETS: dict[str, dict[str, Any]] = {
    # `make demo`'s benchmark, about 3 minutes on 2 CPU cores: coarse phantom, small resunet, T1w+FLAIR only, k = 2 at 7 T.
    # Sized so that its networks are trained enough to show the method (150 steps of 16^3 patches lost to bulk density
    # on head MAE at 1.5 T; 600 steps of 24^3 beat it at every field on head MAE, bone MAE and Dice: docs/notes/quick.md).
    "quick": {"test_subjects": 5, "input_sets": ["t1w+flair"], "transfer_k": [0, 2], "steps": 600, "finetune_steps": 100,
              "train": ["model.features=[8,16,32]", "sampling.patch_size=[24,24,24]", "sampling.batch_size=4",
                        "optim.lr=3.0e-3", "optim.warmup_steps=0", "augment.artefact_probability=0.1"]},
    # The paper's cohort sizes and every backbone, for a GPU.
    # Within 60 minutes on 2 CPU cores: 2-mm phantom, two seeds, T1w and T1w+FLAIR, no fine-tuning.
    "standard": {"spacing_mm": 2.0, "train_subjects": 10, "test_subjects": 6, "input_sets": ["t1w", "t1w+flair"],
                 "transfer_k": [0], "transfer_inputs": "t1w", "train_seeds": [0, 1], "steps": 1000,
                 "train": ["sampling.patch_size=[48,48,48]", "sampling.num_workers=0", "optim.lr=2.0e-3", "optim.warmup_steps=50"]},
    "full": {"spacing_mm": 1.5, "train_subjects": 37, "test_subjects": 44, "backbones": ["resunet", "mamba", "transformer"],
             "steps": 4000, "finetune_steps": 500, "device": "cuda", "transfer_fields": ["7", "3", "0.064"],
             "train": ["sampling.patch_size=[64,64,64]", "sampling.batch_size=4", "train.amp=bf16", "sampling.num_workers=4"]},
}


def load_benchmark_config(preset: str, path: str | os.PathLike[str] | None = None, overrides: list[str] = ()) -> BenchmarkConfig:
    """The preset, then a YAML file (e.g. a previous run's ``benchmark.yaml``), then ``key=value`` overrides."""
    if preset not in PRESETS:
        raise InputError(f"--preset {preset}: unknown; choose one of {', '.join(PRESETS)}")
    values = dict(PRESETS[preset])
    if path is not None:
        if not Path(path).is_file():
            raise InputError(f"--config {path}: file not found")
        values.update(yaml.safe_load(Path(path).read_text()) or {})
    for assignment in overrides:
        apply_override(values, assignment)
    config = from_dict(BenchmarkConfig, values, str(path or f"preset {preset}"))
    _validate(config)
    return config


def _validate(config: BenchmarkConfig) -> None:
    unknown = sorted(set(config.methods) - {"cascade", "direct", BASELINE})
    if unknown:
        raise InputError(f"benchmark methods {unknown}: unknown; use cascade, direct, {BASELINE}")
    if config.transfer_inputs not in config.input_sets:
        raise InputError(f"transfer_inputs {config.transfer_inputs} must be one of input_sets {config.input_sets}")
    if config.train_field not in config.test_fields:
        raise InputError(f"test_fields {config.test_fields} must include the training field {config.train_field}")
    if not set(config.transfer_fields) <= set(config.test_fields) - {config.train_field}:
        raise InputError(f"transfer_fields {config.transfer_fields} must be test fields other than {config.train_field}")
    if len(set(config.train_seeds)) != len(config.train_seeds):
        raise InputError(f"train_seeds {config.train_seeds}: each seed once")
    if min(config.train_subjects, config.test_subjects) < 1 or min(config.transfer_k, default=0) < 0:
        raise InputError("train_subjects and test_subjects must be at least 1, transfer_k at least 0")


@dataclass(frozen=True)
class Subjects:
    train: list[str]
    test: list[str]
    pool: list[str]  # fine-tuning subjects at the target fields


def split_subjects(config: BenchmarkConfig, available: list[str]) -> Subjects:
    pool_size = max(config.transfer_k, default=0)
    needed = config.train_subjects + config.test_subjects + pool_size
    if len(available) < needed:
        raise InputError(f"cohort has {len(available)} subjects; the benchmark needs {needed} (train + test + fine-tuning pool)")
    a, b = config.train_subjects, config.train_subjects + config.test_subjects
    return Subjects(available[:a], available[a:b], available[b:needed])


@dataclass(frozen=True)
class TrainJob:
    name: str  # also its run folder under OUT/runs
    config: TrainConfig  # typed; run_dir and init_from are set when the job runs
    init_from: str | None = None  # the TrainJob whose weights it starts from (transfer)


@dataclass(frozen=True)
class PredictJob:
    name: str
    checkpoint: str  # the TrainJob whose last checkpoint predicts
    method: str  # prediction folder name
    inputs: str  # contrasts, e.g. t1w+flair
    fields: tuple[str, ...]


Job = TrainJob | PredictJob


def _method_name(method: str, backbone: str) -> str:
    return method if method == BASELINE else f"{method}-{backbone}"


def training_seeds(config: BenchmarkConfig) -> list[int]:
    return config.train_seeds or [config.seed]


SEEDED = re.compile(r"^(?P<method>.+?)-seed(?P<seed>\d+)(?P<ft>-ft\d+)?$")


def _seeded(name: str, seed: int, config: BenchmarkConfig) -> str:
    """The method folder of one seed's network: ``cascade-resunet-seed1`` (plain name with one seed)."""
    return f"{name}-seed{seed}" if len(training_seeds(config)) > 1 else name


def split_seed(method: str) -> tuple[str, str]:
    """``cascade-resunet-seed1-ft2`` -> (``cascade-resunet-ft2``, ``1``); an unseeded name -> (name, "")."""
    match = SEEDED.match(method)
    return (match["method"] + (match["ft"] or ""), match["seed"]) if match else (method, "")


def base_training_config(config: BenchmarkConfig, cohort: Path) -> TrainConfig:
    """What every training job shares: the cohort, the seed, no held-out subjects, the device and the
    user's ``train`` overrides (checked once, here, with the key named on error)."""
    common = [f"data.root={cohort}", f"seed={config.seed}", "data.val_count=0", f"train.device={config.device}"]
    return load_config(None, [*common, *config.train])


def training_job(
    base: TrainConfig, method: str, backbone: str, inputs: str, steps: int, field_T: str, subjects: list[str], seed: int
) -> TrainConfig:
    """``base`` with one job's model, schedule, data and seed."""
    job = copy.deepcopy(base)
    job.seed = seed
    job.model.kind, job.model.backbone, job.model.contrasts = method, backbone, inputs.split("+")
    job.train.steps, job.train.steps_per_epoch, job.train.checkpoint_every = steps, steps, max(1, steps // 4)
    job.data.fields, job.data.train_subjects, job.data.val_subjects = [field_T], list(subjects), []
    return job


def build_plan(config: BenchmarkConfig, subjects: Subjects, cohort: Path) -> list[Job]:
    """Every training and prediction job of the protocol, each after the jobs it depends on."""
    base = base_training_config(config, cohort)
    jobs: list[Job] = []
    seeds = training_seeds(config)
    for method in config.methods:
        for backbone in config.backbones if method != BASELINE else config.backbones[:1]:
            for seed in seeds if method != BASELINE else seeds[:1]:  # bulk density is a deterministic fit
                name = _method_name(method, backbone) if method == BASELINE else _seeded(_method_name(method, backbone), seed, config)
                for inputs in config.input_sets:
                    trained = f"{name}_{inputs}"
                    job = training_job(base, method, backbone, inputs, config.steps, config.train_field, subjects.train, seed)
                    jobs.append(TrainJob(trained, job))
                    jobs.append(PredictJob(f"predict_{trained}", trained, name, inputs, tuple(config.test_fields)))
                trained = f"{name}_{config.transfer_inputs}"
                for target in config.transfer_fields:
                    for k in (k for k in config.transfer_k if k > 0):
                        tuned = f"{trained}_ft{k}_{target}T"
                        job = training_job(base, method, backbone, config.transfer_inputs, config.finetune_steps, target, subjects.pool[:k], seed)
                        # bulk density is refitted on the k subjects, not tuned
                        jobs.append(TrainJob(tuned, job, None if method == BASELINE else trained))
                        jobs.append(PredictJob(f"predict_{tuned}", tuned, f"{name}-ft{k}", config.transfer_inputs, (target,)))
    return jobs


@dataclass(frozen=True)
class Paths:
    out: Path

    @property
    def runs(self) -> Path:
        return self.out / "runs"

    @property
    def predictions(self) -> Path:
        return self.out / "predictions"

    def checkpoint(self, job_name: str) -> Path:
        return self.runs / job_name / "checkpoints" / "last.pt"

    def done_marker(self, job_name: str) -> Path:
        return self.runs / job_name / "benchmark_done"


def _run_train(job: TrainJob, paths: Paths) -> None:
    """Train (or resume) one run; a marker written after it finishes makes a rerun skip it."""
    if paths.done_marker(job.name).is_file():
        return
    from cranial_sct.training.trainer import train

    config = copy.deepcopy(job.config)
    config.run_dir = str(paths.runs / job.name)
    config.init_from = str(paths.checkpoint(job.init_from)) if job.init_from else ""
    validate(config)
    train(config, resume=paths.checkpoint(job.name).is_file())
    with atomic_path(paths.done_marker(job.name)) as tmp:
        tmp.write_text("finished\n")


def _run_predict(job: PredictJob, paths: Paths, config: BenchmarkConfig, cohort: Path, subjects: Subjects) -> None:
    import torch

    from cranial_sct.prediction import PredictOptions, predict_cohort

    device = "cuda" if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()) else "cpu"
    predict_cohort(
        [str(paths.checkpoint(job.checkpoint))], cohort, paths.predictions, contrast_sets=[job.inputs.split("+")],
        fields=job.fields, subjects=subjects.test, method=job.method, options=PredictOptions(tta=config.tta, device=device),
        progress=False,
    )


def _contrasts(config: BenchmarkConfig) -> list[str]:
    return sorted({c for inputs in config.input_sets for c in inputs.split("+")})


def prepare_cohort(config: BenchmarkConfig, out: Path, data: Path | None) -> tuple[Path, list[str]]:
    """The given cohort (checked for the fields and contrasts needed), or a phantom simulated into OUT/cohort."""
    cohort = data or out / "cohort"
    if data is None and not (cohort / MANIFEST_NAME).is_file():
        from cranial_sct.phantom import simulate_cohort

        needed = config.train_subjects + config.test_subjects + max(config.transfer_k, default=0)
        simulate_cohort(cohort, needed, [float(f) for f in config.test_fields], _contrasts(config), config.spacing_mm, config.seed,
                        overwrite=True)
    if not (cohort / MANIFEST_NAME).is_file():
        raise InputError(f"--data {cohort}: no {MANIFEST_NAME}; give a phantom or preprocessed cohort folder")
    rows = read_manifest(cohort / MANIFEST_NAME)
    present = {(row.field_T, row.contrast) for row in rows if row.modality == "mr"}
    missing = [f"{f}T {c}" for f in config.test_fields for c in _contrasts(config) if (format_field(f), c) not in present]
    if missing:
        raise InputError(f"--data {cohort}: no MR for {', '.join(missing)}; simulate those fields and contrasts or change the config")
    return cohort, sorted({row.subject for row in rows})


def record_config(config: BenchmarkConfig, path: Path) -> None:
    """Write the resolved config; refuse to continue a run in ``path``'s folder that used another one."""
    text = yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
    if path.is_file() and path.read_text() != text:
        raise InputError(
            f"{path}: this folder holds a benchmark with another config; continue it with --config {path} or choose another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)


TABLE_METRICS = {"mae": "head MAE (HU)", "mae_bone": "bone MAE (HU)", "dice": "skull Dice"}


def _field_order(field_T: str, train_field: str) -> tuple[bool, float]:
    return field_T != train_field, -float(field_T) if field_T != "unknown" else 0.0


def _with_seed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the seed moved out of the method name into its own key."""
    return [{**row, "method": method, "seed": seed} for row in rows for method, seed in [split_seed(row["method"])]]


def _over_seeds(rows: list[dict[str, Any]], metric: str) -> tuple[dict[str, float], int]:
    """(describe() over seeds of each seed's mean over its cases, number of subjects)."""
    by_seed: dict[str, list[float]] = {}
    for row in rows:
        by_seed.setdefault(row["seed"], []).append(row[metric])
    return describe([describe(values)["mean"] for values in by_seed.values()]), len({row["subject"] for row in rows})


def _format(stat: dict[str, float], digits: int) -> str:
    text = f"{stat['mean']:.{digits}f}"
    return text + (f" ± {stat['std']:.{digits}f}" if stat["n"] > 1 else "")


def _p(test: dict[str, Any], key: str = "p") -> str:
    return f"{test.get(key, float('nan')):.3g}"


def accuracy_table(rows: list[dict[str, Any]], contrast: str, train_field: str) -> str:
    """Markdown for one input set: head MAE, bone MAE and skull Dice per field and method as mean ± sd over
    training seeds (each seed's mean over the test subjects), the bone-MAE change from ``train_field`` (same
    subjects), then cascade against direct per field: bone-MAE ratio and paired Wilcoxon p over subjects
    (each subject's value the mean over seeds), Holm-adjusted over the fields."""
    rows = [row for row in _with_seed(rows) if row["contrast"] == contrast]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["field_T"], row["method"]), []).append(row)
    bone = {key: _over_seeds(group, "mae_bone")[0]["mean"] for key, group in groups.items()}
    header = "| field (T) | method | subjects | seeds | " + " | ".join(TABLE_METRICS.values()) + " | bone MAE change |"
    lines = [f"### Inputs {contrast}", "", f"Mean ± sd over training seeds; change = bone MAE at the field minus at {train_field} T (same subjects).", "",
             header, "|---|---|---|---|---|---|---|---|"]
    for field_T, method in sorted(groups, key=lambda key: (*_field_order(key[0], train_field), key[1])):
        group = groups[(field_T, method)]
        stats = {metric: _over_seeds(group, metric) for metric in TABLE_METRICS}
        change = bone[(field_T, method)] - bone.get((train_field, method.split("-ft")[0]), float("nan"))
        cells = " | ".join(_format(stats[m][0], 3 if m == "dice" else 1) for m in TABLE_METRICS)
        lines.append(f"| {field_T} | {method} | {stats['mae'][1]} | {len({r['seed'] for r in group})} | {cells} | {change:+.1f} |")
    for cascade in sorted({m for _, m in groups if m.startswith("cascade-") and "-ft" not in m}):
        direct = "direct-" + cascade.removeprefix("cascade-")
        fields = sorted({f for f, m in groups if m == cascade} & {f for f, m in groups if m == direct}, key=lambda f: _field_order(f, train_field))
        if not fields:
            continue
        pair = [row for row in rows if row["method"] in (cascade, direct)]
        tests = {(t["field_T"], t["metric"]): t for t in paired_tests(pair, list(TABLE_METRICS), ["field_T"], ["subject"], ["seed"])}
        lines += ["", (f"{cascade} vs {direct}, paired over subjects (Wilcoxon, p_holm over fields); drop ratio = cascade's "
                       f"bone-MAE change from {train_field} T / direct's."), "",
                  "| field (T) | bone MAE ratio | bone p | bone p_holm | head MAE p | Dice p | drop ratio |", "|---|---|---|---|---|---|---|"]
        for field_T in fields:
            drops = [bone[(field_T, m)] - bone.get((train_field, m), float("nan")) for m in (cascade, direct)]
            drop_ratio = drops[0] / drops[1] if field_T != train_field and drops[1] else float("nan")
            bone_test = tests.get((field_T, "mae_bone"), {})
            lines.append(f"| {field_T} | {bone[(field_T, cascade)] / bone[(field_T, direct)]:.3f} | {_p(bone_test)} | {_p(bone_test, 'p_holm')} | "
                         f"{_p(tests.get((field_T, 'mae'), {}))} | {_p(tests.get((field_T, 'dice'), {}))} | {drop_ratio:.2f} |")
    return "\n".join(lines) + "\n"


def run_benchmark(
    config: BenchmarkConfig, out: str | os.PathLike[str], data: str | os.PathLike[str] | None = None,
    on_job: Callable[[Job], None] | None = None,
) -> Path:
    """Run (or continue) the whole protocol into ``out``; return the report's path. ``on_job`` sees each job first."""
    out = Path(out)
    paths = Paths(out)
    record_config(config, out / "benchmark.yaml")
    cohort, available = prepare_cohort(config, out, Path(data) if data else None)
    subjects = split_subjects(config, available)
    plan = build_plan(config, subjects, cohort)
    for job in tqdm(plan, desc="benchmark", unit="job", dynamic_ncols=True):
        if on_job is not None:
            on_job(job)
        if isinstance(job, TrainJob):
            _run_train(job, paths)
        else:
            _run_predict(job, paths, config, cohort, subjects)
    from cranial_sct.evaluation.evaluate import evaluate
    from cranial_sct.evaluation.report import write_report

    rows, _ = evaluate(paths.predictions, cohort, out_dir=out / "evaluation")
    with atomic_path(out / "accuracy.md") as tmp:
        tmp.write_text("\n".join(accuracy_table(rows, inputs, config.train_field) for inputs in config.input_sets))
    return write_report(out / "evaluation", out / "report.html", config_files=[out / "benchmark.yaml"])
