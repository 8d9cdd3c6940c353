#!/bin/bash
# guest-kit.sh --kiln KILN — the guest suite (tests/guest: the freestanding guest programs) run
# inside the nested rig's L1, on a hardware-style KVM instead of the development machines' PVM:
# every case must pass there too, except the ones marked PVM-only (run-guest --pvm-only), which
# skip with their reason. Uses the build directory KILN lives in (meson test --no-rebuild).
set -euo pipefail
[ "${1:-}" = --kiln ] && [ -n "${2:-}" ] || { echo "usage: guest-kit.sh --kiln KILN" >&2; exit 2; }
cd "$(dirname "$2")"
# Through a pipe: on L1's console (a tty) meson would draw its progress spinner.
meson test --no-rebuild --suite guest --num-processes 1 --print-errorlogs | cat
