#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 20) from the seed corpus in tests/fuzz/corpus.
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS] [extra libFuzzer flags...]
# BUILD_DIR is a build configured with -DCMAKE_CXX_COMPILER=clang++ -DBLURMIX_FUZZ=ON. New inputs
# go to BUILD_DIR/fuzz/<target>/corpus (kept between runs, so longer runs build on shorter ones),
# crashes to BUILD_DIR/fuzz/<target>/crash-*; the exit status is non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${1:-build-asan}
seconds=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
status=0
for target in fuzz_load_image fuzz_cli; do
  work="$build_dir/fuzz/$target"
  mkdir -p "$work/corpus"
  start=$SECONDS
  # -close_fd_mask=3: the driver's messages for bad command lines would flood the log.
  if "$build_dir/bin/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/" "$@" \
       "$work/corpus" "tests/fuzz/corpus/$target" >"$work/log.txt" 2>&1; then
    echo "fuzz: $target: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$') runs in $((SECONDS - start)) s, no finding (log: $work/log.txt)"
  else
    echo "fuzz: $target: FINDING after $((SECONDS - start)) s; log $work/log.txt:" >&2
    tail -40 "$work/log.txt" >&2
    status=1
  fi
done
exit $status
