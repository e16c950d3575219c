"""Two nodes on one machine: ``lightning-dl fit`` launched per node by torchrun (``python -m
torch.distributed.run --nnodes 2 --node_rank R --master_addr 127.0.0.1``), one CPU process each, trains a few
batches under DDP, checkpoints once, and ends with identical weights on both nodes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO

#: Seconds the two nodes together may take (each starts Python, torch, Lightning, then trains four batches).
TIMEOUT = 240
#: What torchrun sets for its workers (and a launcher outside may have left in the test's own environment).
LAUNCHER_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "NODE_RANK",
                      "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_command(node_rank: int, port: int, out: Path) -> list[str]:
    """What one node runs: torchrun with one worker, which runs ``lightning-dl fit`` (``python -m lightning_dl``)."""
    callbacks = out / "callbacks.yaml"  # each rank writes its final weights (tests/multinode_helpers.py)
    callbacks.write_text("trainer:\n  callbacks:\n    - class_path: multinode_helpers.SaveFinalWeights\n"
                         f"      init_args: {{dirpath: {out / 'weights'}}}\n")
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
            "--node_rank", str(node_rank), "--master_addr", "127.0.0.1", "--master_port", str(port),
            "-m", "lightning_dl", "fit",
            "--config", str(REPO / "configs/classifiers/cnn_digits.yaml"), "--config", str(callbacks),
            "--trainer.num_nodes", "2", "--trainer.devices", "1", "--trainer.accelerator", "cpu",
            "--trainer.strategy", "ddp", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4",
            "--trainer.limit_val_batches", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(out / "run"),
            "--test_after_fit", "false",
            "--model.init_args.network.init_args.channels", "[4]", "--model.init_args.network.init_args.hidden_sizes",
            "[16]"]


def run_two_nodes(out: Path) -> list[subprocess.CompletedProcess]:
    """Start both nodes, wait for both (killing both on a timeout or when one fails and the other hangs)."""
    env = {key: value for key, value in os.environ.items() if key not in LAUNCHER_VARIABLES}
    env.update(WANDB_MODE="disabled", OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo",
               PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    port = free_port()
    nodes = [subprocess.Popen(node_command(rank, port, out), cwd=out, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True) for rank in (0, 1)]
    deadline = time.monotonic() + TIMEOUT
    try:
        while any(node.poll() is None for node in nodes):
            failed = [node for node in nodes if node.poll() not in (None, 0)]
            if time.monotonic() > deadline or failed:
                time.sleep(0 if not failed else 5)  # let a healthy node notice its peer's failure first
                break
            time.sleep(0.5)
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGKILL)
    results = [subprocess.CompletedProcess(node.args, node.wait(), node.stdout.read(), "") for node in nodes]
    for rank, result in enumerate(results):
        assert result.returncode == 0, f"node {rank} (exit {result.returncode}):\n{result.stdout[-4000:]}"
    return results


@pytest.mark.slow
def test_two_nodes_on_the_loopback_train_checkpoint_and_agree(tmp_path):
    run_two_nodes(tmp_path)
    reports = [json.loads((tmp_path / "weights" / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [(r["world_size"], r["num_nodes"], r["node_rank"], r["local_rank"]) for r in reports] == [(2, 2, 0, 0),
                                                                                                    (2, 2, 1, 0)]
    assert {r["environment"] for r in reports} == {"TorchElasticEnvironment"}  # torchrun's variables were read
    assert [r["global_step"] for r in reports] == [4, 4]
    # both nodes end with the same weights (DDP averaged the gradients), and they did train
    weights = [torch.load(tmp_path / "weights" / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert torch.equal(weights[0][name], weights[1][name]), name
    # one checkpoint, written once (by global rank 0) at the end of the epoch, holding those weights
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert checkpoints == ["best-epoch=0.ckpt", "last.ckpt"], checkpoints
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4
    for name, value in weights[0].items():
        assert torch.equal(checkpoint["state_dict"][name], value), name
