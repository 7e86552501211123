#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host-tier tests of kvbox's own seccomp filters (security/, docs/security.md
# "Seccomp"): for each role, a call the role's allow-list forbids kills the
# process with SIGSYS, and the filters are on in normal runs.  The forbidden
# call comes from KVBOX_SECCOMP_SELFTEST=ROLE, which makes the code call
# reboot(2) right after loading ROLE's real filter.  `kvbox boot` runs
# purpose-built guests of tests/guests (they run on KVM-PVM too); the gofer
# runs with `kvbox boot --share`.  The sandbox's roles are proved in the
# nested tier (tests/integration/nested/seccomp.bats).
#
# Needs: a built tree (ninja -C build) and read-write /dev/kvm.
#   KVBOX         path of the kvbox binary   (default: <repo>/build/kvbox)
#   KVBOX_GUESTS  folder of the built guests (default: <repo>/build/tests/guests)

bats_require_minimum_version 1.5.0

SIGSYS_STATUS=159 # 128 + SIGSYS (31)

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	KVBOX="${KVBOX:-$ROOT/build/kvbox}"
	GUESTS="${KVBOX_GUESTS:-$ROOT/build/tests/guests}"
	[ -x "$KVBOX" ] || fail "no kvbox binary at $KVBOX (build it: ninja -C $ROOT/build)"
	# a killed VMM must not leave a core of guest RAM in the test's cwd
	ulimit -c 0
	cd "$BATS_TEST_TMPDIR"
}

fail() {
	echo "$*" >&2
	return 1
}

needs_kvm() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs read-write /dev/kvm"
}

# boot ARGS...: kvbox boot under a timeout, stdout and stderr apart.
boot() {
	run --separate-stderr timeout -k 5 120 "$KVBOX" boot "$@" </dev/null
	echo "# kvbox boot $* -> status $status" >&2
	printf '%s\n' "$output" >&2
	echo "# stderr:" >&2
	printf '%s\n' "$stderr" >&2
}

status_is() {
	[ "$status" -eq "$1" ] || fail "exit status $status, want $1"
}

no_guest_output() {
	[[ "$output" != *"kvbox-guest:"* ]] || fail "the guest ran before the filters were in place"
}

# Seccomp mode of each thread of PID, one "NAME MODE FILTERS" per line.
thread_modes() {
	local s
	for s in /proc/"$1"/task/*/status; do
		awk '/^Name:/ {n = $2} /^Seccomp:/ {m = $2} /^Seccomp_filters:/ {f = $2}
		     END {print n, m, f}' "$s"
	done
}

# ---- vCPU threads ----

@test "vcpu: a forbidden call on a vCPU thread kills the VMM with SIGSYS before the guest runs" {
	needs_kvm
	KVBOX_SECCOMP_SELFTEST=vcpu boot --kernel "$GUESTS/hello.bzimage"
	status_is $SIGSYS_STATUS
	no_guest_output
}

@test "vcpu: --debug does not turn the filter off" {
	needs_kvm
	KVBOX_SECCOMP_SELFTEST=vcpu boot --kernel "$GUESTS/hello.bzimage" --debug --cpus 2
	status_is $SIGSYS_STATUS
	no_guest_output
}

# ---- the VMM's main thread ----

@test "vmm: a forbidden call on the event loop kills the VMM with SIGSYS before the guest runs" {
	needs_kvm
	KVBOX_SECCOMP_SELFTEST=vmm boot --kernel "$GUESTS/hello.bzimage" --debug
	status_is $SIGSYS_STATUS
	no_guest_output
}

@test "vmm and vcpu: every thread of a running VMM is filtered, the guest still works" {
	needs_kvm
	timeout -k 5 60 "$KVBOX" boot --kernel "$GUESTS/halt.bzimage" --cpus 2 \
		</dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 &
	local pid=$! i
	# `timeout` is $pid; the VMM is its child
	local vmm=""
	for i in $(seq 100); do
		grep -q "halting" "$BATS_TEST_TMPDIR/out" 2>/dev/null && vmm=$(pgrep -P $pid -x kvbox) && break
		sleep 0.1
	done
	[ -n "$vmm" ] || { cat "$BATS_TEST_TMPDIR/out" >&2; kill $pid; fail "the VMM did not start"; }
	local modes
	modes=$(thread_modes "$vmm")
	echo "$modes" >&2
	kill -TERM "$vmm"
	wait $pid || true
	# every thread (the loop, 2 vCPUs, KVM's own workers started from
	# them) in mode 2 (filter) with exactly one filter: the vCPUs' filter
	# is not stacked on the main thread's
	! grep -v ' 2 1$' <<<"$modes" || fail "a thread without exactly one filter"
	[ "$(grep -c '^kvbox-vcpu' <<<"$modes")" -eq 2 ] || fail "expected 2 vCPU threads"
	grep -q '^kvbox 2 1$' <<<"$modes" || fail "no main thread"
}

# ---- the gofer ----

@test "gofer: a forbidden call after the jail kills the gofer with SIGSYS; the VMM says so" {
	needs_kvm
	mkdir -p "$BATS_TEST_TMPDIR/share"
	KVBOX_SECCOMP_SELFTEST=gofer boot --kernel "$GUESTS/hello.bzimage" \
		--share "$BATS_TEST_TMPDIR/share:data"
	status_is 1
	no_guest_output
	[[ "$stderr" == *"gofer did not start: killed by signal 31 (Bad system call)"* ]] ||
		fail "no line naming SIGSYS"
}

@test "gofer: filtered in a normal boot, holds only its 7 capabilities, takes guest RAM and shuts down cleanly" {
	needs_kvm
	mkdir -p "$BATS_TEST_TMPDIR/share"
	timeout -k 5 60 "$KVBOX" boot --kernel "$GUESTS/halt.bzimage" \
		--share "$BATS_TEST_TMPDIR/share:data" </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 &
	local pid=$! i vmm="" gofer=""
	for i in $(seq 100); do
		if grep -q "halting" "$BATS_TEST_TMPDIR/out" 2>/dev/null; then
			vmm=$(pgrep -P $pid -x kvbox) && gofer=$(pgrep -P "$vmm") && break
		fi
		sleep 0.1
	done
	[ -n "$gofer" ] || { cat "$BATS_TEST_TMPDIR/out" >&2; kill $pid; fail "no gofer"; }
	local modes caps
	modes=$(thread_modes "$gofer")
	echo "gofer: $modes" >&2
	# gofer/jail.c's GOFER_CAPS: chown, dac_override, dac_read_search,
	# fowner, fsetid, mknod, setfcap (bits 0-4, 27, 31), in every set
	caps=$(awk '/^Cap(Prm|Eff|Bnd|Amb|Inh):/ {printf "%s=%s ", $1, $2}' /proc/"$gofer"/status)
	echo "gofer: $caps" >&2
	kill -TERM "$vmm"
	status=0
	wait $pid || status=$?
	cat "$BATS_TEST_TMPDIR/out" >&2
	[[ "$modes" == *" 2 1" ]] && [ "$(wc -l <<<"$modes")" -eq 1 ] ||
		fail "the gofer is not filtered"
	if [ "$(id -u)" = 0 ]; then
		[ "$caps" = "CapInh:=0000000000000000 CapPrm:=000000008800001f CapEff:=000000008800001f CapBnd:=000000008800001f CapAmb:=0000000000000000 " ] ||
			fail "the gofer's capabilities: $caps"
	fi
	# SIGTERM: 128 + 15 from the VMM; the gofer went without a word
	status_is 143
	! grep -q "gofer" "$BATS_TEST_TMPDIR/out" || fail "the gofer complained"
}

# ---- the CLI ----

@test "cli: a forbidden call kills a filtered command (list) with SIGSYS" {
	mkdir -p "$BATS_TEST_TMPDIR/root"
	run "$KVBOX" --root "$BATS_TEST_TMPDIR/root" list
	status_is 0
	KVBOX_SECCOMP_SELFTEST=cli run "$KVBOX" --root "$BATS_TEST_TMPDIR/root" list
	status_is $SIGSYS_STATUS
	KVBOX_SECCOMP_SELFTEST=cli run "$KVBOX" --debug --root "$BATS_TEST_TMPDIR/root" state nosuch
	status_is $SIGSYS_STATUS
}

@test "cli: commands that run hooks or exec the sandbox are not filtered (create, delete)" {
	mkdir -p "$BATS_TEST_TMPDIR/root"
	KVBOX_SECCOMP_SELFTEST=cli run "$KVBOX" --root "$BATS_TEST_TMPDIR/root" delete nosuch
	echo "$output" >&2
	[ "$status" -ne $SIGSYS_STATUS ] && [ "$status" -ne 0 ] || fail "status $status"
	[[ "$output" == *nosuch* ]] || fail "no error naming the container"
	KVBOX_SECCOMP_SELFTEST=cli run "$KVBOX" --root "$BATS_TEST_TMPDIR/root" create \
		--bundle "$BATS_TEST_TMPDIR/nobundle" x1
	echo "$output" >&2
	[ "$status" -ne $SIGSYS_STATUS ] && [ "$status" -ne 0 ] || fail "status $status"
}
