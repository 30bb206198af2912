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
    split_seed,
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
    assert (len(subjects.train), len(subjects.test), len(subjects.pool)) == (6, 5, 2)
    assert not set(subjects.train) & set(subjects.test) and not set(subjects.pool) & set(subjects.train + subjects.test)
    with pytest.raises(InputError, match="cohort has 3 subjects; the benchmark needs 13"):
        split_subjects(load_benchmark_config("quick"), ["a", "b", "c"])


def test_the_plan_follows_the_protocol() -> None:
    plan, subjects = quick_plan()
    trains = [job for job in plan if isinstance(job, TrainJob)]
    predicts = [job for job in plan if isinstance(job, PredictJob)]
    # 3 methods x 1 input set at 1.5 T, then 3 methods x k = 2 at 7 T
    assert len(trains) == len(predicts) == 3 + 3
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
            assert job.config.sampling.patch_size == [24, 24, 24]  # the preset's train overrides, applied once
    methods = {job.method for job in predicts}
    assert methods == {"cascade-resunet", "direct-resunet", "bulk-density"} | {
        f"{m}-ft2" for m in ("cascade-resunet", "direct-resunet", "bulk-density")
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


def test_standard_preset_trains_each_network_once_per_seed() -> None:
    config = load_benchmark_config("standard")
    subjects = split_subjects(config, [f"sub-{i:03d}" for i in range(16)])
    assert (len(subjects.train), len(subjects.test), subjects.pool) == (10, 6, [])
    plan = build_plan(config, subjects, Path("/data/cohort"))
    trains = {job.name: job.config for job in plan if isinstance(job, TrainJob)}
    # (cascade, direct) x seeds (0, 1) x (t1w, t1w+flair), plus bulk density fitted once per input set
    assert sorted(trains) == sorted(
        [f"{m}-resunet-seed{s}_{i}" for m in ("cascade", "direct") for s in (0, 1) for i in ("t1w", "t1w+flair")]
        + ["bulk-density_t1w", "bulk-density_t1w+flair"]
    )
    assert trains["cascade-resunet-seed1_t1w"].seed == 1 and trains["direct-resunet-seed0_t1w+flair"].seed == 0
    assert {job.method for job in plan if isinstance(job, PredictJob)} == {
        "cascade-resunet-seed0", "cascade-resunet-seed1", "direct-resunet-seed0", "direct-resunet-seed1", "bulk-density"}
    assert split_seed("cascade-resunet-seed1-ft2") == ("cascade-resunet-ft2", "1") and split_seed("bulk-density") == ("bulk-density", "")
    with pytest.raises(InputError, match="each seed once"):
        load_benchmark_config("standard", overrides=["train_seeds=[1,1]"])


def rows_for(method: str, field_T: str, bone: list[float], dice: float = 0.8, contrast: str = "t1w") -> list[dict]:
    return [{"method": method, "subject": f"sub-{i}", "field_T": field_T, "contrast": contrast, "mae_bone": value, "dice": dice,
             "mae": 50.0} for i, value in enumerate(bone)]


def test_accuracy_table_gives_seed_spread_changes_and_the_paired_comparison() -> None:
    subjects = [200.0 + i for i in range(6)]
    rows = (rows_for("cascade-resunet-seed0", "1.5", subjects) + rows_for("cascade-resunet-seed1", "1.5", [v + 10 for v in subjects])
            + rows_for("cascade-resunet-seed0", "7", [v + 50 for v in subjects]) + rows_for("cascade-resunet-seed1", "7", [v + 70 for v in subjects])
            + rows_for("direct-resunet-seed0", "1.5", [v + 100 for v in subjects]) + rows_for("direct-resunet-seed1", "1.5", [v + 100 for v in subjects])
            + rows_for("direct-resunet-seed0", "7", [v + 220 for v in subjects]) + rows_for("direct-resunet-seed1", "7", [v + 220 for v in subjects])
            + rows_for("bulk-density", "1.5", [900.0] * 6) + rows_for("cascade-resunet-seed0", "1.5", [1.0] * 6, contrast="t1w+flair"))
    lines = accuracy_table(rows, "t1w", "1.5").splitlines()
    # cascade at 1.5 T: seed means 202.5 and 212.5 -> 207.5 ± 7.1; at 7 T 252.5 and 272.5 -> 262.5, change +55.0
    assert "| 1.5 | cascade-resunet | 6 | 2 | 50.0 ± 0.0 | 207.5 ± 7.1 | 0.800 ± 0.000 | +0.0 |" in lines
    assert "| 7 | cascade-resunet | 6 | 2 | 50.0 ± 0.0 | 262.5 ± 14.1 | 0.800 ± 0.000 | +55.0 |" in lines
    assert "| 1.5 | bulk-density | 6 | 1 | 50.0 | 900.0 | 0.800 | +0.0 |" in lines
    comparison = lines[lines.index("| field (T) | bone MAE ratio | bone p | bone p_holm | head MAE p | Dice p | drop ratio |") + 2:]
    # every subject better with the cascade: the exact two-sided p for 6 pairs is 2 / 64; drop 55 vs 120
    assert comparison[0].startswith(f"| 1.5 | {207.5 / 302.5:.3f} | 0.0312 |") and comparison[1].endswith(f"| {55 / 120:.2f} |")
    assert not any("t1w+flair" in line or "| 1.0 " in line for line in lines)
