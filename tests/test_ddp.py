"""Real DDP: two CPU processes train one classifier; they agree on metrics and weights."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_process_ddp_run_agrees_across_ranks(tmp_path):
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(WORKER.parent)}
    env.pop("LOCAL_RANK", None)
    result = subprocess.run([sys.executable, str(WORKER), str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # torchmetrics synchronises the epoch metrics, so both processes report the same numbers...
    assert ranks[0]["metrics"].keys() == ranks[1]["metrics"].keys() >= {"val/accuracy", "val/loss", "test/accuracy"}
    for name, value in ranks[0]["metrics"].items():
        assert ranks[1]["metrics"][name] == pytest.approx(value, abs=1e-6), name
    # ...gradients are averaged, so the replicas end with the same weights...
    assert ranks[0]["weights_sum"] == pytest.approx(ranks[1]["weights_sum"], rel=1e-9)
    assert ranks[0]["weights_abs_sum"] == pytest.approx(ranks[1]["weights_abs_sum"], rel=1e-9)
    # ...and each process trains on its own half of the shuffled training split.
    per_rank = math.ceil(ranks[0]["train_samples"] / 2 / 32)
    assert [r["train_batches"] for r in ranks] == [per_rank, per_rank]
    assert ranks[0]["first_batch_labels"] != ranks[1]["first_batch_labels"]
