import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from cranial_sct.models.registry import build_model
from cranial_sct.training.checkpoint import load_for_inference
from cranial_sct.training.distributed import parameter_checksum


@pytest.mark.slow
def test_two_cpu_processes_train_identical_replicas(toy_cohort: Path, tmp_path: Path) -> None:
    config = {
        "data": {"root": str(toy_cohort)}, "run_dir": str(tmp_path / "run"),
        "model": {"features": [4, 8], "contrasts": ["t1w", "flair"]},
        "sampling": {"patch_size": [16, 16, 16], "batch_size": 1},
        "train": {"steps": 3, "steps_per_epoch": 3, "checkpoint_every": 3, "threads": 1, "device": "cpu"},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "cranial_sct.train", "--config", str(tmp_path / "run.yaml")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checksums = json.loads((tmp_path / "run" / "ddp_replicas.json").read_text())["checksums"]
    model, info = load_for_inference(tmp_path / "run" / "checkpoints" / "last.pt")
    assert len(checksums) == 2 and checksums[0] == checksums[1] == parameter_checksum(model)
    torch.manual_seed(info.config.seed)
    assert parameter_checksum(build_model(info.config.model)) != checksums[0]  # and they did train
