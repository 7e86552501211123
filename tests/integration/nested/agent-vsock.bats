#!/usr/bin/env bats
# Nested tier: `kvbox boot --agent` end to end: the VMM builds the agent
# initramfs in memory, adds a virtio-vsock, the real kvbox-agent (PID 1)
# dials the host port from kvbox.agent_port=, says HELLO, the VMM prints
# "kvbox: agent ready: ..." and sends SHUTDOWN, the guest powers off and
# kvbox exits 0.  Also: a guest that never says HELLO, and the deadline.
# Run it with
#   tests/nested/run bats tests/integration/nested/agent-vsock.bats
# KVBOX=path/to/kvbox and KVBOX_KERNEL=path/to/bzImage override the build
# tree's (e.g. from a git worktree without a kernel build).

bats_require_minimum_version 1.5.0

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
	export top
	[ -e /dev/kvm ] || { echo "no /dev/kvm: run this inside tests/nested/run" >&2; return 1; }
	if [ -e /sys/module/kvm_pvm ]; then
		echo "this host's KVM is PVM: run this inside tests/nested/run" >&2
		return 1
	fi
	export kvbox=${KVBOX:-$top/build/kvbox}
	export kernel=${KVBOX_KERNEL:-$top/build/kernel/bzImage}
	[ -x "$kvbox" ] && [ -f "$kernel" ] ||
		{ echo "build kvbox (ninja -C build) and images/build-kernel first" >&2; return 1; }
}

@test "boot --agent: agent says HELLO, the VMM shuts the guest down, exit 0" {
	run --separate-stderr timeout -k 10 600 "$kvbox" boot --kernel "$kernel" --agent \
		--cmdline 'console=ttyS0 reboot=k panic=-1 quiet' </dev/null
	echo "status $status"
	echo "stderr: $stderr"
	echo "console: $output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^kvbox: agent ready: ' <<<"$stderr")" -eq 1 ]
	grep -q '^kvbox: agent ready: protocol 1, agent .*, kernel .*' <<<"$stderr"
}

@test "boot --agent: no HELLO before the deadline is an error" {
	run --separate-stderr timeout -k 10 120 "$kvbox" boot --kernel "$kernel" --agent \
		--agent-timeout 1 --cmdline 'console=ttyS0 reboot=k panic=-1 quiet' </dev/null
	echo "status $status"
	echo "stderr: $stderr"
	[ "$status" -eq 1 ]
	grep -q 'agent: no HELLO within 1 s' <<<"$stderr"
	! grep -q 'agent ready' <<<"$stderr"
}
