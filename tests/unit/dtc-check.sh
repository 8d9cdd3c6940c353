#!/bin/sh
# dtc-check.sh TEST_ARM64_FDT — have the unit test write the arm64 board's device tree, then
# decompile it with dtc (device-tree-compiler), which must accept it without a warning, and check
# the nodes Linux needs are in its output.
set -eu
dtb=$(mktemp); dts=$(mktemp)
trap 'rm -f "$dtb" "$dts"' EXIT
KILN_FDT_OUT=$dtb "$1" >/dev/null
command -v dtc >/dev/null || { echo "dtc-check: dtc is not installed (scripts/install-deps)"; exit 1; }
dtc -I dtb -O dts -o "$dts" "$dtb" 2>"$dts.err" || { cat "$dts.err"; rm -f "$dts.err"; exit 1; }
if [ -s "$dts.err" ]; then cat "$dts.err"; rm -f "$dts.err"; exit 1; fi
rm -f "$dts.err"
for want in 'compatible = "arm,gic-v3";' 'compatible = "arm,armv8-timer";' \
	'method = "hvc";' 'compatible = "ns16550a";' 'compatible = "virtio,mmio";' \
	'stdout-path = "/uart@9000000";' 'socket1 {' 'bootargs = ' \
	'compatible = "arm,gic-v3-its";' 'compatible = "pci-host-ecam-generic";' 'msi-map = '; do
	grep -qF "$want" "$dts" || { echo "dtc-check: '$want' missing from:"; cat "$dts"; exit 1; }
done
echo "dtc-check: $(wc -l <"$dts") lines of DTS, every expected node present"
