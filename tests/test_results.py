"""Results as data: the record writer keeps every field, the scripts' --record rows are valid records, and the
table generator turns a tiny record set into the tables the docs show (a stale row with its commit and date)."""

from __future__ import annotations

import argparse
import json

import pytest

from conftest import REPO, load_script
from lightning_dl.errors import ConfigurationError
from lightning_dl.results import REQUIRED_FIELDS, cpu_info, make_record, read_records, write_record



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


def test_autoencoder_benchmark_records_one_row_per_variant_and_judged_set():
    """Each trained variant is a row of the first table (its budget in the note), each judged set of images a row
    of the second; fixed fields (a converted run's command, commit, date) are kept as given."""
    benchmark = load_script("benchmark_autoencoders")
    args = benchmark.parse_args(["--record"])
    assert str(args.record) == "results/autoencoders.jsonl"
    run = {"results": {"denoising": {"cpu_minutes_budget": 0.6, "batches": 214, "epochs": 0.51, "test/mse": 0.0289,
                                     "test/psnr": 15.39, "test/input_psnr": 5.8, "psnr_gain_over_input": 9.59,
                                     "cpu_seconds_training": 36.1, "pictures": ["a.png"]}},
           "judged": {"judge": "j.pt", "judge_test_accuracy": 0.8366, "judge_epochs": 1, "images": 500,
                      "VAE prior samples": {"fid": 63.9, "min_class_share": 0.0, "class_shares": [0.5, 0.0]}}}
    fixed = {"command": "python scripts/benchmark_autoencoders.py --threads 1", "commit": "cf2fb9e (dirty)",
             "date": "2026-12-07T03:25:29+00:00", "machine": MACHINE, "versions": {}}
    rows = benchmark.records(run, note="half an epoch", **fixed)
    assert [r["row"] for r in rows] == ["denoising (denoising.yaml), noisy input → clean", "VAE prior samples"]
    assert rows[0]["metrics"] == {"CPU-min budget": 0.6, "batches": 214, "epochs": 0.51, "test MSE": 0.0289,
                                  "test PSNR dB": 15.39, "input's PSNR dB": 5.8, "gain dB": 9.59}
    assert "0.6 CPU-minutes (0.51 epochs)" in rows[0]["note"] and rows[0]["note"].endswith("half an epoch")
    assert rows[1]["metrics"] == {"FID ↓": 63.9, "smallest class share": 0.0,
                                  "each class's share (T-shirt … Ankle boot)": "0.5, 0.0"}
    assert rows[0]["table"] != rows[1]["table"] and "0.837" in rows[1]["table"]
    assert all({k: r[k] for k in fixed} == fixed and r["family"] == "autoencoders" for r in rows)


def test_sequence_benchmark_records_one_row_per_forecast_model_and_setting():
    benchmark = load_script("benchmark_sequences")
    series = {"gru_sunspots": {"forecaster": {"mae": 11.9, "rmse": 16.3, "smape": 0.26, "mase": 0.56},
                               "baselines": {"naive": {"mae": 22.5, "rmse": 29.3, "smape": 0.47, "mase": 1.05}},
                               "best_baseline": "naive", "beats_every_baseline": True, "epochs_trained": 91,
                               "seconds": 151.6, "test_windows": 46, "horizon": 1}}
    rows = benchmark.records("series", series, {"cpu_seconds": 54.4}, note="budget", commit="aa75b43")
    assert [r["row"] for r in rows] == ["forecaster", "naive"]
    assert rows[0]["metrics"] == {"MAE": 11.9, "RMSE": 16.3, "sMAPE": 0.26, "MASE": 0.56}
    assert "91 epochs" in rows[0]["note"] and rows[0]["note"].endswith("budget") and "note" not in rows[1]
    assert rows[0]["commit"] == "aa75b43" and rows[0]["settings"]["section_run"] == {"cpu_seconds": 54.4}
    text = {"lstm_reviews": {"test_accuracy": 0.73, "epochs_trained": 6, "seconds": 182.5},
            "majority_class": {"test_accuracy": 0.578}, "split": {"train": 9221, "val": 1025, "test": 2562},
            "best_recurrent": {"config": "lstm_reviews"}}
    rows = benchmark.records("text", text, {})
    assert [r["row"] for r in rows] == ["majority class", "lstm_reviews.yaml"]
    assert rows[1]["metrics"] == {"test accuracy": 0.73, "epochs (early stopping)": 6, "seconds": 182.5}
    assert "9,221 train" in rows[0]["table"]
    speed = {"threads2_batch64_steps100_features50_units64": {"fused_ms": 539.9, "stepped_ms": 2234.7,
                                                              "stepped_over_fused": 4.14}}
    rows = benchmark.records("speed", speed, {})
    assert rows[0]["row"] == "2 threads, 64 × 100 × 50 → 64"
    assert rows[0]["metrics"] == {"fused ms": 539.9, "stepped ms": 2234.7, "stepped / fused": 4.14}


def test_convnet_benchmark_records_one_row_per_model_with_the_budget_that_stopped_it():
    benchmark = load_script("benchmark_convnets")
    assert str(benchmark.parse_args(["--record"]).record) == "results/convnets.jsonl"
    run = {"budget": {"epochs": 30, "minutes_per_model": 60.0, "limit_batches": None}, "machine": {"threads": 2},
           "models": {"resnet20_v1": {"config": {}, "parameters": 272474, "epochs_run": 12, "stopped_by": "time budget",
                                      "fit_and_test_seconds": 3600.2, "test_accuracy": 0.93}}}
    rows = benchmark.records(run, commit="abc")
    assert rows[0]["row"] == "resnet20_v1" and rows[0]["family"] == "convnets"
    assert rows[0]["metrics"] == {"parameters": 272474, "epochs budget": 30, "minutes budget": 60.0, "threads": 2,
                                  "epochs": 12, "fit + test s": 3600.2, "test accuracy": 0.93}
    assert rows[0]["note"] == "stopped by: time budget." and "the budget in its row" in rows[0]["table"]


def test_transfer_benchmark_records_one_row_per_task_and_method_and_the_base():
    benchmark = load_script("benchmark_transfer")
    setting = {**benchmark.SETTINGS["quick"]}
    summary = {"within_fashion_resnet": {
        "feature_extraction": {"mean": 0.698, "std": 0.0028, "min": 0.696, "max": 0.7, "seeds": 2},
        "scratch": {"mean": 0.894, "std": 0.0, "min": 0.894, "max": 0.894, "seeds": 1}},
        "faces_lite0": {"fine_tuning": {"mean": 0.98, "std": 0.0, "min": 0.98, "max": 0.98, "seeds": 2}}}
    run = {"setting": "quick", "settings": setting, "summary": summary,
           "base": {"network": "ResNet v1 depth 8", "epochs": 3, "test_accuracy": 0.76200002}}
    rows = benchmark.records(run, note="budget", commit="abc")
    assert [(r["family"], r["row"]) for r in rows] == [
        ("transfer", "feature_extraction"), ("transfer", "scratch"),
        ("transfer", "base: ResNet v1 depth 8 on classes 0–4 (its own test images)"), ("transfer", "fine_tuning")]
    assert rows[0]["metrics"] == {"test accuracy": 0.698, "std": 0.0028, "min": 0.696, "max": 0.7, "seeds": 2,
                                  "epochs": 30}
    assert rows[1]["metrics"]["epochs"] == 12 and rows[1]["note"] == "1 of the setting's 2 seeds finished. budget"
    assert rows[0]["note"] == "budget" and rows[0]["commit"] == "abc"
    assert rows[2]["metrics"] == {"test accuracy": 0.762, "seeds": 1, "epochs": 3}
    assert "classes 5–9" in rows[0]["table"] and "depth 8" in rows[0]["table"] and "quick setting" in rows[0]["table"]
    assert "lfw_subset" in rows[3]["table"] and "32×32" in rows[3]["table"]
    assert benchmark.records(run, "Table")[0]["table"].startswith("Table: Within a domain")


def test_the_transfer_claims_of_the_readme_and_docs_are_what_the_records_say():
    """Every method row has the medium setting's 3 seeds; across domains every transfer method beats scratch and
    within Fashion-MNIST scratch beats every one (the docs' two verdicts); the docs' table and the README quote the
    records' means."""
    records = read_records(REPO / "results" / "transfer.jsonl")
    by_task: dict[str, dict[str, dict]] = {}
    for record in records:
        assert record["command"].startswith("python scripts/benchmark_transfer.py --setting medium")
        if not record["row"].startswith("base"):
            assert record["metrics"]["seeds"] == 3, record["row"]
        task = "within" if "Within" in record["table"] else "faces" if "lfw_subset" in record["table"] else "fashion"
        by_task.setdefault(task, {})[record["row"]] = record["metrics"]
    docs = (REPO / "docs" / "transfer.md").read_text()
    transfer = ("feature_extraction", "frozen_base", "fine_tuning")
    for task in ("faces", "fashion"):
        rows = by_task[task]
        assert all(rows[method]["test accuracy"] > rows["scratch"]["test accuracy"] for method in transfer), task
    within = by_task["within"]
    assert all(within["scratch"]["test accuracy"] > within[method]["test accuracy"] for method in transfer)
    for task, rows in by_task.items():
        for method in (*transfer, "scratch"):
            assert f"{rows[method]['test accuracy']:.3f} ± {rows[method]['std']:.3f}" in docs, (task, method)
    faces = by_task["faces"]
    readme = (REPO / "README.md").read_text()
    assert (f"fine-tuned EfficientNet-Lite0: faces {faces['fine_tuning']['test accuracy']:.3f}, from scratch "
            f"{faces['scratch']['test accuracy']:.3f}") in readme


def family_rows(family: str) -> dict[str, dict]:
    """The committed records of one family by row name (the last record of a row wins)."""
    return {r["row"]: r for r in read_records(REPO / "results" / f"{family}.jsonl")}


def test_the_autoencoder_claims_of_the_readme_and_docs_are_what_the_records_say():
    """The README's and docs' autoencoder numbers are the records' (rounded as shown); colourisation and
    denoising beat their inputs, and the records come from one run of the benchmark with its budget."""
    rows = family_rows("autoencoders")
    assert {r["command"] for r in rows.values()} == {
        "python scripts/benchmark_autoencoders.py --threads 1 --budget-scale 3 --cnn-minutes 1.8 --dcgan-minutes 5 "
        "--judge runs/judge_ae/judge.pt --judge-epochs 3 --judge-batches 0 --output runs/bench/autoencoders.json "
        "--runs runs/bench/ae_runs"}
    readme = (REPO / "README.md").read_text()
    docs = (REPO / "docs" / "autoencoders.md").read_text()
    plain = rows["plain (autoencoder.yaml, latent 16)"]["metrics"]
    denoising = rows["denoising (denoising.yaml), noisy input → clean"]["metrics"]
    colour = rows["colourisation (colourisation.yaml), held-out photographs"]["metrics"]
    vae = rows["VAE (vae.yaml, latent 2), posterior mean decoded"]["metrics"]
    assert colour["test PSNR dB"] > colour["input's PSNR dB"] and denoising["gain dB"] > 0
    assert f"test PSNR {plain['test PSNR dB']:.1f} dB after {plain['epochs']} epochs" in readme
    gain = denoising["test PSNR dB"] - denoising["input's PSNR dB"]
    assert f"+{gain:.1f} dB over its noisy input after {denoising['epochs']} epochs" in readme
    assert f"colourisation +{colour['gain dB']:.1f} dB over grey in, grey out" in readme
    assert f"test ELBO −{-vae['test ELBO nats']:.1f} nats after {vae['epochs']} epochs" in readme
    grey = colour["input's PSNR dB"]
    assert f"**{colour['test PSNR dB']:.2f} dB against {grey:.2f} dB for \"grey in,\n  grey out\"**" in docs
    judged = {name: rows[name]["metrics"]["FID ↓"] for name in ("VAE prior samples", "DCGAN samples")}
    assert f"**FID {judged['VAE prior samples']:.1f}**" in docs and f"**FID {judged['DCGAN samples']:.1f}**" in docs


def test_the_sequence_records_keep_their_runs():
    """The sequence records converted from the benchmark's JSON files keep each run's command and say what
    budget the run had."""
    sequences = read_records(REPO / "results" / "sequences.jsonl")
    assert {r["command"] for r in sequences} == {"python scripts/benchmark_sequences.py --sections series --threads 1",
                                                 "python scripts/benchmark_sequences.py --sections text,speed --threads 1"}
    forecaster = next(r for r in sequences if r["row"] == "forecaster" and "sunspots" in r["table"])
    assert forecaster["metrics"]["MAE"] == 11.8755 and "early stopping" in forecaster["note"]


def test_the_convnet_claims_of_the_docs_are_what_the_records_say():
    """docs/convnets.md quotes each model's recorded accuracy and budget, and its verdicts (the ResNet goal
    missed, the Y-network behind the plain CNN) are what the records show."""
    rows = {name: record["metrics"] for name, record in family_rows("convnets").items()}
    docs = (REPO / "docs" / "convnets.md").read_text()
    resnet = rows["resnet20_v1"]
    assert (f"**ResNet20 v1: {resnet['test accuracy']:.4f}** after {resnet['epochs']} epochs in the "
            f"{resnet['minutes budget']:g}-minute budget") in docs
    assert resnet["test accuracy"] < 0.94 and "misses 0.94 by" in docs
    readme = (REPO / "README.md").read_text()
    assert f"ResNet20 v1: {resnet['test accuracy']:.4f} after {resnet['minutes budget']:g} minutes on 2 CPU cores" in readme
    assert f"**ResNet29 v2: {rows['resnet29_v2']['test accuracy']:.4f}**" in docs
    assert f"**DenseNet-BC-22 (k = 12, 72 k parameters): {rows['densenet_bc']['test accuracy']:.4f}**" in docs
    ynetwork, cnn = rows["ynetwork"], rows["cnn"]
    assert ynetwork["epochs"] == cnn["epochs"] and ynetwork["test accuracy"] < cnn["test accuracy"]
    assert f"Y-network **{ynetwork['test accuracy']:.4f}**" in docs and f"**{cnn['test accuracy']:.4f}**" in docs
    behind = 100 * (cnn["test accuracy"] - ynetwork["test accuracy"])
    assert f"Y-network is {behind:.1f} points behind" in docs
