#!/usr/bin/env bash
# test-cli.sh KILN HELLO_GUEST — the kiln binary's command line and --config-file documents: good
# invocations work, every bad flag or file gets exactly one line on stderr naming what was wrong
# and the documented exit status. HELLO_GUEST is the guest kit's hello.elf.
set -u
kiln=$1
hello=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# expect STATUS STDERR_SUBSTRING ARGS... — run kiln, check status, one stderr line, substring.
expect() {
	local want=$1 part=$2
	shift 2
	local out err status lines
	out=$(timeout 20 "$kiln" "$@" 2>"$tmp/err" </dev/null)
	status=$?
	err=$(cat "$tmp/err")
	lines=$(printf '%s' "$err" | grep -c '^' || true)
	if [ "$status" != "$want" ]; then
		echo "FAIL: kiln $*: status $status, want $want; stderr: $err"
		fail=$((fail + 1))
	elif [ -n "$part" ] && { [ "$lines" != 1 ] || [[ "$err" != *"$part"* ]]; }; then
		echo "FAIL: kiln $*: want one stderr line containing '$part', got: $err"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}

: >"$tmp/empty"
printf 'not a kernel at all, just text\n' >"$tmp/text"
head -c 300 /dev/zero >"$tmp/zeros"

expect 0 "" --version
expect 0 "" --help
expect 0 "" run --help
expect 2 "no command given"
expect 2 "unknown command 'frob'" frob
expect 2 "unknown option '--frob'" run --frob
expect 2 "option '--memory' needs a value" run --memory
expect 2 "--memory: 'lots'" run --memory lots
expect 2 "--memory: 1M is outside" run --memory 1M
expect 2 "--memory: 4097K is not a multiple of 4K" run --memory 4097K
expect 2 "--cpus: '0'" run --cpus 0
expect 2 "--cpus: '300'" run --cpus 300
expect 2 "--topology: '1:2'" run --topology 1:2
expect 2 "mutually exclusive" run --cpus 2 --topology 1:2:1
expect 2 "--serial: 'tcp:1'" run --serial tcp:1
expect 2 "only one of --serial, --serial2 and --console-virtio can use stdio" run --serial2 stdio
expect 2 "--boot: 'efi'" run --boot efi
expect 2 "--on-reset: 'boom'" run --on-reset boom
expect 2 "--debug-exit-port: '70000'" run --debug-exit-port 70000
expect 2 "--debug-exit-port: '0xfffe'" run --debug-exit-port 0xfffe
expect 2 "in-kernel PIC/PIT" run --debug-exit-port 0x3e
expect 2 "--load-addr and --entry go together" run --kernel "$tmp/text" --entry 0x100000
expect 2 "--initrd needs --kernel" run --initrd "$tmp/text"
expect 2 "unexpected argument 'extra'" run extra
expect 2 "multiple of 2M with --hugepages" run --memory 3M --hugepages
expect 2 "$tmp/missing" run --kernel "$tmp/missing"
expect 2 "not a non-empty regular file" run --kernel "$tmp/empty"
expect 2 "not a regular file" run --kernel "$tmp"
expect 2 "not a bzImage or ELF" run --kernel "$tmp/text"
expect 2 "not a bzImage or ELF" run --kernel "$tmp/zeros"
expect 2 "$tmp/missing" run --initrd "$tmp/missing" --kernel "$tmp/text"
expect 2 "is not inside guest RAM" run --kernel "$tmp/text" --load-addr 0x40000000 --entry 0x40000000 --memory 64M
expect 2 "collides" run --debug-exit-port 0x3f8
expect 2 "collides" run --debug-exit-port 0xe5 --test-device
expect 2 "in-kernel PIC/PIT" run --debug-exit-port 0x40
# A serial file that cannot be created: a host error, status 4, one line naming the path.
expect 4 "$tmp/nodir/out" run --serial "file:$tmp/nodir/out"
# virtio devices: bad backends are one line and status 2; good ones boot.
expect 2 "disk $tmp/missing.img" run --disk "$tmp/missing.img"
expect 2 "disk $tmp: Is a directory" run --disk "$tmp"
expect 2 "--disk: option 'rw'" run --disk "$tmp/text,rw"
truncate -s 8M "$tmp/disk.img"
expect 0 "" run --disk "$tmp/disk.img" --disk "$tmp/disk.img,ro,id=second"
expect 2 "exists and is not a socket" run --console-virtio "socket:$tmp/text"
expect 2 "$tmp/nodir/c" run --console-virtio "file:$tmp/nodir/c"
expect 2 "--console-virtio: 'tcp:1'" run --console-virtio tcp:1
expect 2 "only one of --serial" run --console-virtio stdio
expect 0 "" run --rng --console-virtio "socket:$tmp/vc.sock"
if [ -e "$tmp/vc.sock" ]; then
	echo "FAIL: the console socket was left behind"
	fail=$((fail + 1))
fi
# The demo guest boots and resets: status 0, greeting on stdout; to a file; or nowhere.
expect 0 "" run
expect 0 "" run --serial "file:$tmp/com1.txt"
if ! grep -q "Hello from the kiln demo guest" "$tmp/com1.txt"; then
	echo "FAIL: --serial file: did not receive the demo greeting"
	fail=$((fail + 1))
fi
out=$("$kiln" run --serial none </dev/null 2>&1)
if [ -n "$out" ]; then
	echo "FAIL: --serial none still printed: $out"
	fail=$((fail + 1))
fi

# --pin-vcpus: every vCPU on the first CPU kiln may use.
cpu0=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//; s/[-,].*//')
expect 0 "" run --cpus 2 --pin-vcpus "${cpu0:-0},${cpu0:-0}"
expect 2 "vCPU pinning: vCPU 0 -> host CPU 1023" run --pin-vcpus 1023
expect 2 "--pin-vcpus: 1 CPUs given for 2 vCPUs" run --cpus 2 --pin-vcpus 0

# --config-file: a Firecracker-style document boots at once; bad documents are one line, status 2.
cfg() { printf '%s\n' "$2" >"$tmp/$1.json"; }
cfg demo '{"machine-config": {"vcpu_count": 2, "mem_size_mib": 64}, "entropy": {}}'
expect 0 "" --config-file "$tmp/demo.json"
cfg hello '{
  "boot-source": {"kernel_image_path": "'"$hello"'", "boot_args": "hi=4", "kiln_boot": "linux"},
  "drives": [
    {"drive_id": "data", "path_on_host": "'"$tmp/disk.img"'", "is_root_device": false,
     "is_read_only": true, "io_engine": "Async"},
    {"drive_id": "rootfs", "path_on_host": "'"$tmp/disk.img"'", "is_root_device": true,
     "is_read_only": false, "cache_type": "Writeback", "rate_limiter": null, "socket": null}
  ],
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": false,
                     "kiln_vcpu_pinning": ['"${cpu0:-0}, ${cpu0:-0}"']},
  "serial": {"serial_out_path": "'"$tmp/hello.txt"'"},
  "network-interfaces": [], "vsock": null, "logger": null, "metrics": null
}'
expect 1 "" --config-file "$tmp/hello.json" --no-api
if ! grep -qF 'boot protocol linux, cmdline "hi=4 root=/dev/vda rw"' "$tmp/hello.txt"; then
	echo "FAIL: --config-file: the guest did not see exactly root=/dev/vda rw: $(cat "$tmp/hello.txt")"
	fail=$((fail + 1))
fi

# virtio_mmio.device= tokens only for a guest that will not read the DSDT: without ACPI tables,
# or with acpi=off on its command line. With ACPI the DSDT alone describes the devices.
cmdline_seen() {
	local want=$1
	shift
	if timeout 20 "$kiln" run --kernel "$hello" --boot linux --rng "$@" </dev/null 2>"$tmp/err" |
		grep -qF "cmdline \"$want\""; then
		pass=$((pass + 1))
	else
		echo "FAIL: kiln run $*: the guest did not see the command line '$want': $(cat "$tmp/err")"
		fail=$((fail + 1))
	fi
}
cmdline_seen "hi=5" --cmdline hi=5
cmdline_seen "hi=6 acpi=off virtio_mmio.device=512@0xd0000000:5" --cmdline "hi=6 acpi=off"
cmdline_seen "hi=7 virtio_mmio.device=512@0xd0000000:5" --cmdline hi=7 --no-acpi
cmdline_seen "hi=8 noacpi=off" --cmdline "hi=8 noacpi=off"
printf '{\n  "machine-config": {"vcpu_count": 2,,}\n}\n' >"$tmp/syntax.json"
expect 2 "$tmp/syntax.json:2:38: " --config-file "$tmp/syntax.json"
cfg unknown '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "vcpus": 2}}'
expect 2 "$tmp/unknown.json: machine-config: unknown field 'vcpus'" --config-file "$tmp/unknown.json"
cfg type '{"machine-config": {"vcpu_count": "2", "mem_size_mib": 64}}'
expect 2 "machine-config: field 'vcpu_count': expected an integer, got a string" \
	--config-file "$tmp/type.json"
cfg missing '{"machine-config": {"vcpu_count": 2}}'
expect 2 "machine-config: field 'mem_size_mib' is missing (required)" --config-file "$tmp/missing.json"
cfg range '{"drives": [{"drive_id": "a", "path_on_host": "/a", "is_root_device": false,
  "is_read_only": false, "io_engine": "Uring"}]}'
expect 2 "drives[0]: field 'io_engine'" --config-file "$tmp/range.json"
cfg toplevel '{"network": []}'
expect 2 "unknown top-level field 'network'" --config-file "$tmp/toplevel.json"
cfg nokernel '{"boot-source": {"kernel_image_path": "'"$tmp/missing"'"}}'
expect 2 "$tmp/missing" --config-file "$tmp/nokernel.json"
cfg pin '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "kiln_vcpu_pinning": [1023]}}'
expect 2 "vCPU pinning: vCPU 0 -> host CPU 1023" --config-file "$tmp/pin.json"
expect 2 "$tmp/none.json" --config-file "$tmp/none.json"
expect 2 "option '--config-file' needs a value" --config-file
expect 2 "mutually exclusive" --config-file "$tmp/demo.json" --no-api --api-sock "$tmp/api.sock"
expect 2 "--no-api needs --config-file FILE" --no-api
expect 2 "give --config-file FILE or --api-sock PATH" --id vm1
expect 2 "unexpected argument 'x'" --config-file "$tmp/demo.json" x

# --api-sock and --id: an empty or over-long path, or an id Firecracker would refuse, is refused
# with the other flags by every command that serves the API; a socket in use is refused before the
# VM is built, restored or received.
long="$tmp/$(printf 'x%.0s' $(seq 110))"
for cmd in "" run restore "migrate receive"; do
	extra=()
	[ "$cmd" = restore ] && extra=("$tmp/snap" --mem-file "$tmp/mem")
	[ "$cmd" = "migrate receive" ] && extra=(--listen 127.0.0.1:1)
	# shellcheck disable=SC2086  # $cmd is the command's words
	expect 2 "--api-sock: the path is empty" $cmd "${extra[@]}" --api-sock ""
	# shellcheck disable=SC2086
	expect 2 "--api-sock: path too long for a Unix socket" $cmd "${extra[@]}" --api-sock "$long"
	# shellcheck disable=SC2086
	expect 2 "--id: '': length 0, want 1 to 64" $cmd "${extra[@]}" --api-sock "$tmp/a" --id ""
	# shellcheck disable=SC2086
	expect 2 "--id: 'a_b': invalid character at position 1" $cmd "${extra[@]}" --id a_b
done
"$kiln" --api-sock "$tmp/busy.sock" >/dev/null 2>&1 </dev/null &
busy=$!
for _ in $(seq 50); do [ -S "$tmp/busy.sock" ] && break; sleep 0.1; done
expect 4 "--api-sock $tmp/busy.sock: in use by a running process" run --api-sock "$tmp/busy.sock"
if grep -q 'Hello' <<<"$(timeout 20 "$kiln" run --api-sock "$tmp/busy.sock" 2>/dev/null)"; then
	echo "FAIL: run --api-sock on a socket in use: the demo guest ran before the refusal"
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi
expect 4 "in use by a running process" restore "$tmp/snap" --mem-file "$tmp/mem" \
	--api-sock "$tmp/busy.sock"
expect 4 "in use by a running process" migrate receive --listen 127.0.0.1:1 \
	--api-sock "$tmp/busy.sock"
expect 4 "in use by a running process" --config-file "$tmp/demo.json" --api-sock "$tmp/busy.sock"
kill "$busy"
wait "$busy" 2>/dev/null

# --on-reset restart boots the guest again after each reset; SIGTERM then stops kiln cleanly.
"$kiln" run --on-reset restart >"$tmp/restart.txt" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do
	[ "$(grep -c 'Hello from the kiln demo guest' "$tmp/restart.txt")" -ge 3 ] && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
status=$?
n=$(grep -c 'Hello from the kiln demo guest' "$tmp/restart.txt")
if [ "$status" != 0 ] || [ "$n" -lt 3 ]; then
	echo "FAIL: --on-reset restart: status $status after SIGTERM, $n boots (want 0 and >= 3)"
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi

# --hugepages: a short pool is refused up front with one line; a big enough pool boots.
hp=/proc/sys/vm/nr_hugepages
if [ -w "$hp" ]; then
	saved=$(cat "$hp")
	echo 0 >"$hp"
	expect 4 "--hugepages: need 32 free" run --hugepages --memory 64M
	echo $((saved + 32)) >"$hp"
	if [ "$(cat "$hp")" -ge 32 ]; then
		expect 0 "" run --hugepages --memory 64M
	else
		echo "FAIL: could not reserve 32 huge pages for the test"
		fail=$((fail + 1))
	fi
	echo "$saved" >"$hp"
elif [ "${CI:-}" = true ]; then
	echo "FAIL: CI runs as root but $hp is not writable"
	fail=$((fail + 1))
else
	echo "note: not root, --hugepages cases not run"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
