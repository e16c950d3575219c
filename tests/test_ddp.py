"""Real DDP: two CPU processes train one classifier; they agree on metrics and weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import run_two_processes

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_process_ddp_run_agrees_across_ranks(tmp_path):
    ranks = run_two_processes(WORKER, tmp_path)
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
