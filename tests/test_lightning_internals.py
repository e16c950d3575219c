"""The private Lightning and torch attributes the package relies on are all in lightning_dl/lightning_internals.py,
and the installed versions still provide each of them: a test per attribute, named after it, so an upgrade that
renames one says which."""

from __future__ import annotations

import inspect
import re

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy

from lightning_dl import lightning_internals
from lightning_dl.lightning_internals import RELIES_ON
from conftest import REPO, make_images


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(64, 4)
        self.seen: list[tuple] = []

    def training_step(self, batch, batch_idx):
        trainer = self.trainer
        self.seen.append((lightning_internals.training_batch_index(trainer),
                          lightning_internals.training_batches_fetched(trainer),
                          lightning_internals.training_epochs_processed(trainer),
                          lightning_internals.training_batches_processed_this_epoch(trainer),
                          lightning_internals.logger_writes_this_step(trainer)))
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x.flatten(1)), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.fixture(scope="module")
def fitted() -> pl.Trainer:
    """A trainer after two epochs of three batches (what the loop-progress attributes are read from)."""
    images, labels = make_images(24)
    data = torch.utils.data.TensorDataset(torch.tensor(images, dtype=torch.float32), torch.tensor(labels))
    trainer = pl.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=2)
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    return trainer


#: Where each root of RELIES_ON is found: an object (built on demand) or a class.
ROOTS = {
    "Trainer": lambda fitted: fitted,
    "DDPStrategy": lambda fitted: DDPStrategy(),
    "ModelCheckpoint": lambda fitted: pl.callbacks.ModelCheckpoint,
    "torch": lambda fitted: torch,
}
ROWS = [(function, path) for function, paths in RELIES_ON.items() for path in paths]


@pytest.mark.parametrize(("function", "path"), ROWS, ids=[f"{f}:{p}" for f, p in ROWS])
def test_the_installed_lightning_still_provides(function, path, fitted):
    root, *attributes = path.split(".")
    obj = ROOTS[root](fitted)
    for depth, name in enumerate(attributes):
        assert hasattr(obj, name), (f"{function} relies on {path}, but {root}.{'.'.join(attributes[:depth + 1])} is "
                                    f"gone in pytorch-lightning {pl.__version__} / torch {torch.__version__}")
        obj = getattr(obj, name)


def test_every_function_says_what_it_relies_on():
    functions = {name for name, value in inspect.getmembers(lightning_internals, inspect.isfunction)
                 if value.__module__ == lightning_internals.__name__}
    assert functions == set(RELIES_ON)
    for name in functions:
        doc = getattr(lightning_internals, name).__doc__
        assert "Relies on" in doc and all(path.rsplit(".", 1)[-1] in doc for path in RELIES_ON[name]), name


def test_the_loop_progress_functions_count_what_they_say(fitted):
    # (batch index, batches fetched in the run, epoch, batches done this epoch, logger writes) at each step
    seen = fitted.lightning_module.seen
    assert [s[0] for s in seen] == [0, 1, 2, 0, 1, 2]
    assert [s[1] for s in seen] == [1, 2, 3, 4, 5, 6]
    assert [s[2] for s in seen] == [0, 0, 0, 1, 1, 1]
    assert [s[3] for s in seen] == [0, 1, 2, 0, 1, 2]
    assert [s[4] for s in seen] == [False, True, False, True, False, True]  # every 2nd batch of the run


def test_the_training_iterator_is_rebuilt(fitted):
    assert lightning_internals.training_iterator_built(fitted)
    lightning_internals.rebuild_training_iterator(fitted)
    assert lightning_internals.training_iterator_built(fitted)


def test_ddp_keyword_arguments_reach_ddp():
    strategy = DDPStrategy()
    lightning_internals.ddp_keyword_arguments(strategy)["find_unused_parameters"] = True
    assert DDPStrategy(find_unused_parameters=True)._ddp_kwargs == lightning_internals.ddp_keyword_arguments(strategy)


#: Private attributes of Lightning and torch that only lightning_internals.py may touch.
PRIVATE = re.compile(r"\._logger_connector|\._combined_loader|\._ddp_kwargs|_instantiate_trainer|"
                     r"_run_early_stopping_check|_should_skip_saving_checkpoint|\._monitor_candidates|"
                     r"\._save_topk_checkpoint|\._save_last_checkpoint|torch\._foreach_|batch_progress|"
                     r"epoch_progress|epoch_loop\.batch_idx|\._checkpoint_connector|\._accelerator_connector|\._trainer\b")


def test_no_private_lightning_attribute_outside_the_one_module():
    found = []
    for path in sorted((REPO / "lightning_dl").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        if relative == "lightning_dl/lightning_internals.py":
            continue
        found += [f"{relative}:{number}: {line.strip()}" for number, line in enumerate(path.read_text().splitlines(), 1)
                  if PRIVATE.search(line)]
    assert found == []
