#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host-tier hostile guests (tests/guests), each run while the test watches
# the VMM (and the gofer) from outside: RSS, CPU time, fds and threads are
# sampled from /proc when the guest prints its "start" and "done" lines,
# and a second, well-behaved VM boots alongside and must not notice.
#   - virtio-hostile: descriptor loops, out-of-range heads/next/addresses,
#     broken rings, a 100,000-notification storm (20 cases);
#   - hostile-io: every unclaimed port, the MMIO hole, the free virtio
#     windows and the 16 MiB past RAM written (~300,000 accesses);
#   - virtio-9p-flood: 8,000 9P requests (2,000 malformed) and two
#     2,048-fid floods against `kvbox boot --share`.
# Every test prints its numbers (`# ...` lines in the TAP output).
#
# Needs: a built tree (ninja -C build) and read-write /dev/kvm.
#   KVBOX         path of the kvbox binary   (default: <repo>/build/kvbox)
#   KVBOX_GUESTS  folder of the built guests (default: <repo>/build/tests/guests)
#   KVBOX_HOSTILE_RSS_MB  allowed RSS growth per process during a storm
#                 (default 16; the ASan suite raises it for its quarantine)

bats_require_minimum_version 1.5.0

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	KVBOX="${KVBOX:-$ROOT/build/kvbox}"
	GUESTS="${KVBOX_GUESTS:-$ROOT/build/tests/guests}"
	RSS_MB="${KVBOX_HOSTILE_RSS_MB:-16}"
	[ -x "$KVBOX" ] || fail "no kvbox binary at $KVBOX (build it: ninja -C $ROOT/build)"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs read-write /dev/kvm"
	TICK=$(getconf CLK_TCK)
}

teardown() {
	# a test that failed half-way leaves no VM behind
	local p
	for p in ${BG_PIDS:-}; do
		kill -KILL "$p" 2>/dev/null || true
	done
}

fail() {
	echo "$*" >&2
	return 1
}

# start_vm NAME ARGS...: `kvbox boot ARGS` in the background under a
# timeout, output in $BATS_TEST_TMPDIR/NAME.out/.err.  Sets VM_PID (the
# kvbox process) and VM_WAITER (the timeout, to wait for).
start_vm() {
	local name=$1
	shift
	timeout -k 5 240 "$KVBOX" boot "$@" </dev/null \
		>"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" &
	VM_WAITER=$!
	BG_PIDS="${BG_PIDS:-} $VM_WAITER"
	VM_PID=
	local i
	for i in $(seq 200); do
		VM_PID=$(pgrep -P "$VM_WAITER" | head -n 1) && [ -n "$VM_PID" ] && break
		sleep 0.05
	done
	[ -n "$VM_PID" ] || fail "kvbox boot $* did not start"
	BG_PIDS="$BG_PIDS $VM_PID"
}

# wait_line NAME LINE SECONDS: until NAME.out has the guest line LINE.
wait_line() {
	local f="$BATS_TEST_TMPDIR/$1.out" i
	for i in $(seq $(($3 * 20))); do
		grep -qxF "kvbox-guest: $2" "$f" && return 0
		kill -0 "$VM_WAITER" 2>/dev/null || break
		sleep 0.05
	done
	grep -qxF "kvbox-guest: $2" "$f" && return 0
	cat "$f" "$BATS_TEST_TMPDIR/$1.err" >&2
	fail "no line '$2' from $1"
}

# sample PID: "RSS_KB CPU_TICKS FDS THREADS" of a live process.
sample() {
	local rss ticks fds threads
	[ -r "/proc/$1/status" ] || fail "process $1 ended before it was sampled"
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
	threads=$(awk '/^Threads:/ { print $2 }' "/proc/$1/status")
	# utime + stime: fields 14 and 15, counted after the ")" of comm
	ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }')
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l)
	# an exiting process has closed its fds: no sample
	[ -n "$rss" ] && [ -n "$ticks" ] && [ "$fds" -gt 0 ] ||
		fail "process $1 was ending when sampled"
	echo "$rss $ticks $fds $threads"
}

now_ms() {
	date +%s%3N
}

# bounded NAME BEFORE AFTER WALL_MS: checks and prints the growth of one
# process between two samples over WALL_MS of wall time: RSS by at most
# RSS_MB, CPU at most one busy thread plus half a core (the vCPU runs the
# guest; nothing else may spin), fds and threads back to where they were
# (+2 for the sampling race).
bounded() {
	local name=$1 wall=$4 r0 c0 f0 t0 r1 c1 f1 t1
	read -r r0 c0 f0 t0 <<<"$2"
	read -r r1 c1 f1 t1 <<<"$3"
	local cpu_ms=$(((c1 - c0) * 1000 / TICK))
	echo "# $name: RSS $((r0 / 1024)) -> $((r1 / 1024)) MiB (+$((r1 - r0)) KiB)," \
		"CPU $cpu_ms ms in $wall ms wall, fds $f0 -> $f1, threads $t0 -> $t1" >&3
	[ $((r1 - r0)) -le $((RSS_MB * 1024)) ] || fail "$name: RSS grew by $((r1 - r0)) KiB"
	[ "$cpu_ms" -le $((wall * 3 / 2 + 500)) ] || fail "$name: $cpu_ms ms CPU in $wall ms"
	[ "$f1" -le $((f0 + 2)) ] || fail "$name: fds $f0 -> $f1"
	[ "$t1" -le $((t0 + 1)) ] || fail "$name: threads $t0 -> $t1"
}

# finish NAME WANT_LINE: waits for the VM, which must exit 0 having printed
# WANT_LINE and no FAIL.
finish() {
	local rc=0
	wait "$VM_WAITER" || rc=$?
	BG_PIDS= # all reaped: nothing for teardown to kill (pids get reused)
	if [ "$rc" -ne 0 ] || ! grep -qxF "kvbox-guest: $2" "$BATS_TEST_TMPDIR/$1.out" ||
		grep -q '^kvbox-guest: FAIL' "$BATS_TEST_TMPDIR/$1.out"; then
		cat "$BATS_TEST_TMPDIR/$1.out" "$BATS_TEST_TMPDIR/$1.err" >&2
		fail "$1: exit status $rc, want 0 and '$2'"
	fi
}

# neighbour NAME ARGS...: a well-behaved VM run to the end while the
# hostile one runs; prints its wall time.  Sets NB_MS.
neighbour() {
	local name=$1 want=$2 t0
	shift 2
	t0=$(now_ms)
	run --separate-stderr timeout -k 5 120 "$KVBOX" boot "$@" </dev/null
	NB_MS=$(($(now_ms) - t0))
	if [ "$status" -ne 0 ] || [[ "$output" != *"kvbox-guest: $want"* ]] ||
		[[ "$output" == *"kvbox-guest: FAIL"* ]]; then
		printf '%s\n%s\n' "$output" "$stderr" >&2
		fail "neighbour $name: status $status, want 0 and '$want'"
	fi
}

# start_neighbours NAME WANT ARGS...: well-behaved VMs (`kvbox boot ARGS`,
# which must print WANT and exit 0), one after another in the background
# until stop_neighbours NAME, so the test can sample the hostile VM at
# once.  One line per VM in NAME.nb: "ok MS" or "fail MS STATUS".
start_neighbours() {
	local name=$1 want=$2
	shift 2
	local nb="$BATS_TEST_TMPDIR/$name.nb" stop="$BATS_TEST_TMPDIR/$name.stop"
	: >"$nb"
	rm -f "$stop"
	(
		while [ ! -e "$stop" ]; do
			t0=$(now_ms)
			rc=0
			out=$(timeout -k 5 120 "$KVBOX" boot "$@" </dev/null 2>&1) || rc=$?
			ms=$(($(now_ms) - t0))
			if [ "$rc" -eq 0 ] && [[ "$out" == *"kvbox-guest: $want"* ]] &&
				[[ "$out" != *"kvbox-guest: FAIL"* ]]; then
				echo "ok $ms" >>"$nb"
			else
				echo "fail $ms $rc" >>"$nb"
				printf '%s\n' "$out" >>"$nb.log"
			fi
		done
	) &
	NB_LOOP=$!
	BG_PIDS="${BG_PIDS:-} $NB_LOOP"
}

# stop_neighbours NAME: waits for the one running to end; sets NB_N (VMs
# run), NB_WORST (ms); fails if any failed.
stop_neighbours() {
	local nb="$BATS_TEST_TMPDIR/$1.nb"
	touch "$BATS_TEST_TMPDIR/$1.stop"
	wait "$NB_LOOP" || true
	NB_N=$(wc -l <"$nb")
	NB_WORST=$(awk '$2 > w { w = $2 } END { print w + 0 }' "$nb")
	if grep -q '^fail' "$nb"; then
		cat "$nb" "$nb.log" >&2
		fail "a neighbour VM failed"
	fi
}

@test "virtio-hostile (loops, out-of-range addresses, notification storm): VMM bounded, a VM alongside unaffected" {
	local solo
	neighbour solo "virtio-rng ok 128 bytes" --kernel "$GUESTS/virtio-rng.bzimage"
	solo=$NB_MS
	start_vm hostile --kernel "$GUESTS/virtio-hostile.bzimage" --cmdline hold
	wait_line hostile "virtio: magic virt, version 2, device id 4, vendor 0x5842564b, irq 5" 30
	local s0 t0 s1 t1
	s0=$(sample "$VM_PID")
	t0=$(now_ms)
	start_neighbours hostile "virtio-rng ok 128 bytes" --kernel "$GUESTS/virtio-rng.bzimage"
	wait_line hostile "virtio-hostile ok" 120
	s1=$(sample "$VM_PID") # the guest holds still ~2 s after that line
	t1=$(now_ms)
	stop_neighbours hostile
	finish hostile "virtio-hostile ok"
	grep -qxF "kvbox-guest: virtio-hostile: 20 cases, 15 NEEDS_RESET, device recovered after every one" \
		"$BATS_TEST_TMPDIR/hostile.out" || fail "not every case ran"
	grep -qxF "kvbox-guest: hostile: notification storm: ignored, device live, recovered" \
		"$BATS_TEST_TMPDIR/hostile.out" || fail "the storm was not survived"
	echo "# 20 cases tried, 20 survived; $NB_N neighbour VMs booted alongside:" \
		"worst $NB_WORST ms (alone $solo ms)" >&3
	bounded "kvbox (virtio-hostile)" "$s0" "$s1" $((t1 - t0))
	[ "$NB_N" -ge 1 ] || fail "no neighbour ran during the abuse"
	[ "$NB_WORST" -le 60000 ] || fail "a neighbour took $NB_WORST ms"
}

@test "hostile-io (unclaimed ports and MMIO): VMM bounded, devices work after, a VM alongside unaffected" {
	local solo
	neighbour solo "ports ok" --kernel "$GUESTS/ports.bzimage"
	solo=$NB_MS
	start_vm io --kernel "$GUESTS/hostile-io.bzimage"
	wait_line io "hostile-io: start" 30
	local s0 t0 s1 t1
	s0=$(sample "$VM_PID")
	t0=$(now_ms)
	start_neighbours io "ports ok" --kernel "$GUESTS/ports.bzimage"
	wait_line io "hostile-io: done" 200
	s1=$(sample "$VM_PID") # the guest checks its devices, then waits ~1 s
	t1=$(now_ms)
	stop_neighbours io
	finish io "hostile-io ok"
	local counts
	counts=$(grep -m1 -E '^kvbox-guest: hostile-io: [0-9]+ port writes' "$BATS_TEST_TMPDIR/io.out")
	echo "# ${counts#kvbox-guest: }" >&3
	echo "# $NB_N neighbour VMs (ports.bzimage) during the storm: worst $NB_WORST ms (alone $solo ms)" >&3
	bounded "kvbox (hostile-io)" "$s0" "$s1" $((t1 - t0))
	grep -qxF "kvbox-guest: hostile-io: rng serves after the storm" "$BATS_TEST_TMPDIR/io.out"
	grep -qxF "kvbox-guest: hostile-io: RTC answers after the storm" "$BATS_TEST_TMPDIR/io.out"
	[ "$NB_N" -ge 1 ] || fail "no neighbour ran during the storm"
	[ "$NB_WORST" -le 60000 ] || fail "a neighbour took $NB_WORST ms"
	# nothing the guest did is worth a line on the VMM's stderr
	[ ! -s "$BATS_TEST_TMPDIR/io.err" ] || { cat "$BATS_TEST_TMPDIR/io.err" >&2; fail "kvbox wrote to stderr"; }
}

@test "virtio-9p-flood: the gofer stays bounded, the other share works, a sandbox with its own gofer alongside is unaffected" {
	local a="$BATS_TEST_TMPDIR/a" b="$BATS_TEST_TMPDIR/b" c="$BATS_TEST_TMPDIR/c" d="$BATS_TEST_TMPDIR/d"
	mkdir -p "$a" "$b" "$c" "$d"
	echo data >"$a/file"
	local solo
	neighbour solo "virtio-9p-flood ok" --no-rng --share "$c:n0" --share "$d:n1" \
		--kernel "$GUESTS/virtio-9p-flood.bzimage" --cmdline quick
	solo=$NB_MS
	start_vm flood --no-rng --share "$a:t0" --share "$b:t1" --kernel "$GUESTS/virtio-9p-flood.bzimage"
	wait_line flood "9p-flood: start" 30
	local gofer i
	for i in $(seq 40); do
		gofer=$(pgrep -P "$VM_PID" | head -n 1) && [ -n "$gofer" ] && break
		sleep 0.05
	done
	[ -n "$gofer" ] || fail "no gofer process under kvbox $VM_PID"
	BG_PIDS="$BG_PIDS $gofer"
	local v0 g0 t0 v1 g1 t1
	v0=$(sample "$VM_PID")
	g0=$(sample "$gofer")
	t0=$(now_ms)
	start_neighbours flood "virtio-9p-flood ok" --no-rng --share "$c:n0" --share "$d:n1" \
		--kernel "$GUESTS/virtio-9p-flood.bzimage" --cmdline quick
	wait_line flood "9p-flood: done" 200
	v1=$(sample "$VM_PID") # the guest holds still ~2 s after that line
	g1=$(sample "$gofer")
	t1=$(now_ms)
	stop_neighbours flood
	finish flood "virtio-9p-flood ok"
	local counts
	counts=$(grep -m1 -E '^kvbox-guest: 9p-flood: [0-9]+ requests' "$BATS_TEST_TMPDIR/flood.out")
	echo "# ${counts#kvbox-guest: }; 2 x 2048 fids held and dropped" >&3
	echo "# $NB_N neighbour VMs (their own gofer, quick flood) during the flood: worst $NB_WORST ms (alone $solo ms)" >&3
	bounded "kvbox (9p flood)" "$v0" "$v1" $((t1 - t0))
	bounded "gofer (9p flood)" "$g0" "$g1" $((t1 - t0))
	local req
	req=$(echo "$counts" | grep -oE '[0-9]+ requests' | grep -oE '[0-9]+')
	[ "$req" -ge 8000 ] || fail "only $req requests"
	grep -qxF "kvbox-guest: 9p-flood: the other share serves" "$BATS_TEST_TMPDIR/flood.out"
	[ "$NB_N" -ge 1 ] || fail "no neighbour ran during the flood"
	[ "$NB_WORST" -le 60000 ] || fail "a neighbour took $NB_WORST ms"
	# the shares are as they were: nothing created, the file intact
	[ "$(cat "$a/file")" = data ] || fail "the share's file changed"
	[ "$(find "$a" "$b" -mindepth 1 | wc -l)" -eq 1 ] || { find "$a" "$b" >&2; fail "the flood left files in the shares"; }
	# malformed 9P is the guest's problem: answered, never logged
	[ ! -s "$BATS_TEST_TMPDIR/flood.err" ] || { cat "$BATS_TEST_TMPDIR/flood.err" >&2; fail "kvbox or the gofer wrote to stderr"; }
}
