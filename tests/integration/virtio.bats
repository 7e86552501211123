#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host-tier integration tests for virtio-mmio in the VMM: `kvbox boot`
# gives every guest a virtio-rng at 0xd0000000 (IRQ 5), declared on the
# kernel command line, with queue notifications through KVM ioeventfds and
# interrupts through irqfds (or their fallbacks).  Two purpose-built guests
# from tests/guests drive it: virtio-rng (a minimal driver) and
# virtio-hostile (garbage, after which the device must report NEEDS_RESET,
# recover, and the VMM must stay up).  They run on KVM-PVM too.
#
# Needs: a built tree (ninja -C build) and read-write /dev/kvm.
#   KVBOX         path of the kvbox binary   (default: <repo>/build/kvbox)
#   KVBOX_GUESTS  folder of the built guests (default: <repo>/build/tests/guests)

bats_require_minimum_version 1.5.0

RNG_ENTRY="virtio_mmio.device=4K@0xd0000000:5"

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	KVBOX="${KVBOX:-$ROOT/build/kvbox}"
	GUESTS="${KVBOX_GUESTS:-$ROOT/build/tests/guests}"
	[ -x "$KVBOX" ] || fail "no kvbox binary at $KVBOX (build it: ninja -C $ROOT/build)"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs read-write /dev/kvm"
}

fail() {
	echo "$*" >&2
	return 1
}

# boot ARGS...: kvbox boot under a timeout, stdout and stderr apart
# ($output/$lines and $stderr/$stderr_lines).  124/137: the guest hung.
boot() {
	run --separate-stderr timeout -k 5 120 "$KVBOX" boot "$@" </dev/null
	echo "# kvbox boot $* -> status $status" >&2
	printf '%s\n' "$output" >&2
	echo "# stderr:" >&2
	printf '%s\n' "$stderr" >&2
}

has_line() {
	local l
	for l in "${lines[@]}"; do
		[ "$l" = "$1" ] && return 0
	done
	fail "missing line: '$1'"
}

has_err_line() {
	local l
	for l in "${stderr_lines[@]}"; do
		[ "$l" = "$1" ] && return 0
	done
	fail "missing stderr line: '$1'"
}

# The number after `key` in the stderr line matching the regex.
err_number() {
	local l
	for l in "${stderr_lines[@]}"; do
		if [[ "$l" =~ $1 ]]; then
			echo "${BASH_REMATCH[1]}"
			return 0
		fi
	done
	fail "no stderr line matching '$1'"
}

no_guest_failures() {
	local l
	for l in "${lines[@]}"; do
		[[ "$l" == "kvbox-guest: FAIL"* ]] && fail "guest reported: $l"
	done
	return 0
}

status_is() {
	[ "$status" -eq "$1" ] || fail "exit status $status, want $1"
}

rng_ok() {
	no_guest_failures
	has_line "kvbox-guest: virtio: magic virt, version 2, device id 4, vendor 0x5842564b, irq 5"
	has_line "kvbox-guest: virtio-rng: InterruptStatus used-buffer bit set, ACK clears it"
	has_line "kvbox-guest: virtio-rng: IRQ 5 reached the LAPIC as vector 0x30"
	has_line "kvbox-guest: virtio-rng ok 128 bytes"
	status_is 0
}

# ---- the device on the command line ----

@test "kvbox boot appends the virtio-rng entry to --cmdline" {
	boot --kernel "$GUESTS/hello.bzimage" --cmdline 'console=ttyS0 quiet'
	status_is 0
	has_line "kvbox-guest: cmdline: [console=ttyS0 quiet $RNG_ENTRY]"
}

@test "kvbox boot with an empty --cmdline passes the entry alone" {
	boot --kernel "$GUESTS/hello.bzimage" --cmdline ''
	status_is 0
	has_line "kvbox-guest: cmdline: [$RNG_ENTRY]"
}

@test "--no-rng: no device, no entry" {
	boot --kernel "$GUESTS/hello.bzimage" --cmdline 'x' --no-rng
	status_is 0
	has_line "kvbox-guest: cmdline: [x]"
	boot --kernel "$GUESTS/virtio-rng.bzimage" --no-rng
	has_line "kvbox-guest: FAIL: virtio: no 'virt' magic at 0xd0000000 (no device in slot 0?)"
	status_is 3
}

@test "a --cmdline that fits alone but not with the device entry: one line naming both" {
	local long
	long="$(head -c 4080 /dev/zero | tr '\0' a)"
	boot --kernel "$GUESTS/hello.bzimage" --cmdline "$long"
	[ "$status" -eq 1 ] || fail "status $status, want 1"
	[ "${#stderr_lines[@]}" -eq 1 ] || fail "want one line on stderr"
	[[ "$stderr" == *"virtio_mmio.device="* && "$stderr" == *"--no-rng"* ]] ||
		fail "the error does not mention the appended entry"
	[[ "$output" != *"kvbox-guest:"* ]] || fail "a guest ran"
	boot --kernel "$GUESTS/hello.bzimage" --cmdline "$long" --no-rng
	status_is 0
}

# ---- a well-behaved driver ----

@test "virtio-rng.bzimage: probe, status dance, 4 requests, interrupt -> status 0" {
	boot --kernel "$GUESTS/virtio-rng.bzimage" --debug
	rng_ok
	has_err_line "kvbox: virtio-rng at 0xd0000000 irq 5: interrupts by irqfd, notifications by ioeventfd"
	has_err_line "kvbox: virtio-rng: 4 requests, 128 bytes"
	local w
	w="$(err_number '^kvbox: virtio-rng: ioeventfd: ([0-9]+) wakeups for 4 notifications$')"
	[ "$w" -ge 1 ] && [ "$w" -le 4 ] || fail "$w ioeventfd wakeups for 4 notifications"
}

@test "virtio-rng.bzimage without ioeventfd: notifications by MMIO exits" {
	KVBOX_NO_IOEVENTFD=1 boot --kernel "$GUESTS/virtio-rng.bzimage" --debug
	rng_ok
	has_err_line "kvbox: virtio-rng at 0xd0000000 irq 5: interrupts by irqfd, notifications by MMIO exits"
	has_err_line "kvbox: virtio-rng: ioeventfd: 0 wakeups for 0 notifications"
	has_err_line "kvbox: virtio-rng: 4 requests, 128 bytes"
}

@test "virtio-rng.bzimage without irqfd: interrupts by KVM_IRQ_LINE still reach the LAPIC" {
	KVBOX_NO_IRQFD=1 boot --kernel "$GUESTS/virtio-rng.bzimage" --debug
	rng_ok
	has_err_line "kvbox: virtio-rng at 0xd0000000 irq 5: interrupts by KVM_IRQ_LINE, notifications by ioeventfd"
}

@test "virtio-rng.bzimage --cpus 2: device works with an AP parked in wait-for-SIPI" {
	boot --kernel "$GUESTS/virtio-rng.bzimage" --cpus 2
	rng_ok
}

# ---- a hostile driver ----

hostile_ok() {
	no_guest_failures
	local c
	for c in "descriptor loop (0 -> 1 -> 0)" "descriptor pointing at itself" \
		"next index past the table" "head index past the ring" \
		"avail index jumps past the ring size" "buffer address past the end of RAM" \
		"buffer on the device's own MMIO window" "buffer range wrapping past 2^64" \
		"buffer length 0xffffffff" "zero-length chain" "indirect descriptor not negotiated" \
		"descriptor ring on the LAPIC page" "queue size 3 (not a power of two)" \
		"queue size 4096 (above QueueNumMax)" "misaligned descriptor ring"; do
		has_line "kvbox-guest: hostile: $c: NEEDS_RESET, recovered"
	done
	for c in "notification storm" "unknown, read-only and odd-sized register accesses" \
		"bad status transitions" "device writes over the descriptor table it read"; do
		has_line "kvbox-guest: hostile: $c: ignored, device live, recovered"
	done
	has_line "kvbox-guest: virtio-hostile: 20 cases, 15 NEEDS_RESET, device recovered after every one"
	has_line "kvbox-guest: virtio-hostile ok"
	status_is 0
	# guest errors are logged, rate-limited: never a flood
	local n
	n="$(printf '%s\n' "$stderr" | grep -c '^kvbox: virtio-rng: queue' || true)"
	[ "$n" -ge 1 ] && [ "$n" -le 10 ] || fail "$n virtio-rng error lines on stderr, want 1..10"
}

@test "virtio-hostile.bzimage: every abuse ends in NEEDS_RESET or is ignored; device recovers; status 0" {
	boot --kernel "$GUESTS/virtio-hostile.bzimage"
	hostile_ok
}

@test "virtio-hostile.bzimage over the fallbacks (MMIO-exit notify, KVM_IRQ_LINE)" {
	KVBOX_NO_IOEVENTFD=1 KVBOX_NO_IRQFD=1 boot --kernel "$GUESTS/virtio-hostile.bzimage"
	hostile_ok
}

# The storm is 100,000 QueueNotify writes.  Every guest instruction costs
# host CPU on KVM-PVM, so kvbox's total CPU tracks the guest's run time;
# what must not happen is CPU beyond that: the event loop spinning, or
# waking without work.
@test "notification storm: kvbox CPU stays bounded, the event loop sleeps between kicks" {
	command -v /usr/bin/time >/dev/null || skip "needs /usr/bin/time"
	local t="$BATS_TEST_TMPDIR/rusage"
	run --separate-stderr /usr/bin/time -f '%e %U %S' -o "$t" timeout -k 5 60 "$KVBOX" boot \
		--kernel "$GUESTS/virtio-hostile.bzimage" --debug </dev/null
	printf '%s\n' "$stderr" | grep -v '^kvbox: virtio-rng: queue' >&2
	has_line "kvbox-guest: hostile: notification storm: ignored, device live, recovered"
	status_is 0
	local wall user sys
	read -r wall user sys < <(tail -n 1 "$t")
	local wakeups notifies loop_wakeups loop_cpu
	wakeups="$(err_number '^kvbox: virtio-rng: ioeventfd: ([0-9]+) wakeups')"
	notifies="$(err_number '^kvbox: virtio-rng: ioeventfd: [0-9]+ wakeups for ([0-9]+) notifications$')"
	loop_wakeups="$(err_number '^kvbox: event loop: ([0-9]+) wakeups')"
	loop_cpu="$(err_number '^kvbox: event loop: [0-9]+ wakeups, ([0-9.]+) s CPU$')"
	echo "# wall $wall s, user $user s, sys $sys s; ioeventfd $wakeups wakeups for $notifies" \
		"notifications; loop $loop_wakeups wakeups, $loop_cpu s CPU" >&2
	[ "$notifies" -ge 100000 ] || fail "only $notifies notifications reached the ioeventfd"
	[ "$wakeups" -le "$notifies" ] || fail "more ioeventfd wakeups than notifications"
	# every loop wakeup served an fd: the ioeventfd, or stop/signal (a few)
	[ "$loop_wakeups" -le $((wakeups + 10)) ] ||
		fail "event loop woke $loop_wakeups times for $wakeups ioeventfd wakeups"
	awk -v c="$loop_cpu" -v w="$wall" 'BEGIN { exit !(c < 0.6 * w + 0.1) }' ||
		fail "event loop used $loop_cpu s CPU in $wall s"
	# one vCPU thread (busy: on KVM-PVM its time is the guest's emulation)
	# plus a loop that mostly sleeps
	awk -v w="$wall" -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 1.6 * w + 0.3) }' ||
		fail "kvbox used $user s user + $sys s sys in $wall s"
}
