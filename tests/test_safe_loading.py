"""Judge files hold weights and plain values only: they load with ``weights_only=True``, a crafted pickle is
refused unexecuted, an old whole-module judge is refused with how to re-create it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO

from lightning_dl.errors import ConfigurationError
from lightning_dl.evaluation import load_judge, save_judge
from lightning_dl.nn import CNN, MLP

SHAPE = (1, 8, 8)


class CreatesAFile:
    """A crafted object: unpickling it calls ``open(marker, "w")``, i.e. runs code the file chose."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def small_cnn() -> CNN:
    torch.manual_seed(0)
    return CNN(SHAPE, 3, channels=[4], hidden_sizes=[16], activation="tanh")


CNN_ARGS = {"channels": [4], "hidden_sizes": [16], "activation": "tanh"}


def judge_with(tmp_path: Path, network_entry: object) -> Path:
    """A file shaped like a judge of the current format whose ``network`` entry is ``network_entry``."""
    path = tmp_path / "judge.pt"
    saved = torch.load(save_judge(path, small_cnn(), (0.0, 1.0), SHAPE, init_args=CNN_ARGS), weights_only=True)
    saved["network"] = network_entry
    torch.save(saved, path)
    return path


def test_a_crafted_pickle_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "code_ran"
    path = judge_with(tmp_path, CreatesAFile(marker))
    with pytest.raises(ConfigurationError, match="would run code") as refused:
        load_judge(path)
    assert str(path) in str(refused.value) and "open" in str(refused.value)  # what it would have called
    assert not marker.exists()
    # the control: the unsafe loader the judge used before runs the file's code
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_an_old_whole_module_judge_is_refused_with_how_to_recreate_it(tmp_path):
    path = tmp_path / "old_judge.pt"
    torch.save({"format": 1, "network": small_cnn().eval(), "shift": torch.zeros(1, 1, 1),
                "scale": torch.ones(1, 1, 1), "image_shape": SHAPE, "info": {}}, path)
    with pytest.raises(ConfigurationError, match="old format 1") as refused:
        load_judge(path)
    assert str(path) in str(refused.value)
    assert f"python scripts/train_judge.py --output {path}" in str(refused.value)


def test_a_configuration_cannot_call_anything_but_a_network(tmp_path):
    """A file of plain values only names what to build: a function or a non-network class is refused."""
    for class_path in ("os.system", "pathlib.Path", "torch.nn.Linear"):
        path = judge_with(tmp_path, {"class_path": class_path, "input_shape": list(SHAPE), "num_outputs": 3,
                                     "init_args": {}})
        with pytest.raises(ConfigurationError, match="no Network"):
            load_judge(path)


def test_a_truncated_judge_names_the_file(tmp_path):
    path = save_judge(tmp_path / "judge.pt", small_cnn(), (0.0, 1.0), SHAPE, init_args=CNN_ARGS)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ConfigurationError, match="cannot be read") as refused:
        load_judge(path)
    assert str(path) in str(refused.value)


def test_a_judge_is_weights_and_its_configuration(tmp_path):
    network = small_cnn()
    path = save_judge(tmp_path / "judge.pt", network, (0.5, 2.0), SHAPE, init_args=CNN_ARGS, classes=("a", "b"))
    saved = torch.load(path, weights_only=True)  # the safe loader reads all of it
    assert saved["network"] == {"class_path": "lightning_dl.nn.networks.CNN", "input_shape": [1, 8, 8],
                                "num_outputs": 3, "init_args": CNN_ARGS}
    assert saved["state_dict"].keys() == network.state_dict().keys()
    state = torch.random.get_rng_state()
    loaded = load_judge(path)
    assert torch.equal(torch.random.get_rng_state(), state)  # building it does not move the caller's seed
    images = torch.randn(5, *SHAPE)
    torch.testing.assert_close(loaded.network(images), network.eval()(images))
    assert loaded.info == {"classes": ["a", "b"]}


@pytest.mark.parametrize("init_args, match", [({"channels": [8], "hidden_sizes": [16], "activation": "tanh"}, "weights"),
                                              ({"channels": [4], "hidden_sizes": [16]}, "computes something else")])
def test_init_args_that_do_not_rebuild_the_network_are_refused_at_save(tmp_path, init_args, match):
    with pytest.raises(ConfigurationError, match=match):
        save_judge(tmp_path / "judge.pt", small_cnn(), (0.0, 1.0), SHAPE, init_args=init_args)
    assert not (tmp_path / "judge.pt").exists()


def test_only_plain_values_are_saved(tmp_path):
    with pytest.raises(ConfigurationError, match="plain values"):
        save_judge(tmp_path / "judge.pt", MLP((64,), 3, hidden_sizes=[8]), (0.0, 1.0), SHAPE,
                   init_args={"hidden_sizes": [8]}, activation=torch.nn.ReLU())


def test_no_unsafe_load_anywhere_in_the_package_or_scripts():
    files = [*(REPO / "lightning_dl").rglob("*.py"), *(REPO / "scripts").glob("*.py")]
    assert [str(f.relative_to(REPO)) for f in files if "weights_only=False" in f.read_text()] == []
