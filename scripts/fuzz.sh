#!/usr/bin/env bash
# Coverage-guided fuzzing of the extension's parsers with libFuzzer.
#
#   scripts/fuzz.sh                      build both fuzzers, run each 30 s
#   FUZZ_SECONDS=300 scripts/fuzz.sh     run each target longer
#   FUZZ_TARGETS=cron scripts/fuzz.sh    run one target (json, cron)
#   FUZZ_OPTIONAL=1 scripts/fuzz.sh      exit 0 (with a notice) when clang
#                                        with libFuzzer is not installed
#
# Targets: fuzz/fuzz_json.c (native/json.c) and fuzz/fuzz_cron.c
# (native/cron.c). Each binary holds only json.c, cron.c and fuzz/api_shim.c,
# which stands in for the SQLite host. Everything is written under
# build/fuzz/: binaries, a working copy of the corpus (the committed
# fuzz/corpus/ is only read), logs, and crashing inputs in build/fuzz/crashes/.
# Files in fuzz/regressions/<target>/ are replayed before fuzzing starts.
#
# Exit status: 0 when every target ran without a crash, leak, timeout or
# out-of-memory; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

CC_FUZZ="${CC_FUZZ:-clang}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
TARGETS="${FUZZ_TARGETS:-json cron}"
OUT=build/fuzz
SQLITE_INC=node_modules/better-sqlite3/deps/sqlite3

skip() {
  if [ "${FUZZ_OPTIONAL:-0}" = 1 ]; then
    echo "fuzz: SKIPPED: $1 (FUZZ_OPTIONAL=1)"
    exit 0
  fi
  echo "fuzz: FAILED: $1 (set FUZZ_OPTIONAL=1 to skip instead)" >&2
  exit 1
}

case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a whole number, got '$SECONDS_PER_TARGET'" >&2; exit 1 ;;
esac

command -v "$CC_FUZZ" >/dev/null 2>&1 ||
  skip "'$CC_FUZZ' not found; install clang (Debian: apt-get install clang)"
[ -f "$SQLITE_INC/sqlite3ext.h" ] ||
  skip "$SQLITE_INC/sqlite3ext.h missing; run npm install first"

mkdir -p "$OUT/crashes"

# Does this clang link libFuzzer with the sanitizers we use?
probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
  >"$probe_dir/probe.c"
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" \
  >"$probe_dir/probe.log" 2>&1; then
  skip "'$CC_FUZZ' cannot link -fsanitize=fuzzer ($(head -n 1 "$probe_dir/probe.log")); install clang with its compiler-rt (Debian: clang, libclang-rt-NN-dev)"
fi

CFLAGS=(
  -std=c11 -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Wall -Wextra -Werror
  -I "$SQLITE_INC" -I native
)

failed=0
for t in $TARGETS; do
  src="fuzz/fuzz_$t.c"
  [ -f "$src" ] || { echo "fuzz: unknown target '$t' (no $src)" >&2; exit 1; }
  bin="$OUT/fuzz_$t"
  log="$OUT/fuzz_$t.log"
  echo "fuzz: building $bin"
  "$CC_FUZZ" "${CFLAGS[@]}" "$src" native/json.c native/cron.c fuzz/api_shim.c -lm -o "$bin"

  opts=(-rss_limit_mb=2048 -timeout=5 "-artifact_prefix=$OUT/crashes/$t-" -print_final_stats=1)
  [ -f "fuzz/$t.dict" ] && opts+=("-dict=fuzz/$t.dict")

  # Known past crashes first: each file runs once.
  shopt -s nullglob
  regressions=(fuzz/regressions/"$t"/*)
  shopt -u nullglob
  if [ "${#regressions[@]}" -gt 0 ]; then
    if ! "$bin" "${opts[@]}" "${regressions[@]}" >"$OUT/fuzz_$t.regressions.log" 2>&1; then
      echo "fuzz: $t: a regression input fails again; see $OUT/fuzz_$t.regressions.log"
      tail -n 30 "$OUT/fuzz_$t.regressions.log" >&2
      failed=1
      continue
    fi
  fi

  # A fresh working corpus: seeds plus regressions; the fuzzer adds to it.
  work="$OUT/corpus/$t"
  rm -rf "$work"
  mkdir -p "$work"
  cp fuzz/corpus/"$t"/* "$work"/
  [ "${#regressions[@]}" -gt 0 ] && cp "${regressions[@]}" "$work"/

  status=0
  "$bin" "${opts[@]}" "-max_total_time=$SECONDS_PER_TARGET" "$work" >"$log" 2>&1 || status=$?

  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
  if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: ' "$log"; then
    echo "fuzz: $t: FAILED (exit $status) after ${runs:-?} runs; log $log; inputs in $OUT/crashes/"
    grep -E 'invariant failed|ERROR:|SUMMARY:|Test unit written' "$log" | head -n 10 >&2 || true
    failed=1
  else
    echo "fuzz: $t: ok, ${runs:-?} runs in ${SECONDS_PER_TARGET}s, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?} inputs"
  fi
done

exit "$failed"
