#!/usr/bin/env bats
# Nested tier: kvbox's own seccomp filters in the container's processes
# (docs/security.md "Seccomp").  For each sandbox role (the vCPU threads,
# the event loop, the gofer) KVBOX_SECCOMP_SELFTEST=ROLE makes the code
# call reboot(2) right after loading ROLE's real filter: `create` must
# fail saying the process died of SIGSYS, and leave nothing behind.  Then
# a running container: every thread of the sandbox and the gofer is
# filtered.  The rest of the nested suite runs with the filters on.
#   tests/nested/run bats tests/integration/nested/seccomp.bats

bats_require_minimum_version 1.5.0

load oci-helpers

setup_file() {
	oci_setup_file
}

setup() {
	ulimit -c 0 # a killed sandbox must not leave a core of guest RAM
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	! pgrep -f "kvbox (sandbox|gofer)" >/dev/null || { pgrep -af "kvbox (sandbox|gofer)"; false; }
}

# selftest ROLE: create under KVBOX_SECCOMP_SELFTEST=ROLE must fail with
# the expected line, and leave no state and no process
selftest() {
	local role=$1 want=$2 b
	b=$(bundle "b-$role" true)
	# the container's stdout is create's: /dev/null, not bats's pipe
	# (a sandbox that survives would hold it open)
	KVBOX_SECCOMP_SELFTEST=$role run --separate-stderr timeout -k 5 300 \
		sh -c 'exec "$@" >/dev/null' sh "$kvbox" --root "$R" create --bundle "$b" "c-$role" </dev/null
	echo "status $status, stderr: $stderr" >&2
	[ "$status" -ne 0 ] && [ "$status" -lt 124 ] || return 1
	[[ "$stderr" == *"$want"* ]] || { echo "missing: $want" >&2; return 1; }
	[ ! -e "$R/c-$role" ] || { echo "state left behind" >&2; return 1; }
}

@test "vcpu: a forbidden call on a sandbox's vCPU thread kills the sandbox with SIGSYS" {
	selftest vcpu "the sandbox died of signal 31 (Bad system call) while starting"
}

@test "vmm: a forbidden call on the sandbox's event loop kills it with SIGSYS" {
	selftest vmm "the sandbox died of signal 31 (Bad system call) while starting"
}

@test "gofer: a forbidden call in the container's gofer kills it with SIGSYS" {
	selftest gofer "gofer did not start: killed by signal 31 (Bad system call)"
}

@test "uffd: a forbidden call on the lazy-RAM thread of a template start kills the sandbox with SIGSYS" {
	# a template to start from: the selftests above killed the builds
	# they started, and a failed build is not retried until this
	run -0 "$kvbox" template build --memory 128 # the bundles' size
	selftest uffd "the sandbox died of signal 31 (Bad system call) while starting"
}

@test "a running container: every sandbox thread (vCPUs, loop, relays) and the gofer are filtered" {
	local b pid gofer s n=0 vcpus=0
	b=$(bundle run sh -c 'echo up; sleep 60')
	# files, not /dev/null: the sandbox relays stdout and stderr
	k create --bundle "$b" c-run >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" </dev/null ||
		{ cat "$BATS_TEST_TMPDIR/err" >&2; return 1; }
	k start c-run
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qx up "$BATS_TEST_TMPDIR/out" && break
		sleep 0.1
	done
	grep -qx up "$BATS_TEST_TMPDIR/out" || { echo "no output relayed" >&2; return 1; }
	pid=$(k state c-run | jq -r .pid)
	# the gofer: found by its command line (its comm is kvbox-gofer)
	gofer=$(pgrep -P "$pid" -f '^[^ ]* gofer ' | head -n 1)
	[ -n "$gofer" ] || { echo "no gofer under sandbox $pid" >&2; return 1; }
	for s in /proc/"$pid"/task/*/status /proc/"$gofer"/status; do
		echo "$(awk '/^Name:|^Seccomp:|^Seccomp_filters:/ {printf "%s ", $2}' "$s")" >&2
		# mode 2 (filter) and one filter: nothing stacked
		grep -q '^Seccomp:[[:space:]]*2$' "$s" || { echo "unfiltered: $s" >&2; return 1; }
		grep -q '^Seccomp_filters:[[:space:]]*1$' "$s" || { echo "stacked: $s" >&2; return 1; }
		grep -q '^Name:[[:space:]]*kvbox-vcpu' "$s" && vcpus=$((vcpus + 1))
		n=$((n + 1))
	done
	# the loop, at least one vCPU, the stdout/stderr relays, the gofer
	[ "$vcpus" -ge 1 ] && [ "$n" -ge 5 ] || { echo "$n threads, $vcpus vCPUs" >&2; return 1; }
	k kill c-run KILL
	k delete --force c-run
}
