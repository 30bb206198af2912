"""The benchmark's plan, config and accuracy table (the end-to-end run is in tests/cli/test_benchmark.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cranial_sct.benchmark import (
    PredictJob,
    Subjects,
    TrainJob,
    accuracy_table,
    build_plan,
    load_benchmark_config,
    record_config,
    split_subjects,
)
from cranial_sct.errors import InputError
from cranial_sct.training.config import TrainConfig


def quick_plan() -> tuple[list, Subjects]:
    config = load_benchmark_config("quick")
    subjects = split_subjects(config, [f"sub-{i:03d}" for i in range(20)])
    return build_plan(config, subjects, Path("/data/cohort")), subjects


def test_subjects_are_split_into_disjoint_train_test_and_pool() -> None:
    _, subjects = quick_plan()
    assert (len(subjects.train), len(subjects.test), len(subjects.pool)) == (6, 5, 5)
    assert not set(subjects.train) & set(subjects.test) and not set(subjects.pool) & set(subjects.train + subjects.test)
    with pytest.raises(InputError, match="cohort has 3 subjects; the benchmark needs 16"):
        split_subjects(load_benchmark_config("quick"), ["a", "b", "c"])


def test_the_plan_follows_the_protocol() -> None:
    plan, subjects = quick_plan()
    trains = [job for job in plan if isinstance(job, TrainJob)]
    predicts = [job for job in plan if isinstance(job, PredictJob)]
    # 3 methods x 3 input sets at 1.5 T, then 3 methods x k in {2, 5} at 7 T
    assert len(trains) == len(predicts) == 9 + 6
    order = {job.name: index for index, job in enumerate(plan)}
    for job in predicts:
        assert order[job.checkpoint] < order[job.name]
    for job in trains:
        assert isinstance(job.config, TrainConfig) and job.config.data.root == "/data/cohort"
        trained_on = job.config.data.train_subjects
        assert not set(trained_on) & set(subjects.test)
        if "_ft" in job.name:
            k = int(job.name.split("_ft")[1].split("_")[0])
            assert trained_on == subjects.pool[:k] and job.config.data.fields == ["7"]
            assert (job.init_from is None) == job.name.startswith("bulk-density")
            assert job.init_from is None or order[job.init_from] < order[job.name]
        else:
            assert trained_on == subjects.train and job.config.data.fields == ["1.5"]
            assert job.config.sampling.patch_size == [16, 16, 16]  # the preset's train overrides, applied once
    methods = {job.method for job in predicts}
    assert methods == {"cascade-resunet", "direct-resunet", "bulk-density"} | {
        f"{m}-ft{k}" for m in ("cascade-resunet", "direct-resunet", "bulk-density") for k in (2, 5)
    }
    assert {job.fields for job in predicts if "-ft" not in job.method} == {("1.5", "3", "7", "0.064")}


def test_presets_and_overrides(tmp_path: Path) -> None:
    full = load_benchmark_config("full")
    assert (full.train_subjects, full.test_subjects, full.backbones) == (37, 44, ["resunet", "mamba", "transformer"])
    assert load_benchmark_config("quick", overrides=["seed=7", "steps=10"]).seed == 7
    with pytest.raises(InputError, match="--preset huge: unknown"):
        load_benchmark_config("huge")
    with pytest.raises(InputError, match="unknown key 'stepz'"):
        load_benchmark_config("quick", overrides=["stepz=3"])
    with pytest.raises(InputError, match="benchmark methods \\['gan'\\]: unknown"):
        load_benchmark_config("quick", overrides=["methods=[cascade,gan]"])
    with pytest.raises(InputError, match="not valid YAML"):
        load_benchmark_config("quick", overrides=["train=[sampling.patch_size=[48,48,48]]"])
    record_config(load_benchmark_config("quick"), tmp_path / "benchmark.yaml")
    assert load_benchmark_config("quick", tmp_path / "benchmark.yaml") == load_benchmark_config("quick")
    with pytest.raises(InputError, match="holds a benchmark with another config"):
        record_config(load_benchmark_config("quick", overrides=["seed=1"]), tmp_path / "benchmark.yaml")


def group(method: str, field_T: str, bone: float, dice: float) -> dict:
    stat = lambda mean: {"n": 2, "mean": mean}  # noqa: E731
    return {"method": method, "field_T": field_T, "contrast": "t1w+flair", "mae_bone": stat(bone), "dice": stat(dice), "mae": stat(50.0)}


def test_accuracy_table_reports_the_change_from_the_training_field() -> None:
    summary = {"by_method_field_contrast": [
        group("cascade-resunet", "1.5", 200.0, 0.80), group("cascade-resunet", "7", 260.0, 0.70),
        group("cascade-resunet-ft2", "7", 230.0, 0.75), {**group("direct-resunet", "1.5", 1.0, 1.0), "contrast": "t1w"},
    ]}
    lines = accuracy_table(summary, "t1w+flair", "1.5").splitlines()
    assert lines[4].startswith("| 1.5 | cascade-resunet | 2 | 200.0 | +0.0 | 0.800 | +0.000 |")
    assert "| 7 | cascade-resunet | 2 | 260.0 | +60.0 | 0.700 | -0.100 |" in lines[5]
    assert "| 7 | cascade-resunet-ft2 | 2 | 230.0 | +30.0 | 0.750 | -0.050 |" in lines[6]
    assert not any("direct" in line for line in lines)
