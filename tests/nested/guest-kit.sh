#!/bin/bash
# guest-kit.sh --kiln KILN — the guest suite (tests/guest: the freestanding guest programs) run
# inside the nested rig's L1, on a hardware-style KVM instead of the development machines' PVM:
# every case must pass there too, except the ones marked PVM-only (run-guest --pvm-only), which
# skip with their reason. Uses the build directory KILN lives in (meson test --no-rebuild). A
# case that fails runs once more, alone (as linuxguest.Suite.scenario does: docs/testing.md);
# the kit fails if any case fails twice.
set -euo pipefail
[ "${1:-}" = --kiln ] && [ -n "${2:-}" ] || { echo "usage: guest-kit.sh --kiln KILN" >&2; exit 2; }
cd "$(dirname "$2")"
# Through a pipe: on L1's console (a tty) meson would draw its progress spinner.
# pipefail: a pipeline's status is meson's.
if meson test --no-rebuild --suite guest --num-processes 1 --print-errorlogs | cat; then
	exit 0
fi
# The failed cases' names. Read into a file first (not through <(...)), and tried twice: once, in
# a degraded L1, python3 itself failed to load (libm.so.6: Input/output error over 9p).
list=$(mktemp)
for _ in 1 2; do
	python3 -c '
import json
for l in open("meson-logs/testlog.json"):
    r = json.loads(l)
    if r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(r["name"].split(" / ", 1)[1])' >"$list" && break
	sleep 1
done
mapfile -t failed <"$list"
rm -f "$list"
[ ${#failed[@]} -gt 0 ] || exit 1
echo "RETRY ${failed[*]}: running them once more"
meson test --no-rebuild --num-processes 1 --print-errorlogs "${failed[@]}" | cat
