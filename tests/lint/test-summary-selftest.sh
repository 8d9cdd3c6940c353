#!/usr/bin/env bash
# test-summary-selftest.sh SUMMARY — scripts/test-summary on fabricated meson test logs: a skip
# is counted apart from passes and failures, the "tests:" line comes last, and the exit status is
# 0 with only skips, 1 with a skip under CI=true, 1 with a failure, 1 without a log.
set -uo pipefail
summary=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

# log BUILD RESULT... — a testlog.json with one test per RESULT.
log() {
	local b=$tmp/$1 i=0
	shift
	mkdir -p "$b/meson-logs"
	for r in "$@"; do
		i=$((i + 1))
		echo "{\"name\": \"kiln:unit / t$i\", \"result\": \"$r\", \"duration\": 0.5}"
	done >"$b/meson-logs/testlog.json"
}

# expect NAME STATUS LAST-LINE ENV... -- BUILD... — run the summary, check its status and last line.
expect() {
	local name=$1 want=$2 last=$3 out rc env=()
	shift 3
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	out=$(env -u CI "${env[@]}" "$summary" "${@/#/$tmp/}" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ] || [ "$(tail -n 1 <<<"$out")" != "$last" ]; then
		echo "FAIL $name: status $rc (want $want), output:"
		echo "$out"
		bad=1
	else
		echo "ok $name"
	fi
}

log pass OK OK EXPECTEDFAIL
log skip OK SKIP
log fail OK FAIL TIMEOUT SKIP
expect all-passed 0 "tests: 3 passed, 0 failed, 0 skipped" -- pass
expect skip-not-pass 0 "tests: 4 passed, 0 failed, 1 skipped" -- pass skip
expect skip-fails-in-ci 1 "tests: 1 passed, 0 failed, 1 skipped" CI=true -- skip
expect ci-false-is-not-ci 0 "tests: 1 passed, 0 failed, 1 skipped" CI=false -- skip
expect failures 1 "tests: 2 passed, 2 failed, 2 skipped" -- skip fail
expect no-log 1 "tests: 3 passed, 1 failed, 0 skipped" -- pass missing
out=$(env -u CI "$summary" "$tmp/skip" 2>&1)
grep -qx "skipped: $tmp/skip: kiln:unit / t2" <<<"$out" || { echo "FAIL: skipped test not listed"; bad=1; }
exit $bad
