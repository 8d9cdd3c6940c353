#!/usr/bin/env bash
# run-fuzz.sh TARGET CORPUS_DIR SECONDS [SEED_DIR [KEPT_DIR]] — run one libFuzzer target for
# SECONDS (KILN_FUZZ_SECONDS overrides), growing CORPUS_DIR from SEED_DIR and the campaign's kept
# corpus KEPT_DIR (tests/fuzz/corpus/<target>, read only here: scripts/fuzz-long grows it);
# crashes go to CORPUS_DIR/../crashes.
set -euo pipefail
target=$1 corpus=$2 seconds=${KILN_FUZZ_SECONDS:-$3} seeds=${4:-} kept=${5:-}
name=$(basename "$target")
crashes="$(dirname "$corpus")/crashes"
mkdir -p "$corpus" "$crashes"
dirs=("$corpus")
[ -n "$seeds" ] && [ -d "$seeds" ] && dirs+=("$seeds")
[ -n "$kept" ] && [ -d "$kept" ] && dirs+=("$kept")
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$crashes/$name-" "${dirs[@]}"
