#!/usr/bin/env bash
# check-format.sh SRCDIR — every tracked C file is formatted as .clang-format says.
set -euo pipefail
# shellcheck source=../lib/skiprule.sh
. "$(dirname "$0")/../lib/skiprule.sh"
cd "$1"
command -v clang-format >/dev/null || cannot_run "clang-format not installed"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]')
bad=0
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: make format)"
		bad=1
	fi
done
exit $bad
