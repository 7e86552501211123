#!/usr/bin/env bats
# Nested tier: the guest agent (guest/agent, static, PID 1) in the real
# guest kernel under kvbox, inside the nested host of tests/nested (real
# KVM under QEMU TCG).  Run it with
#   tests/nested/run bats tests/integration/nested/agent.bats
#
# The host side of virtio-vsock is not wired to the agent yet, so the
# agent runs its self-test mode (kvbox.agent_test=1): it forks a stand-in
# host (guest/agent/selftest.c) and talks to it over vsock loopback, the
# real protocol end to end: HELLO, CREATE of a built-in spec, START, EXEC
# (plain, tty + RESIZE), PS, STATS, WAIT, SIGNAL, exit codes, SHUTDOWN.
# Each check is a console line "AGENT-TEST <name> ok|FAIL ..."; the
# container itself prints id, hostname and its /proc/self/status Cap lines.
#
# Two VM boots in all (TCG is slow):
#   1. the rootfs is a 9p share (--share DIR:kvboxroot) and a second share
#      is bind-mounted at /data from a subdirectory; the initramfs is the
#      one kvbox builds in memory (guest/initramfs.c) plus busybox.
#   2. no shares: the container's rootfs is a tmpfs filled from the
#      initramfs's busybox.

bats_require_minimum_version 1.5.0

applets="sh id hostname awk cat touch ls chown sleep stty tty tr grep echo pwd true wc"

# make_rootfs DIR MARKER: busybox, applet links, the marker and the files
# the spec masks.
make_rootfs() {
	local r=$1
	mkdir -p "$r/bin" "$r/etc/kvbox-secret-dir" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/data"
	cp /bin/busybox "$r/bin/busybox"
	for a in $applets; do ln -sf busybox "$r/bin/$a"; done
	echo "$2" >"$r/etc/kvbox-rootfs"
	echo top-secret >"$r/etc/kvbox-secret"
	echo hidden >"$r/etc/kvbox-secret-dir/file"
}

# boot_agent NAME [kvbox flags...]: boots the agent initramfs with the
# self-test on; console in $BATS_FILE_TMPDIR/NAME.console, exit status in
# NAME.status.
boot_agent() {
	local name=$1 cmdline=$2
	shift 2
	local t=$BATS_FILE_TMPDIR
	set +e
	timeout -k 10 900 "$kvbox" boot --kernel "$kernel" --initrd "$t/initramfs.cpio" --memory 256M \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet 8250.nr_uarts=1 kvbox.agent_test=1 $cmdline" \
		"$@" </dev/null >"$t/$name.raw" 2>"$t/$name.stderr"
	echo $? >"$t/$name.status"
	set -e
	tr -d '\r' <"$t/$name.raw" >"$t/$name.console"
}

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
	export top
	[ -e /dev/kvm ] || { echo "no /dev/kvm: run this inside tests/nested/run" >&2; return 1; }
	if [ -e /sys/module/kvm_pvm ]; then
		echo "this host's KVM is PVM: run this inside tests/nested/run" >&2
		return 1
	fi
	export kvbox=${KVBOX:-$top/build/kvbox}
	export kernel=$top/build/kernel/bzImage
	local mk=$top/build/guest/kvbox-agent-initramfs agent=$top/build/guest/kvbox-agent
	[ -x "$kvbox" ] && [ -f "$kernel" ] && [ -x "$mk" ] && [ -x "$agent" ] ||
		{ echo "build kvbox (ninja -C build) and images/build-kernel first" >&2; return 1; }
	local t=$BATS_FILE_TMPDIR
	"$mk" "$agent" "$t/initramfs.cpio" /bin/busybox:bin/busybox
	cpio -t --quiet <"$t/initramfs.cpio" >"$t/initramfs.list"

	export root=$t/root data=$t/data
	make_rootfs "$root" 9p
	mkdir -p "$data/sub"
	chmod 1777 "$data/sub" # the container runs as uid 1000
	echo "outside the subdir" >"$data/top-level"

	if "$kvbox" boot --help 2>&1 | grep -q -- --share; then
		boot_agent share "kvbox.agent_test_root=kvboxroot kvbox.agent_test_data=kvboxdata" \
			--share "$root:kvboxroot" --share "$data:kvboxdata"
	fi
	boot_agent tmpfs ""
}

# result NAME CHECK: the boot printed "AGENT-TEST CHECK ok"
result() {
	local line
	line=$(grep "^AGENT-TEST $2 " "$BATS_FILE_TMPDIR/$1.console" || true)
	echo "$1: ${line:-<no line for $2>}"
	[ "$line" = "AGENT-TEST $2 ok" ]
}

# all_passed NAME: every check passed and the guest powered off cleanly
all_passed() {
	local c=$BATS_FILE_TMPDIR/$1.console
	echo "status: $(cat "$BATS_FILE_TMPDIR/$1.status")"
	echo "stderr: $(cat "$BATS_FILE_TMPDIR/$1.stderr")"
	grep -E '^(AGENT-TEST|kvbox-agent:)' "$c" || tail -40 "$c"
	grep -q '^AGENT-TEST-DONE passed=[1-9][0-9]* failed=0$' "$c"
	! grep -q '^AGENT-TEST .* FAIL' "$c"
	[ "$(cat "$BATS_FILE_TMPDIR/$1.status")" = 0 ]
}

need_share() {
	[ -f "$BATS_FILE_TMPDIR/share.status" ] || skip "kvbox boot has no --share yet"
}

@test "the in-memory initramfs: /init is the static agent, /dev/console c 5 1, cpio -t lists it" {
	cat "$BATS_FILE_TMPDIR/initramfs.list"
	grep -qx init "$BATS_FILE_TMPDIR/initramfs.list"
	grep -qx dev/console "$BATS_FILE_TMPDIR/initramfs.list"
	grep -qx bin/busybox "$BATS_FILE_TMPDIR/initramfs.list"
	file "$top/build/guest/kvbox-agent" | grep -q 'statically linked'
}

@test "9p rootfs: the agent boots as PID 1, says HELLO over vsock, every self-test check passes, power-off" {
	need_share
	all_passed share
	grep -q '^kvbox-agent: kvbox-agent .* up at' "$BATS_FILE_TMPDIR/share.console"
	grep -q '^kvbox-agent: powering off: SHUTDOWN from the host' "$BATS_FILE_TMPDIR/share.console"
}

@test "9p rootfs: namespaces, pivot_root, uid/gid/groups, hostname in the container" {
	need_share
	for c in create start ct-pid ct-id ct-hostname ct-Uid ct-Gid ct-Groups ct-rootfs \
		ct-initramfs ct-cwd ct-env ct-umask ct-nofile ct-nofile_hard; do
		result share "$c"
	done
	grep -q '^AGENT-TEST-OUT id=uid=1000 gid=1000 groups=10,20$' "$BATS_FILE_TMPDIR/share.console"
	grep -q '^AGENT-TEST-OUT hostname=kvbox-ct$' "$BATS_FILE_TMPDIR/share.console"
}

@test "9p rootfs: capabilities (bounding, ambient), no_new_privs" {
	need_share
	grep '^AGENT-TEST-OUT Cap' "$BATS_FILE_TMPDIR/share.console"
	for c in ct-CapInh ct-CapPrm ct-CapEff ct-CapBnd ct-CapAmb ct-NoNewPrivs ct-chown; do
		result share "$c"
	done
}

@test "9p rootfs: mounts, masked and read-only paths, sysctl, read-only root, devices" {
	need_share
	for c in ct-mount:/:9p ct-mount:/proc:proc ct-mount:/dev:tmpfs ct-mount:/dev/pts:devpts \
		ct-mount:/dev/mqueue:mqueue ct-mount:/sys:sysfs ct-mount:/tmp:tmpfs \
		ct-mount:/etc/kvbox-secret-dir:tmpfs ct-mount:/proc/sys:proc ct-tmp ct-msgmax ct-masked_file ct-masked_dir ct-devnull ct-ptmx \
		ct-exec_rofs ct-exec_procsys ct-exec_msgmax; do
		result share "$c"
	done
	[ ! -e "$root/rofs-probe" ]
}

@test "9p bind mount: the container wrote /data, the host sees it in the share's subdir" {
	need_share
	result share ct-mount:/data:9p
	result share ct-data
	[ "$(cat "$data/sub/written")" = hello-from-container ]
	[ ! -e "$data/written" ]
}

@test "exec, ps, stats, wait, signals, terminal with resize, seccomp, exit codes, error replies" {
	need_share
	for c in exec exec-in-pidns exec-exit-event wait-after-exit exec-detached ps stats \
		signal wait-reply signal-exit signal-all signal-all-exit init-survives-sigterm \
		tty-exec tty-initial-size resize tty-resized tty-name tty-exit seccomp seccomp-nnp \
		exec-missing-binary start-twice-refused create-twice-refused wait-unknown-pid \
		resize-without-tty unknown-type-error stdin-eof-init-exit signal-after-exit; do
		result share "$c"
	done
}

@test "tmpfs rootfs (no shares): every self-test check passes, power-off" {
	all_passed tmpfs
	result tmpfs ct-rootfs
	result tmpfs ct-CapEff
	result tmpfs ct-id
}
