#!/usr/bin/env bash
# usage: tests/fuzz/run.sh SECONDS [NAME...]
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_<name>.c) with clang, ASan and UBSan in build-fuzz (or
# $BYZGRID_FUZZ_BUILD), then runs each named harness (default: all) for SECONDS over a temporary COPY of its seed
# corpus tests/fuzz/corpus/<name>/ (the repository is never written), FUZZ_JOBS (default 2) harnesses at a time.
# Fails on any crash, leak, timeout (-timeout=10) or memory blow-up (-rss_limit_mb=2048); the failing input and
# the log are kept in a folder it names. Prints each harness's executions (libFuzzer's final stats) and the total.
set -euo pipefail
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  echo "usage: tests/fuzz/run.sh SECONDS [NAME...]  (NAME: fuzz_NAME.c in tests/fuzz)" >&2
  exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BYZGRID_FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-2}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.c; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .c)
    names+=("${n#fuzz_}")
  done
fi
if [ ${#names[@]} -eq 0 ]; then
  echo "fuzz: no harness in $here" >&2
  exit 1
fi
for n in "${names[@]}"; do
  if [ ! -f "$here/fuzz_$n.c" ]; then
    echo "fuzz: no harness tests/fuzz/fuzz_$n.c" >&2
    exit 2
  fi
done

echo "fuzz: building ${names[*]} in $build"
CC=${CC:-clang}
CXX=${CXX:-clang++}
CC=$CC CXX=$CXX cmake -S "$root" -B "$build" -DBYZGRID_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for n in "${names[@]}"; do targets+=(--target "fuzz_$n"); done
cmake --build "$build" -j2 "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
  tail -n 30 "$build/fuzz-build.log" >&2
  echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/byzgrid-fuzz.XXXXXX")
run_one() {
  local n=$1 d="$work/$1"
  mkdir -p "$d/corpus" "$d/artifacts"
  if [ -d "$here/corpus/$n" ]; then cp -R "$here/corpus/$n/." "$d/corpus/"; fi
  local bin="$build/tests/fuzz/fuzz_$n"
  local rc=0
  (cd "$d" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$d/artifacts/" "$d/corpus" >"$d/log" 2>&1) || rc=$?
  echo "$rc" >"$d/rc"
}

# Up to $jobs harnesses side by side.
running=0
for n in "${names[@]}"; do
  run_one "$n" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

fail=0
total=0
printf '%-20s %14s  %s\n' harness executions result
for n in "${names[@]}"; do
  d="$work/$n"
  rc=$(cat "$d/rc" 2>/dev/null || echo 99)
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$d/log" | tail -n 1)
  execs=${execs:-0}
  total=$((total + execs))
  if [ "$rc" = 0 ]; then
    printf '%-20s %14s  ok\n' "$n" "$execs"
  else
    printf '%-20s %14s  FAILED (exit %s)\n' "$n" "$execs" "$rc"
    grep -m 3 -E 'ERROR: |runtime error|Test unit written' "$d/log" | sed 's/^/    /' || true
    fail=1
  fi
done
printf '%-20s %14s\n' total "$total"
if [ "$fail" = 1 ]; then
  echo "fuzz: FAILED; logs and failing inputs kept in $work" >&2
  exit 1
fi
rm -rf "$work"
