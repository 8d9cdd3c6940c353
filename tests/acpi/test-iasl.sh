#!/usr/bin/env bash
# test-iasl.sh ACPI_DUMP — kiln's ACPI tables, for several configurations, checked by ACPICA's
# iasl (Debian's acpica-tools): every checksum right; XSDT, FADT, MADT and DSDT disassemble with
# no error or warning and recompile (no error, warning or remark) to the same bytes, header
# checksum and compiler fields aside; the RSDP, which iasl cannot load from a file, is compiled
# from its fields and must come out byte for byte as kiln wrote it (iasl computes both checksums).
set -uo pipefail
dump=$1

# shellcheck source=../lib/skiprule.sh
. "$(dirname "$0")/../lib/skiprule.sh"
command -v iasl >/dev/null ||
	cannot_run "iasl not installed (scripts/install-deps installs acpica-tools)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
	echo "FAIL [$cfg] $*"
	failures=$((failures + 1))
}

hex() { od -An -v -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }

# Little-endian field of file $1 at offset $2, $3 bytes, as big-endian hex digits.
le() {
	local h r="" i
	h=$(hex "$1" "$2" "$3")
	for ((i = ${#h} - 2; i >= 0; i -= 2)); do r+=${h:i:2}; done
	echo "$r"
}

sum8() { od -An -v -tu1 "$1" | tr -s ' ' '\n' | awk '{ s += $1 } END { print s % 256 }'; }

# iasl's log and output must not mention a problem.
clean() {
	! grep -iE 'warning|error|invalid|unknown|\*\*\*\*' "$@" | grep -vE '0 Errors, 0 Warnings'
}

# Bytes of $1 without the checksum (9) and the creator ID and revision (28-35).
stable_bytes() { { head -c 9 "$1"; tail -c +11 "$1" | head -c 18; tail -c +37 "$1"; } | od -An -v -tx1; }

check_table() {
	local dir=$1 t=$2
	[ -s "$dir/$t.dat" ] || { fail "$t: not dumped"; return; }
	[ "$(sum8 "$dir/$t.dat")" = 0 ] || fail "$t: checksum"
	(cd "$dir" && iasl -d "$t.dat") >"$dir/$t.dis.log" 2>&1 || fail "$t: iasl -d failed"
	clean "$dir/$t.dis.log" "$dir/$t.dsl" || fail "$t: iasl -d reported a problem"
	(cd "$dir" && iasl -p "rt-$t" "$t.dsl") >"$dir/$t.asl.log" 2>&1 || fail "$t: recompile failed"
	grep -q '0 Errors, 0 Warnings, 0 Remarks' "$dir/$t.asl.log" ||
		fail "$t: recompile: $(grep -i 'compilation' "$dir/$t.asl.log")"
	clean "$dir/$t.asl.log" || fail "$t: recompile reported a problem"
	[ "$(stable_bytes "$dir/$t.dat")" = "$(stable_bytes "$dir/rt-$t.aml")" ] ||
		fail "$t: recompiled bytes differ"
}

check_rsdp() {
	local dir=$1 r=$1/rsdp.dat
	[ "$(wc -c <"$r")" = 36 ] || { fail "rsdp: not 36 bytes"; return; }
	cat >"$dir/rsdp.asl" <<-EOF
		[0008]                          Signature : "RSD PTR "
		[0001]                           Checksum : 00
		[0006]                             Oem ID : "$(dd if="$r" bs=1 skip=9 count=6 2>/dev/null)"
		[0001]                           Revision : $(hex "$r" 15 1)
		[0004]                       RSDT Address : $(le "$r" 16 4)
		[0004]                             Length : $(le "$r" 20 4)
		[0008]                       XSDT Address : $(le "$r" 24 8)
		[0001]                  Extended Checksum : 00
		[0003]                           Reserved : 000000
	EOF
	(cd "$dir" && iasl -p rt-rsdp rsdp.asl) >"$dir/rsdp.asl.log" 2>&1 || fail "rsdp: iasl failed"
	clean "$dir/rsdp.asl.log" || fail "rsdp: iasl reported a problem"
	cmp -s "$r" "$dir/rt-rsdp.aml" || fail "rsdp: iasl builds different bytes (checksums?)"
}

# sockets:cores:threads and virtio device count: one vCPU and no devices; SMT; APIC ID gaps with
# every virtio slot; APIC IDs past 254 (x2APIC entries); the PCI host bridge.
for cfg in "1:1:1 0" "2:2:2 1" "2:3:1 18" "3:65:1 18" "2:1:1 0 pci"; do
	read -r topo nvirtio pci <<<"$cfg"
	dir=$tmp/${topo//:/-}-$nvirtio$pci
	mkdir -p "$dir"
	if ! "$dump" "$dir" "$topo" "$nvirtio" $pci; then
		fail "acpi_dump failed"
		continue
	fi
	for t in xsdt facp apic dsdt ${pci:+mcfg}; do
		check_table "$dir" "$t"
	done
	if [ -n "$pci" ]; then # the host bridge's _PRT and the ECAM window MCFG and MRES name
		grep -q '_PRT' "$dir/dsdt.dsl" || fail "[$cfg] DSDT: no _PRT"
		grep -q 'Base Address : 00000000F0000000' "$dir/mcfg.dsl" ||
			fail "[$cfg] MCFG: not the ECAM at 0xf0000000"
		grep -q 'PNP0C02' "$dir/dsdt.dsl" || fail "[$cfg] DSDT: no motherboard resource"
	fi
	check_rsdp "$dir"
	grep -q 'Processor Local x2APIC' "$dir/apic.dsl" && echo "[$cfg] MADT has x2APIC entries"
	echo "[$cfg] checked: $(grep -c 'Device (' "$dir/dsdt.dsl") DSDT devices," \
		"$(grep -c 'Subtable Type' "$dir/apic.dsl") MADT entries"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "all ACPI tables pass iasl"
