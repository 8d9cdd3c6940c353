#!/usr/bin/env bash
# test-cli.sh KILN — the kiln binary's command line: good invocations work, every bad flag or
# file gets exactly one line on stderr naming what was wrong and the documented exit status.
set -u
kiln=$1
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
expect 2 "not a non-empty regular file" run --kernel "$tmp"
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
