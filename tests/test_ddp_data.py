"""Data under real DDP: two CPU processes evaluate every validation/test sample exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import run_two_processes
from data_helpers import TinyClassifier, quiet_trainer
from ddp_eval_worker import odd_table

WORKER = Path(__file__).with_name("ddp_eval_worker.py")


def test_two_process_evaluation_counts_every_sample_once(tmp_path):
    torch.manual_seed(3)
    model = TinyClassifier(5, 2)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    # One process: the reference.
    dm = odd_table()
    trainer = quiet_trainer()
    single = {}
    for run in (trainer.validate, trainer.test):
        run(model, datamodule=dm, verbose=False)
        single.update({k: v.item() for k, v in trainer.callback_metrics.items()})
    val_ids, test_ids = sorted(model.seen["val"][-1]), sorted(model.seen["test"][-1])
    assert len(val_ids) == len(dm.val_set) == 13 and len(test_ids) == len(dm.test_set) == 41
    assert 0 < single["test/accuracy"] < 1

    ranks = run_two_processes(WORKER, tmp_path)
    for stage, ids, size in (("val", val_ids, 13), ("test", test_ids, 41)):
        shards = [sorted(r[f"{stage}_ids"]) for r in ranks]
        assert not set(shards[0]) & set(shards[1]), f"{stage}: a sample was evaluated by both processes"
        assert sorted(shards[0] + shards[1]) == ids, f"{stage}: the shards do not cover the set exactly once"
        for rank in ranks:  # synchronised metrics: every sample counted once, accuracy as with one process
            assert rank["metrics"][f"{stage}/count"] == size
            assert rank["metrics"][f"{stage}/accuracy"] == pytest.approx(single[f"{stage}/accuracy"], abs=1e-6)
    assert sum(r["predicted"] for r in ranks) == 41
