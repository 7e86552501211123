#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host-tier snapshot tests: `kvbox boot --snapshot-on USR1 --snapshot-dir
# DIR` and `kvbox boot --restore DIR` with tests/guests/counter.bzimage,
# which prints "count N" every ~50-100 ms up to 40 with the count in a
# register and in memory, taking 32 bytes from the virtio-rng per step.
# Runs on this host's /dev/kvm (KVM-PVM included).  The image format is in
# docs/architecture.md ("Snapshots"); the damaged-image cases rewrite it
# with python3 the way a bad disk or a different kvbox would.
#
#   KVBOX         path of the kvbox binary   (default: <repo>/build/kvbox)
#   KVBOX_GUESTS  folder of the built guests (default: <repo>/build/tests/guests)

bats_require_minimum_version 1.5.0

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	KVBOX="${KVBOX:-$ROOT/build/kvbox}"
	GUESTS="${KVBOX_GUESTS:-$ROOT/build/tests/guests}"
	COUNTER="$GUESTS/counter.bzimage"
	[ -x "$KVBOX" ] || fail "no kvbox binary at $KVBOX (build it: ninja -C $ROOT/build)"
	[ -f "$COUNTER" ] || fail "no $COUNTER (ninja -C $ROOT/build)"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs read-write /dev/kvm"
	T="$BATS_TEST_TMPDIR"
}

fail() {
	echo "$*" >&2
	return 1
}

# save_at N DIR [flags]: boots the counter with --snapshot-on USR1, sends
# USR1 once "count N" is out, waits for kvbox to end; its status in $st,
# stdout in $T/run.out, stderr in $T/run.err.
save_at() {
	local n=$1 dir=$2 i=0
	shift 2
	timeout -k 5 60 "$KVBOX" boot --kernel "$COUNTER" --snapshot-on USR1 --snapshot-dir "$dir" \
		"$@" </dev/null >"$T/run.out" 2>"$T/run.err" &
	local pid=$!
	until grep -q "^kvbox-guest: count $n\$" "$T/run.out"; do
		sleep 0.05
		i=$((i + 1))
		if [ $i -gt 400 ] || ! kill -0 $pid 2>/dev/null; then
			kill -9 $pid 2>/dev/null
			cat "$T/run.out" "$T/run.err" >&2
			fail "the counter never printed count $n"
			return 1
		fi
	done
	# the signal goes to kvbox, not to timeout (which would die of it)
	kill -USR1 "$(pgrep -P $pid)"
	st=0
	wait $pid || st=$?
	echo "# save: status $st; stderr:" >&2
	cat "$T/run.err" >&2
}

restore() {
	run --separate-stderr timeout -k 5 60 "$KVBOX" boot --restore "$@" </dev/null
	echo "# restore $* -> status $status" >&2
	echo "# stderr: $stderr" >&2
	echo "# stdout: $output" >&2
}

# The last whole "count N" line in a file / the first in $output.
last_count() {
	sed -n 's/^kvbox-guest: count \([0-9]*\)$/\1/p' "$1" | tail -1
}
first_count() { # [FILE], default $output
	if [ $# -gt 0 ]; then cat "$1"; else printf '%s\n' "$output"; fi |
		grep -o 'kvbox-guest: count [0-9]*$' | head -1 | awk '{print $3}'
}

# continues FILE [FROM]: the counts printed before the save (FILE) and
# after the restore ($output), joined as one stream (a line cut by the
# save is finished by the restored guest), are FROM (default 1) .. 40,
# each once, in order.
continues() {
	local got
	got=$({
		cat "$1"
		printf '%s\n' "$output"
	} | sed -n 's/^kvbox-guest: count \([0-9]*\)$/\1/p' | tr '\n' ' ')
	[ "$got" = "$(seq -s ' ' "${2:-1}" 40) " ] || fail "counts: $got"
}

one_line() {
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || fail "want one line on stderr, got: $stderr"
}

no_failures() {
	! grep -q 'FAIL' <<<"$output" || fail "the guest reported a failure"
}

# python3 rewrite of the state file: header checksum or a section's
# recomputed, as a different (or buggy) writer would (snap_sum: XXH3-128,
# canonical, then 16 zero bytes; libxxhash through ctypes).
py_state() {
	python3 - "$@" <<'EOF'
import ctypes, struct, sys
class H128(ctypes.Structure):
    _fields_ = [('low64', ctypes.c_uint64), ('high64', ctypes.c_uint64)]
xxh = ctypes.CDLL('libxxhash.so.0')
xxh.XXH3_128bits.restype = H128
xxh.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
def snap_sum(d):
    h = xxh.XXH3_128bits(bytes(d), len(d))
    return struct.pack('>QQ', h.high64, h.low64) + bytes(16)
path, what = sys.argv[1], sys.argv[2]
b = bytearray(open(path, 'rb').read())
if what == 'version':
    struct.pack_into('<I', b, 8, 99)
    b[24:32] = snap_sum(b[0:24])[:8]
elif what == 'kvbox-version':
    # the manifest is the first section: record at 32, payload at 80
    ln = struct.unpack_from('<Q', b, 40)[0]
    b[80:112] = b'0.0.1'.ljust(32, b'\0')
    b[48:80] = snap_sum(b[80:80 + ln])
elif what == 'flip':
    b[len(b) // 2] ^= 0x40
open(path, 'wb').write(b)
EOF
}

@test "counter: saved at count 5, restored, the count goes on from 6 to the end" {
	save_at 5 "$T/img"
	[ "$st" -eq 0 ]
	grep -q "^kvbox: snapshot saved to $T/img: [0-9]* KiB of memory data" "$T/run.err"
	! grep -q 'counter: done' "$T/run.out"
	local n
	n=$(last_count "$T/run.out")
	[ "$n" -ge 5 ]
	restore "$T/img" --debug
	[ "$status" -eq 0 ]
	no_failures
	continues "$T/run.out"
	[ "$(first_count)" -gt "$n" ]
	! grep -q 'counter: start' <<<"$output"
	! grep -q '^kvbox-guest: count 1$' <<<"$output"
	grep -q '^kvbox-guest: count 40$' <<<"$output"
	grep -q '^kvbox-guest: counter: done$' <<<"$output"
	grep -q "^kvbox: restored $T/img: " <<<"$stderr"
	# the rng served every step after the restore from the restored queue
	# (one fewer when the save came between a step's request and its line)
	local req
	req=$(sed -n 's/^kvbox: virtio-rng: \([0-9]*\) requests.*/\1/p' <<<"$stderr")
	[ "$req" -eq $((40 - n)) ] || [ "$req" -eq $((39 - n)) ]
}

@test "counter, 2 vCPUs: the AP waiting for SIPI survives the save and restore" {
	save_at 3 "$T/img" --cpus 2
	[ "$st" -eq 0 ]
	restore "$T/img" --cpus 2
	[ "$status" -eq 0 ]
	no_failures
	continues "$T/run.out"
	grep -q '^kvbox-guest: counter: done$' <<<"$output"
}

@test "--snapshot-leave-running: the guest goes on to the end, and the image restores" {
	save_at 4 "$T/img" --snapshot-leave-running
	[ "$st" -eq 0 ]
	grep -q '^kvbox-guest: counter: done$' "$T/run.out"
	! grep -q FAIL "$T/run.out"
	restore "$T/img"
	[ "$status" -eq 0 ]
	no_failures
	[ "$(first_count)" -ge 5 ]
	grep -q '^kvbox-guest: counter: done$' <<<"$output"
}

@test "one image restored twice: the same continuation both times" {
	save_at 5 "$T/img"
	restore "$T/img"
	[ "$status" -eq 0 ]
	local a=$output
	restore "$T/img"
	[ "$status" -eq 0 ]
	[ "$output" = "$a" ]
}

@test "--restore-cow: RAM maps the memory file copy-on-write; same run, the file unchanged" {
	save_at 5 "$T/img"
	[ "$st" -eq 0 ]
	local sum
	sum=$(sha256sum <"$T/img/memory")
	restore "$T/img"
	[ "$status" -eq 0 ]
	local copied=$output
	restore "$T/img" --restore-cow --debug
	[ "$status" -eq 0 ]
	no_failures
	grep -q "^kvbox: restored $T/img: .* (mapped copy-on-write)" <<<"$stderr"
	[ "$output" = "$copied" ]
	# the guest wrote to its RAM: the image did not change
	[ "$(sha256sum <"$T/img/memory")" = "$sum" ]
}

@test "a restored guest saved again: the second image goes on from the later count" {
	save_at 3 "$T/img"
	[ "$st" -eq 0 ]
	# restore (copy-on-write) with --snapshot-on, save again at count 8
	local i=0
	timeout -k 5 60 "$KVBOX" boot --restore "$T/img" --restore-cow --snapshot-on QUIT \
		--snapshot-dir "$T/img2" </dev/null >"$T/run2.out" 2>"$T/run2.err" &
	local pid=$!
	until grep -q '^kvbox-guest: count 8$' "$T/run2.out"; do
		sleep 0.05
		i=$((i + 1))
		[ $i -lt 400 ] && kill -0 $pid 2>/dev/null || { cat "$T/run2.out" "$T/run2.err" >&2; false; }
	done
	kill -QUIT "$(pgrep -P $pid)"
	wait $pid
	local n
	n=$(last_count "$T/run2.out")
	[ "$n" -ge 8 ]
	restore "$T/img2"
	[ "$status" -eq 0 ]
	no_failures
	[ "$(first_count)" -gt "$n" ]
	continues "$T/run2.out" "$(first_count "$T/run2.out")"
	grep -q '^kvbox-guest: counter: done$' <<<"$output"
}

@test "the memory file is sparse: only touched pages take disk space" {
	save_at 2 "$T/img"
	[ "$st" -eq 0 ]
	[ "$(stat -c %s "$T/img/memory")" -eq $((256 << 20)) ]
	local kib
	kib=$(du -k "$T/img/memory" | cut -f1)
	echo "# memory file: $kib KiB on disk" >&2
	[ "$kib" -lt 4096 ]
}

@test "a corrupted state file: one line naming the section, exit 1, the guest never runs" {
	save_at 2 "$T/img"
	py_state "$T/img/state" flip
	restore "$T/img"
	[ "$status" -eq 1 ]
	one_line
	grep -q "^kvbox boot: $T/img/state: .*checksum mismatch (corrupted)" <<<"$stderr"
	[ -z "$output" ]
}

@test "a truncated state file: one line, exit 1" {
	save_at 2 "$T/img"
	truncate -s 5000 "$T/img/state"
	restore "$T/img"
	[ "$status" -eq 1 ]
	one_line
	grep -q "state: truncated or extended: 5000 bytes, the header says" <<<"$stderr"
	[ -z "$output" ]
}

@test "a corrupted memory file: checksum mismatch, exit 1, the guest never runs" {
	save_at 2 "$T/img"
	# a byte of the guest's code (loaded at 1 MiB) changes
	printf '\x90' | dd of="$T/img/memory" bs=1 seek=$((0x100000 + 0x300)) conv=notrunc status=none
	restore "$T/img"
	[ "$status" -eq 1 ]
	one_line
	grep -q "memory: checksum mismatch" <<<"$stderr"
	[ -z "$output" ]
}

@test "a truncated memory file: one line naming it, exit 1" {
	save_at 2 "$T/img"
	truncate -s 1M "$T/img/memory"
	restore "$T/img"
	[ "$status" -eq 1 ]
	one_line
	grep -q "memory: 1048576 bytes, the manifest says 268435456" <<<"$stderr"
}

@test "another format version, another kvbox version: refused with one line" {
	save_at 2 "$T/img"
	cp -r "$T/img" "$T/img2"
	py_state "$T/img/state" version
	restore "$T/img"
	[ "$status" -eq 1 ]
	one_line
	grep -q "format version 99, this kvbox reads version 4 only" <<<"$stderr"
	py_state "$T/img2/state" kvbox-version
	restore "$T/img2"
	[ "$status" -eq 1 ]
	one_line
	grep -q "saved by kvbox 0.0.1, this is kvbox " <<<"$stderr"
}

@test "--restore with another --kernel, --memory or --cpus: refused with one line" {
	save_at 2 "$T/img"
	restore "$T/img" --kernel "$GUESTS/hello.bzimage"
	[ "$status" -eq 1 ]
	one_line
	grep -q "is not the kernel $T/img was saved with ($COUNTER, " <<<"$stderr"
	restore "$T/img" --kernel "$COUNTER" --memory 128M
	[ "$status" -eq 1 ]
	one_line
	grep -q -- "--memory: $T/img holds a 256 MiB guest, not 128 MiB" <<<"$stderr"
	restore "$T/img" --cpus 2
	[ "$status" -eq 1 ]
	one_line
	grep -q -- "--cpus: $T/img holds a guest with 1 vCPU(s), not 2" <<<"$stderr"
	[ -z "$output" ]
}

@test "usage errors: exit 2 with one line, nothing created" {
	run --separate-stderr "$KVBOX" boot --kernel "$COUNTER" --snapshot-on USR1
	[ "$status" -eq 2 ] && one_line
	run --separate-stderr "$KVBOX" boot --kernel "$COUNTER" --snapshot-on TERM --snapshot-dir "$T/x"
	[ "$status" -eq 2 ] && one_line
	grep -q "expected USR1 or QUIT" <<<"$stderr"
	mkdir "$T/exists"
	run --separate-stderr "$KVBOX" boot --kernel "$COUNTER" --snapshot-on USR1 --snapshot-dir "$T/exists"
	[ "$status" -eq 2 ] && one_line
	grep -q "already exists" <<<"$stderr"
	run --separate-stderr "$KVBOX" boot --restore "$T/exists" --initrd /dev/null
	[ "$status" -eq 2 ] && one_line
	grep -q -- "--initrd: not with --restore" <<<"$stderr"
	run --separate-stderr "$KVBOX" boot --restore "$T/nope"
	[ "$status" -eq 1 ] && one_line
	grep -q "snapshot $T/nope: No such file or directory" <<<"$stderr"
	[ ! -e "$T/x" ]
}

@test "--snapshot-on with a 9p share: refused up front, naming the device" {
	mkdir "$T/share"
	run --separate-stderr timeout -k 5 30 "$KVBOX" boot --kernel "$COUNTER" --share "$T/share:data" \
		--snapshot-on USR1 --snapshot-dir "$T/img" </dev/null
	[ "$status" -eq 2 ]
	one_line
	grep -q "^kvbox boot: --snapshot-on: virtio-9p share 'data' cannot be snapshotted yet" <<<"$stderr"
	[ -z "$output" ]
	[ ! -e "$T/img" ]
}

@test "a save that fails (no parent directory): one line, the guest goes on, nothing left" {
	save_at 2 "$T/missing/img"
	[ "$st" -eq 0 ]
	grep -q "^kvbox boot: snapshot directory $T/missing/img: No such file or directory; the guest goes on" "$T/run.err"
	grep -q '^kvbox-guest: counter: done$' "$T/run.out"
	[ ! -e "$T/missing" ]
}

@test "a save that runs out of space: one line, the partial image removed, the guest goes on" {
	mkdir "$T/small"
	mount -t tmpfs -o size=32k tmpfs "$T/small" 2>/dev/null || skip "cannot mount a tmpfs (needs root)"
	save_at 2 "$T/small/img"
	local left
	left=$(ls -A "$T/small")
	umount "$T/small"
	[ "$st" -eq 0 ]
	grep -q "^kvbox boot: snapshot $T/small/img: writing memory: No space left on device; the guest goes on" "$T/run.err"
	[ "$(grep -c . "$T/run.err")" -eq 1 ]
	grep -q '^kvbox-guest: counter: done$' "$T/run.out"
	[ -z "$left" ]
}
