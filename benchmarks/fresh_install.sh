#!/usr/bin/env bash
# The README's set-up timings: a fresh venv, `pip install .`, then the main job and the quick
# tour's compare with a cold numba cache and warm, each with the load average beside it.
# Usage: bash benchmarks/fresh_install.sh   (from the checkout; writes only to a temp dir)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
export DYSONSGD_CACHE_DIR="$work/cache"  # a cold cache, whatever this machine compiled before
load() { cut -d' ' -f1-3 /proc/loadavg; }
timed() {  # timed LABEL CMD...: wall seconds of CMD and the load average after it
    local s e
    s=$(date +%s.%N); "${@:2}" > /dev/null; e=$(date +%s.%N)
    printf '%-28s %6.1f s   load average %s\n' "$1" "$(echo "$e - $s" | bc)" "$(load)"
}
cd "$src"
echo "load average before: $(load) on $(nproc) cores"
timed "pip install ." pip install -q .
cd "$work"
timed "main job (cold)" dysonsgd simulate --T 0.03 --sigma 0.125 --seeds 4 --plot flow.png
timed "main job (warm)" dysonsgd simulate --T 0.03 --sigma 0.125 --seeds 4 --plot flow.png
timed "quick-tour compare (cold)" dysonsgd compare --T 0.03125 --sigma 0.125 --epochs 4 --seeds 4 --plot compare.png
timed "quick-tour compare (warm)" dysonsgd compare --T 0.03125 --sigma 0.125 --epochs 4 --seeds 4 --plot compare.png
