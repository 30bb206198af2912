"""The typed training config: dataclasses loaded from YAML, overridden by ``key=value``, saved with the run.

Every key is checked against the dataclass fields and their types, so a typo or a wrong type is a
clear error before any work starts, never a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU
from cranial_sct.io.atomic import atomic_path
from cranial_sct.models.registry import ModelConfig


@dataclass
class DataConfig:
    root: str = ""  # folder holding manifest.csv (phantom or preprocessed layout)
    train_subjects: list[str] = field(default_factory=list)  # empty: every subject not held out
    val_subjects: list[str] = field(default_factory=list)  # empty: the last ``val_count`` subjects
    val_count: int = 1
    fields: list[str] = field(default_factory=list)  # field strengths to train on, e.g. ["1.5"]; empty: all
    val_fields: list[str] = field(default_factory=list)  # empty: same as ``fields``
    # The network-input plan (cranial_sct.preprocess.plan), recorded in every checkpoint:
    spacing_mm: list[float] = field(default_factory=list)  # network voxel size per axis; empty: the training CTs' own
    n4: bool = False  # N4 bias correction of every MR (training and predict)
    head_mask: Literal["mr-log-otsu"] = "mr-log-otsu"  # rule that makes the network's head mask from the MR
    crop_margin_mm: float = 10.0  # head box plus this margin is what the network sees
    normalisation: Literal["percentile", "zscore"] = "percentile"
    air_below_hu: float = AIR_BELOW_HU  # stage-1 target: CT below this inside the head is air
    bone_above_hu: float = BONE_THRESHOLD_HU  # ... above this is bone; the rest soft tissue


@dataclass
class SamplingConfig:
    patch_size: list[int] = field(default_factory=lambda: [64, 64, 64])
    batch_size: int = 2
    bone_fraction: float = 2 / 3  # share of patches centred on a bone voxel
    num_workers: int = 0  # patch-loading worker processes
    distinct_patches: int = 0  # 0: a fresh patch every draw; N: cycle through N fixed patches (overfitting checks)


@dataclass
class AugmentConfig:
    enabled: bool = True
    artefact_probability: float = 0.2  # per TorchIO artefact (bias, noise, gamma, blur, anisotropy, motion, ghosting)
    tissue_remap_probability: float = 0.5  # SynthSeg-style per-tissue contrast re-mapping
    remap_gain_range: list[float] = field(default_factory=lambda: [0.75, 1.25])  # each tissue's gain, per channel
    channel_dropout: float = 0.2  # per channel; at least one channel is always kept
    condition_dropout: float = 0.2  # probability of hiding the field strength
    flip_axes: list[int] = field(default_factory=lambda: [0])  # mirrored in training (0: left-right); --tta uses only these
    flip_probability: float = 0.5  # per axis in flip_axes
    spatial_probability: float = 0.0  # share of patches rotated and scaled about their centre
    rotation_deg: float = 15.0  # uniform in +-this about each axis
    scale_range: list[float] = field(default_factory=lambda: [0.85, 1.15])  # per axis
    fov_cut_probability: float = 0.0  # share of patches whose scan ends at a random axial plane inside them
    marrow_probability: float = 0.0  # share of patches whose diploe signal is scaled by marrow_gain_range (per channel)
    marrow_gain_range: list[float] = field(default_factory=lambda: [0.05, 1.0])  # 0.05: red marrow, dark as the tables
    fat_probability: float = 0.0  # share of patches whose subcutaneous fat signal is scaled by fat_gain_range (per channel)
    fat_gain_range: list[float] = field(default_factory=lambda: [0.25, 1.0])  # 0.3: the real vault scalp's T1w level


@dataclass
class LossConfig:
    dice: float = 1.0  # stage 1
    cross_entropy: float = 1.0  # stage 1
    boundary_weight: float = 4.0  # stage 1: cross-entropy weight 1 + this within one voxel of the bone surface (docs/notes/ablation.md)
    hu_l1: float = 1.0  # L1 of HU over the head
    bone_extra_weight: float = 2.0  # bone voxels weigh 1 + this in the L1
    head_l1: float = 0.0  # cascade: L1 of each HU head on its own tissue (bone head on bone, soft head on soft tissue)
    hu_scale: float = 1000.0  # the L1 is divided by this to sit near unit scale


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-5
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_steps: int = 0
    grad_clip: float = 1.0  # max gradient norm; 0 disables


@dataclass
class LoopConfig:
    steps: int = 2000
    steps_per_epoch: int = 200  # validation on whole held-out volumes after each epoch
    checkpoint_every: int = 100
    cascade_training: Literal["joint", "staged"] = "joint"
    stage1_steps: int = 500  # staged: steps on stage 1 alone, then stage 1 frozen and stage 2 trained
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "bf16", "fp16"] = "bf16"  # mixed precision, CUDA only
    threads: int = 0  # torch CPU threads; 0: idle cores less sampling workers (never oversubscribe)
    val_overlap: float = 0.25  # sliding-window overlap
    ema_decay: float = 0.0  # > 0: validate, save and predict with an exponential moving average of the weights


@dataclass
class TrainConfig:
    run_dir: str = "runs/run"
    seed: int = 0
    deterministic: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: LoopConfig = field(default_factory=LoopConfig)
    init_from: str = ""  # checkpoint whose weights start this run (transfer to a new field strength)
    freeze_encoder: bool = False  # with init_from: train only the decoders and heads


def from_dict(cls: type, values: Any, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a plain mapping, refusing unknown keys and wrong types by name."""
    if not isinstance(values, dict):
        raise InputError(f"{where}: expected a mapping of keys, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    return cls(**{key: _coerce(hints[key], value, f"{where}.{key}") for key, value in values.items()})


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is Literal:
        if value not in args:
            raise InputError(f"{where}: must be one of {', '.join(map(str, args))}, got {value!r}")
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value, where)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(f"{where}: must be a list, got {value!r}")
        return [_coerce(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # PyYAML (YAML 1.1) reads 1e-3 as text: it wants 1.0e-3
            return float(value)
        except ValueError:
            pass
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads 1.5 as a number; a field strength list is text
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise InputError(f"{where}: must be {hint.__name__}, got {value!r}")
    return value


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def apply_override(values: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested mapping, in place."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise InputError(f"--set {assignment!r}: use key=value, e.g. --set train.steps=100")
    *parents, leaf = key.strip().split(".")
    node = values
    for name in parents:
        node = node.setdefault(name, {})
        if not isinstance(node, dict):
            raise InputError(f"--set {assignment!r}: {name!r} is not a section")
    try:
        node[leaf] = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise InputError(f"--set {assignment!r}: the value is not valid YAML ({problem}); quote text that holds "
                         "brackets or '=', e.g. --set 'train=[\"sampling.patch_size=[48,48,48]\"]'") from None


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: sections merge key by key, any other value (lists too) replaces."""
    merged = dict(base)
    for key, value in over.items():
        both_sections = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_sections else value
    return merged


def _read_values(path: Path, reading: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's values, laid over those of the file its ``base`` key names (relative to it), so a
    second training phase states only what it changes."""
    if not path.is_file():
        raise InputError(f"{reading[-1]}: base {path.name}: config file not found" if reading else f"{path}: config file not found")
    if path.resolve() in reading:
        raise InputError(f"{path}: its base chain comes back to itself")
    try:
        values = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start}); is this a config file?") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of config sections")
    base = values.pop("base", None)
    if base is None:
        return values
    if not isinstance(base, str) or not base.strip():
        raise InputError(f"{path}: base must name another config file, got {base!r}")
    return _merged(_read_values(path.parent / base, (*reading, path.resolve())), values)


def load_config(path: str | os.PathLike[str] | None, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from defaults when ``path`` is None) and apply ``key=value`` overrides."""
    values = _read_values(Path(path)) if path is not None else {}
    where = "config" if path is None else str(path)
    for assignment in overrides:
        apply_override(values, assignment)
    config = from_dict(TrainConfig, values, where)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """Value checks the types cannot express."""
    checks = [
        (0.0 <= config.sampling.bone_fraction <= 1.0, "sampling.bone_fraction must be within [0, 1]"),
        (config.sampling.batch_size >= 1, "sampling.batch_size must be at least 1"),
        (config.sampling.num_workers >= 0, "sampling.num_workers must be 0 or more"),
        (config.sampling.distinct_patches >= 0, "sampling.distinct_patches must be 0 or more"),
        (config.train.steps >= 1, "train.steps must be at least 1"),
        (config.train.steps_per_epoch >= 1, "train.steps_per_epoch must be at least 1"),
        (config.train.checkpoint_every >= 1, "train.checkpoint_every must be at least 1"),
        (config.optim.lr > 0, "optim.lr must be positive"),
        (config.data.air_below_hu < config.data.bone_above_hu, "data.air_below_hu must be below data.bone_above_hu"),
        (config.init_from or not config.freeze_encoder, "freeze_encoder needs init_from (a trained checkpoint)"),
        (config.data.root != "", "data.root must name the folder holding manifest.csv"),
        (len(config.data.spacing_mm) in (0, 1, 3) and all(s > 0 for s in config.data.spacing_mm),
         "data.spacing_mm must be empty, one positive size or three"),
        (config.data.crop_margin_mm >= 0, "data.crop_margin_mm must be 0 or more"),
        (set(config.augment.flip_axes) <= {0, 1, 2}, "augment.flip_axes must be array axes 0, 1 or 2"),
        *((len(gains) == 2 and 0 <= gains[0] <= gains[1], f"augment.{name} must be [low, high] with 0 <= low <= high")
          for name, gains in (("remap_gain_range", config.augment.remap_gain_range),
                              ("marrow_gain_range", config.augment.marrow_gain_range),
                              ("fat_gain_range", config.augment.fat_gain_range))),
        *((0.0 <= probability <= 1.0, f"augment.{name} must be within [0, 1]")
          for name, probability in (("spatial_probability", config.augment.spatial_probability),
                                    ("fov_cut_probability", config.augment.fov_cut_probability),
                                    ("marrow_probability", config.augment.marrow_probability),
                                    ("fat_probability", config.augment.fat_probability))),
        (len(config.augment.scale_range) == 2 and 0 < config.augment.scale_range[0] <= config.augment.scale_range[1],
         "augment.scale_range must be [low, high] with 0 < low <= high"),
    ]
    for ok, message in checks:
        if not ok:
            raise InputError(f"config: {message}")


def save_config(config: TrainConfig, path: str | os.PathLike[str]) -> Path:
    """Write the resolved config as YAML (atomically), so the run records exactly what it used."""
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    return Path(path)
