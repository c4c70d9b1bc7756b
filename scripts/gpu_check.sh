#!/usr/bin/env bash
# The GPU check, in one command, for the day a GPU machine is lent:
#
#   scripts/gpu_check.sh MODEL_DIR [REPORT]
#
# MODEL_DIR is a local VLM folder (e.g. olmOCR-7B-0725; nothing is downloaded). The script
#   1. checks for a GPU (nvidia-smi),
#   2. makes an environment with the GPU extra (`pip install -e '.[vllm,openai,test]'` into
#      .venv-gpu), unless $PYTHON already names one with vLLM, or vLLM cannot be installed here
#      (a machine with no route to a package index: it says so and skips what needs it),
#   3. runs the gpu-marked tests (tests/gpu) against MODEL_DIR,
#   4. runs `pagemill bench --only vlm --vlm-backend vllm --vlm-model MODEL_DIR`,
# and writes one report (default: gpu-check-report.md) with each step's status, time and output
# tail, the bench's JSON and the machine. Each step has its own time limit so the whole check
# ends within 10 minutes once the environment exists; a step that cannot run is reported as
# skipped with the reason, never silently. Exit 0 only when every step passed.
set -uo pipefail

MODEL_DIR=${1:?usage: scripts/gpu_check.sh MODEL_DIR [REPORT]}
REPORT=${2:-gpu-check-report.md}
cd "$(dirname "$0")/.."
VENV=${GPU_CHECK_VENV:-.venv-gpu}
INSTALL_TIMEOUT=${GPU_CHECK_INSTALL_TIMEOUT:-900}
TEST_TIMEOUT=${GPU_CHECK_TEST_TIMEOUT:-300}
BENCH_TIMEOUT=${GPU_CHECK_BENCH_TIMEOUT:-300}
BENCH_PAGES=${GPU_CHECK_PAGES:-48}
LOGS=$(mktemp -d)
declare -a SUMMARY=()
failed=0

record() {  # name status seconds log
    local name=$1 status=$2 seconds=$3 log=$4
    SUMMARY+=("| $name | $status | $seconds |")
    [[ $status == ok ]] || failed=1
    {
        echo "## $name: $status (${seconds} s)"
        if [[ -s $log && $status != skipped* ]]; then
            echo '```'
            tail -n 40 "$log"
            echo '```'
        fi
        echo
    } >>"$REPORT.steps"
    echo "gpu_check: $name: $status (${seconds} s)"
}

step() {  # name timeout command...
    local name=$1 limit=$2
    shift 2
    local log="$LOGS/$name.log" began status
    began=$(date +%s)
    if timeout "$limit" "$@" >"$log" 2>&1; then
        status=ok
    else
        local rc=$?
        status="failed (exit $rc)"
        [[ $rc -eq 124 ]] && status="failed (over its ${limit} s limit)"
    fi
    record "$name" "$status" $(($(date +%s) - began)) "$log"
}

skip() {  # name why
    local log="$LOGS/$1.log"
    echo "$2" >"$log"
    record "$1" "skipped: $2" 0 "$log"
}

: >"$REPORT.steps"
started=$(date +%s)

if [[ ! -d $MODEL_DIR ]]; then
    skip "model" "no folder $MODEL_DIR (download the model first; nothing is fetched here)"
fi
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$LOGS/gpu.log" 2>&1; then
    record "gpu" ok 0 "$LOGS/gpu.log"
    HAVE_GPU=1
else
    skip "gpu" "nvidia-smi finds no GPU: the gpu tests and the vLLM bench cannot run"
    HAVE_GPU=0
fi

PYTHON=${PYTHON:-}
if [[ -n $PYTHON ]] && "$PYTHON" -c "import vllm" 2>/dev/null; then
    record "environment" ok 0 /dev/null
elif [[ $HAVE_GPU == 1 ]]; then
    PYTHON="$VENV/bin/python"
    [[ -x $PYTHON ]] || python3.11 -m venv "$VENV" || python3 -m venv "$VENV"
    step "environment" "$INSTALL_TIMEOUT" "$VENV/bin/pip" install --quiet -e '.[vllm,openai,test]'
    "$PYTHON" -c "import vllm" 2>/dev/null || PYTHON=""
else
    skip "environment" "no GPU, so the GPU extra was not installed"
    PYTHON=""
fi

if [[ $HAVE_GPU == 1 && -n $PYTHON && -d $MODEL_DIR ]]; then
    step "gpu-tests" "$TEST_TIMEOUT" env PAGEMILL_VLLM_MODEL="$MODEL_DIR" \
        "$PYTHON" -m pytest -q -m gpu tests/gpu -p no:cacheprovider
    rm -f bench-gpu/results.json
    step "bench-vlm" "$BENCH_TIMEOUT" "$PYTHON" -m pipelines.cli bench --only vlm \
        --vlm-backend vllm --vlm-model "$MODEL_DIR" --vlm-pages "$BENCH_PAGES" \
        --work-dir bench-gpu
else
    skip "gpu-tests" "needs a GPU, an environment with vLLM and the model folder"
    skip "bench-vlm" "needs a GPU, an environment with vLLM and the model folder"
fi

gpu_name=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | paste -sd';')
{
    echo "# pagemill GPU check"
    echo
    echo "- when: $(date -u +%FT%TZ), $(($(date +%s) - started)) s in all"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- model: $MODEL_DIR"
    echo "- GPU: ${gpu_name:-none}"
    echo "- python: ${PYTHON:-none}"
    echo
    echo "| step | status | seconds |"
    echo "|---|---|---|"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    cat "$REPORT.steps"
    if [[ -f bench-gpu/results.json ]]; then
        echo "## bench results (bench-gpu/results.json)"
        echo '```json'
        cat bench-gpu/results.json
        echo '```'
    fi
} >"$REPORT"
rm -f "$REPORT.steps"
rm -rf "$LOGS"
echo "gpu_check: report in $REPORT"
exit "$failed"
