#!/bin/sh
# embed-blob.sh IN OUT SYMBOL CC — assemble IN into object OUT as SYMBOL_start..SYMBOL_end.
set -eu
in=$(realpath "$1"); out=$2; sym=$3; cc=$4
src="$out.S"
cat >"$src" <<EOS
	.section .rodata
	.balign 16
	.globl ${sym}_start
	.globl ${sym}_end
${sym}_start:
	.incbin "$in"
${sym}_end:
	.section .note.GNU-stack,"",%progbits
EOS
$cc -c -o "$out" "$src"
