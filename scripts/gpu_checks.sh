#!/usr/bin/env bash
# The GPU checks, as one command for a single lent GPU (an H200 here; CI never has one):
#   - the judge (scripts/train_judge.py: the fast recipe's net), trained first;
#   - every GAN variant judged after the same wall-clock budget (scripts/evaluate_gans.py --minutes),
#     StackedGAN with a shortened phase schedule so that its joint phase is reached;
#   - both fast Fashion-MNIST recipes through `lightning-dl fit`, test accuracy after every epoch;
#   - a fast_dev_run of every config on the GPU, and DCGAN in bf16-mixed.
# The jobs run side by side: the project's nets are small, so one job leaves the GPU mostly idle. Times are
# therefore contended and say nothing about one job alone; the accuracies and FIDs do not depend on them.
#
#   OUT=runs/gpu GAN_MINUTES=5 bash scripts/gpu_checks.sh
# GAN_BATCHES caps each variant at that many real batches (18750: a config's 20 epochs), GAN_MINUTES still the cap
# of time. The GAN goals' full-schedule run, judge kept (trained first where the file is missing: 1 minute), nothing else:
#   GAN_MINUTES=7.5 GAN_BATCHES=18750 VARIANTS="dcgan cgan lsgan wgan_gp infogan infogan_keras" JUDGE=runs/judge_gpu/judge.pt \
#   FAST_CONFIGS= SMOKE= bash scripts/gpu_checks.sh
# DCGAN_ARGS: extra CLI arguments for DCGAN alone, e.g. the Keras reference's optimiser instead of the config's
# Adam: "--config configs/optimizers/keras_reference.yaml". Every variant whose config keeps a generator average is
# judged with and without it.
# A dry run on a CPU: GPU="--trainer.accelerator cpu" GAN_MINUTES=0.1 FAST_ARGS="--trainer.max_epochs 1
# --trainer.limit_train_batches 2" JUDGE_ARGS="$FAST_ARGS" SMOKE=configs/gans/dcgan.yaml VARIANTS=cgan
# SAMPLES=500 CURVE_SAMPLES=200 bash scripts/gpu_checks.sh
# Results: $OUT/results.tgz (JSON results, per-epoch records, logs) and a summary on stdout.
set -u
OUT=${OUT:-runs/gpu}; GAN_MINUTES=${GAN_MINUTES:-5}; JUDGE_ARGS=${JUDGE_ARGS:-}
GPU=${GPU:-"--trainer.accelerator gpu --trainer.devices 1"}; FAST_ARGS=${FAST_ARGS:-}
SMOKE=${SMOKE-$(ls configs/*/*.yaml | grep -v -e configs/trainer -e configs/logger -e configs/workflow -e configs/optimizers)}
FAST_CONFIGS=${FAST_CONFIGS-fast_fashion_mnist fast_fashion_mnist_095}; JUDGE=${JUDGE:-}  # a judge file: not retrained
WORK=/tmp/gpu_checks; LOGS=$WORK/logs; RESULTS=$WORK/results
rm -rf "$WORK"; mkdir -p "$LOGS" "$RESULTS" "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then  # packages the device image lacks, carried as wheels
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD:$PWD/scripts:${PYTHONPATH:-} PYTHONUNBUFFERED=1 NO_ALBUMENTATIONS_UPDATE=1 WANDB_MODE=disabled
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, pytorch_lightning as pl, jsonargparse; print('torch', torch.__version__, 'lightning', pl.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi dmon -s u -d 10 > "$LOGS/dmon.txt" 2>&1 &
DMON=$!; PIDS=()
LIMIT=$(python3 -c "print(int(60 * $GAN_MINUTES) + 120)")  # seconds a job may run past its training budget
START=$(date +%s)
LIGHTNING_DL="python3 -c 'import sys; sys.argv[0] = \"lightning-dl\"; from lightning_dl.__main__ import main; main()'"

# 1. The fast recipes, test accuracy after every epoch (benchmark.TestAccuracyTimer).
for config in $FAST_CONFIGS; do
    printf 'trainer:\n  callbacks:\n    - class_path: benchmark.TestAccuracyTimer\n      init_args: {path: %s}\n' \
        "$RESULTS/$config.jsonl" > "$WORK/${config}_timer.yaml"
    date +%s.%N > "$RESULTS/$config.launch"
    timeout $LIMIT bash -c "$LIGHTNING_DL fit --config configs/classifiers/$config.yaml \
        --config $WORK/${config}_timer.yaml $GPU --trainer.logger false --trainer.enable_progress_bar false \
        --trainer.default_root_dir $WORK/$config $FAST_ARGS" > "$LOGS/$config.log" 2>&1 &
    PIDS+=($!)
done

# 2. Every config for two batches on the GPU (k-fold's config runs through `lightning-dl kfold` in the tests).
smoke() {
    local config=$1 name; name=$(echo "$config" | tr '/' '_')
    if bash -c "$LIGHTNING_DL fit --config $config $GPU --trainer.fast_dev_run 2 --trainer.logger false \
            --trainer.default_root_dir $WORK/smoke/$name ${2:-}" > "$LOGS/smoke_$name${3:-}.log" 2>&1; then
        echo "PASS $config ${2:-}"; else echo "FAIL $config ${2:-} (log: smoke_$name${3:-}.log)"; fi
}
(
    for config in $SMOKE; do
        smoke "$config"
    done
    [ -n "$SMOKE" ] && smoke configs/gans/dcgan.yaml "--trainer.precision bf16-mixed" _bf16
) > "$RESULTS/smoke.txt" 2>&1 &
PIDS+=($!)

# The judge, in the foreground: the GAN jobs need it.
mkdir -p "$RESULTS/judge"
if [ -n "$JUDGE" ] && [ -f "$JUDGE" ]; then
    cp "$JUDGE" "$RESULTS/judge/judge.pt"
else
    [ -n "$JUDGE" ] && echo "no judge at $JUDGE (a fresh checkout has none): training one"
    timeout 300 python3 scripts/train_judge.py --threads 4 --cli-args "$GPU $JUDGE_ARGS" \
        --output "$RESULTS/judge/judge.pt" > "$LOGS/judge.log" 2>&1
    tail -n 1 "$LOGS/judge.log"
    if [ ! -f "$RESULTS/judge/judge.pt" ] && [ -f runs/judge/judge.pt ]; then  # keep the GAN table: an older judge
        echo "judge training failed (log: judge.log); judging with runs/judge/judge.pt"
        cp runs/judge/judge.pt "$RESULTS/judge/judge.pt"
    fi
    echo "judge trained after $(( $(date +%s) - START )) s"
fi

# 3. The GAN family, one process per variant, once the judge is trained.
for variant in ${VARIANTS:-dcgan cgan acgan wgan_gp lsgan wgan infogan infogan_keras stackedgan cyclegan}; do
    extra=""
    [ "$variant" = stackedgan ] && extra="--model.init_args.independent_epochs ${STACKED_INDEPENDENT_EPOCHS:-3}"
    [ "$variant" = dcgan ] && extra="${DCGAN_ARGS:-}"  # e.g. the reference's RMSprop instead of Adam
    timeout $((LIMIT + 60)) python3 scripts/evaluate_gans.py --variants "$variant" --minutes "$GAN_MINUTES" \
        ${GAN_BATCHES:+--batches $GAN_BATCHES} --samples ${SAMPLES:-5000} --curve-samples ${CURVE_SAMPLES:-1000} \
        --threads 2 --curve-every 2000 --judge "$RESULTS/judge/judge.pt" --cli-args "$GPU $extra" --cyclegan-args "$GPU" \
        --output "$RESULTS/gan_$variant.json" > "$LOGS/gan_$variant.log" 2>&1 &
    PIDS+=($!)
done

wait "${PIDS[@]}"
kill $DMON 2>/dev/null
echo "all jobs done after $(( $(date +%s) - START )) s"

# The summary: smoke results, the fast recipes' accuracy by epoch, the GAN table.
cat "$RESULTS/smoke.txt"
python3 - "$RESULTS" <<'EOF'
import json, sys
from pathlib import Path
from benchmark import crossing_times  # evaluation time taken out, as in the CPU benchmark
results = Path(sys.argv[1])
for config in ("fast_fashion_mnist", "fast_fashion_mnist_095"):
    path = results / f"{config}.jsonl"
    if not path.exists():
        print(f"{config}: no records"); continue
    records = [json.loads(line) for line in path.read_text().splitlines()]
    run = crossing_times(records, launch=float((results / f"{config}.launch").read_text()))
    print(f"{config}: start-up {run['start_up_s']:.0f} s")
    for e in run["epochs"]:
        print(f"  epoch {e['epoch']}: {e['accuracy']:.4f} (no TTA {e['accuracy_without_tta']:.4f}) "
              f"at {e['from_launch_s']:.0f} s from launch")
rows = []
for path in sorted(results.glob("gan_*.json")):
    table = json.loads(path.read_text())["table"].splitlines()
    rows += table if not rows else [row for row in table[2:] if not row.startswith("| real images")]
print("\n".join(rows))
EOF
grep -l "Traceback" "$LOGS"/*.log | while read -r log; do echo "== $log"; tail -n 6 "$log"; done
tar czf "$OUT/results.tgz" --exclude='*.ckpt' -C "$WORK" logs results
