"""Results as data: the record writer keeps every field, the scripts' --record rows are valid records, and the
table generator turns a tiny record set into the tables the docs show (a stale row with its commit and date)."""

from __future__ import annotations

import argparse
import json

import pytest

from conftest import REPO
from lightning_dl.errors import ConfigurationError
from lightning_dl.results import REQUIRED_FIELDS, cpu_info, make_record, read_records, write_record



def load_script(name: str):
    """A module of scripts/ (not a package) by file path."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


MACHINE = {"cpu": "AMD EPYC 9R14", "cpu_flags": ["avx2", "avx512_bf16"], "cpus": 2, "threads": 1, "gpus": []}


def tiny_records() -> list[dict]:
    old = make_record("gans", "Whole schedules", "dcgan", {"FID": 2.02, "smallest class": "Bag"},
                      command="python scripts/evaluate_gans.py --variants dcgan", commit="e0e7069b5bb9dade3e",
                      date="2026-12-06 12:50 UTC", machine=MACHINE, versions={"torch": None}, note="84 min")
    new = make_record("gans", "Whole schedules", "cgan", {"FID": 0.91, "conditional accuracy": 0.908},
                      command="python scripts/evaluate_gans.py --variants cgan", commit="abcdef0123456789",
                      date="2026-12-07 09:00 UTC", machine={**MACHINE, "gpus": ["NVIDIA H200"]}, versions={})
    fewshot = make_record("fewshot", "Episodes", "2-way", {"1-shot accuracy %": 84.4}, command="python x.py",
                          commit="", date="2026-11-28 16:35 UTC", machine=MACHINE, versions={})
    return [old, new, fewshot]


def test_a_record_holds_every_field_and_reads_back(tmp_path):
    record = make_record("classifiers", "A table", "a row", {"test accuracy": 0.93}, command="lightning-dl fit",
                         settings={"epochs": 2})
    assert set(REQUIRED_FIELDS) <= set(record)
    assert record["commit"] and len(record["commit"].removesuffix("-dirty")) == 40  # this checkout's commit
    assert record["date"].endswith("UTC")
    assert {"cpu", "cpu_flags", "cpus", "threads", "gpus"} <= set(record["machine"])
    assert {"python", "torch", "pytorch-lightning", "lightning-dl"} <= set(record["versions"])
    assert record["versions"]["torch"]
    path = write_record(tmp_path / "results" / "classifiers.jsonl", record)
    write_record(path, record)
    assert read_records(tmp_path / "results") == [json.loads(json.dumps(record))] * 2


def test_records_without_numbers_or_fields_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="no metrics"):
        make_record("gans", "t", "r", {}, command="x")
    with pytest.raises(ConfigurationError, match="commit"):
        write_record(tmp_path / "r.jsonl", {k: 1 for k in REQUIRED_FIELDS if k != "commit"})
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(ConfigurationError, match="bad.jsonl:1"):
        read_records(tmp_path / "bad.jsonl")


def test_cpu_info_reads_the_model_and_the_flags_that_decide_precision(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"
                       "flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_tile\n")
    assert cpu_info(cpuinfo) == {"cpu": "AMD EPYC 9R14 96-Core Processor",
                                 "cpu_flags": ["avx2", "avx512f", "avx512_bf16", "amx_tile"]}


def test_the_table_generator_makes_one_page_per_family_from_the_records():
    pages = load_script("results_tables").render(tiny_records())
    assert set(pages) == {"gans.md", "fewshot.md", "index.md"}
    gans = pages["gans.md"]
    assert "## Whole schedules" in gans
    assert "| | FID | smallest class | conditional accuracy | measured |" in gans  # columns in order of first use
    assert "| dcgan | 2.02 | Bag | – | 2026-12-06, `e0e7069` [1] |" in gans  # the stale row shows commit and date
    assert "| cgan | 0.91 | – | 0.908 | 2026-12-07, `abcdef0` [2] |" in gans
    assert "1. `python scripts/evaluate_gans.py --variants dcgan` — AMD EPYC 9R14 (avx2, avx512_bf16), 1 thread" in gans
    assert "2. `python scripts/evaluate_gans.py --variants cgan` — AMD EPYC 9R14 (avx2, avx512_bf16), 1 thread; " \
           "NVIDIA H200" in gans
    assert "- **dcgan**: 84 min" in gans
    assert "`unknown` [1]" in pages["fewshot.md"]
    assert "[GANs](gans.md): 2 records" in pages["index.md"]


def test_the_check_mode_finds_a_page_out_of_step_with_its_records(tmp_path):
    tables = load_script("results_tables")
    results, output = tmp_path / "results", tmp_path / "pages"
    for record in tiny_records():
        write_record(results / f"{record['family']}.jsonl", record)
    assert tables.main(["--results", str(results), "--output", str(output)]) == 0
    assert tables.main(["--results", str(results), "--output", str(output), "--check"]) == 0
    record = tiny_records()[0] | {"metrics": {"FID": 1.5}}
    write_record(results / "gans.jsonl", record)
    assert tables.main(["--results", str(results), "--output", str(output), "--check"]) == 1


def test_the_committed_results_pages_are_what_the_records_give():
    assert load_script("results_tables").main(["--check"]) == 0


def test_every_committed_record_has_a_command_a_commit_and_a_date():
    records = read_records(REPO / "results")
    assert records
    for record in records:
        assert record["command"] and record["commit"] and record["date"] and record["metrics"], record["row"]


def test_evaluate_gans_records_one_row_per_result():
    evaluate_gans = load_script("evaluate_gans")
    args = evaluate_gans.parse_args(["--batches", "2", "--samples", "40", "--record"])
    assert str(args.record) == "results/gans.jsonl"
    results = [evaluate_gans.Result("real", "–", 0, 0, 0.0, fid=0.1, min_class_share=0.09),
               evaluate_gans.Result("dcgan", "2 batches", 2, 2, 30.0, fid=5.0, min_class_share=0.05, note="n")]
    rows = evaluate_gans.records(results, args, {"test_accuracy": 0.9}, ["--batches", "2", "--record"])
    assert [r["row"] for r in rows] == ["real", "dcgan"]
    assert rows[1]["metrics"] == {"FID ↓": 5.0, "min class share": 0.05, "conditional accuracy": None,
                                  "generator steps": 2, "discriminator steps": 2, "minutes": 0.5}
    assert rows[1]["command"] == "python scripts/evaluate_gans.py --batches 2 --record"
    assert rows[1]["note"] == "n" and rows[0]["table"] == rows[1]["table"]
    assert all(set(REQUIRED_FIELDS) <= set(r) for r in rows)


def test_benchmark_and_fewshot_records():
    benchmark = load_script("benchmark")
    results = {"settings": {"threads": 2, "limit_batches": None},
               "comparisons": [{"title": "training epoch", "median_s": {"lightning_dl": 40.5, "plain": 40.05},
                                "ratio": 1.0112, "goal": "<= 1.03", "met": True}],
               "ablation": [{"option": "the fast config", "wall_ms": 884.2, "cpu_ms": 441.0, "load_before": "1"}],
               "time_to_accuracy": [{"name": "fit", "command": "lightning-dl fit", "epochs": [{}] * 12,
                                     "reached": {"0.92": {"from_launch_s": 480.0}, "0.94": {"from_launch_s": 804.0},
                                                 "0.95": None}, "final_accuracy": 0.9411, "peak_rss": 2 ** 30}]}
    rows = benchmark.records(results, None, ["python", "scripts/benchmark.py"])
    assert [r["table"] for r in rows] == ["overhead and data pipeline", "ablation of the fast recipe",
                                          "time to accuracy"]
    assert rows[0]["metrics"]["ratio"] == 1.011 and rows[0]["metrics"]["met"] == "yes"
    assert rows[1]["metrics"] == {"ms per batch, wall": 884, "ms per batch, CPU": 441}
    assert rows[2]["metrics"] == {"to 0.92, min": 8.0, "to 0.94, min": 13.4, "to 0.95, min": "not reached",
                                  "final test accuracy": 0.9411, "epochs": 12, "peak RSS GiB": 1.0}
    fewshot = load_script("evaluate_fewshot")
    args = argparse.Namespace(dataset="digits", train_episodes=10, test_episodes=5, record_table=None, record=None)
    rows = fewshot.records([(2, 1, 0.844, 0.012), (2, 5, 0.939, 0.007), (4, 1, 0.651, 0.007)], args, 0.9, 3.0)
    assert [r["row"] for r in rows] == ["2-way", "4-way"]
    assert rows[0]["metrics"] == {"1-shot accuracy %": 84.4, "1-shot 95 % CI": 1.2, "5-shot accuracy %": 93.9,
                                  "5-shot 95 % CI": 0.7}
