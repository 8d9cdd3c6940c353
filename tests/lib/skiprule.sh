# skiprule.sh — the one skip rule, for shell tests (source it; see skiprule.py): a test that
# cannot run here exits 77 (skip) with "SKIP: <reason>", or under CI=true 1 with a FAIL line.

# cannot_run REASON — print the one line and exit: 77, or 1 under CI=true.
cannot_run() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1 (CI=true: a test that cannot run fails)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}
