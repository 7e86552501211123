#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host tier: the lifecycle commands' refusals that need no VM (on this PVM
# host a container cannot boot, which is itself one of the errors
# checked): one clear line on stderr, exit status 1, and nothing left
# behind (no state directory, no sandbox or gofer process).
#
#   KVBOX  path of the kvbox binary (default: <repo>/build/kvbox)

bats_require_minimum_version 1.5.0

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	kvbox=${KVBOX:-$top/build/kvbox}
	root=$BATS_TEST_TMPDIR/root
	b=$BATS_TEST_TMPDIR/bundle
	"$top/images/mkbundle" "$b" true >/dev/null
	kb() { "$kvbox" --root "$root" "$@"; }
}

one_line_error() {
	echo "status $status stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

nothing_left() {
	[ -z "$(ls "$root" 2>/dev/null | grep -v '^@global.lock$')" ]
	! pgrep -f "kvbox (sandbox|gofer)" >/dev/null
}

@test "create: a missing bundle is named" {
	run --separate-stderr kb create --bundle "$BATS_TEST_TMPDIR/nope" c1
	one_line_error
	[[ "$stderr" == *"$BATS_TEST_TMPDIR/nope"* ]]
	nothing_left
}

@test "create: a malformed config.json names the JSON path" {
	jq '.process.user.uid = "root"' "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	run --separate-stderr kb create --bundle "$b" c2
	one_line_error
	[[ "$stderr" == *"process.user.uid"* ]]
	nothing_left
}

@test "create: a bind mount whose source does not exist is named" {
	jq '.mounts += [{destination: "/data", type: "bind", source: "/nonexistent/dir", options: ["rbind"]}]' \
		"$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	run --separate-stderr kb create --bundle "$b" c3
	one_line_error
	[[ "$stderr" == *"/nonexistent/dir"* ]]
	nothing_left
}

@test "create: terminal without --console-socket is refused" {
	jq '.process.terminal = true' "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	run --separate-stderr kb create --bundle "$b" c4
	one_line_error
	[[ "$stderr" == *"--console-socket"* ]]
	nothing_left
}

@test "create: a guest kernel that cannot run here is one line, and nothing is left" {
	[ -e /sys/module/kvm_pvm ] || skip "needs a KVM-PVM host (this check is about its refusal)"
	[ -f "$top/build/kernel/vmlinux" ] || skip "no build/kernel/vmlinux (images/build-kernel)"
	KVBOX_KERNEL=$top/build/kernel/vmlinux run --separate-stderr kb create --bundle "$b" c5
	one_line_error
	[[ "$stderr" == *"PVM"* ]]
	nothing_left
}

@test "create: a missing guest kernel is named with the fix" {
	KVBOX_KERNEL=/nonexistent/vmlinux run --separate-stderr kb create --bundle "$b" c6
	one_line_error
	[[ "$stderr" == *"/nonexistent/vmlinux"* ]]
	[[ "$stderr" == *"KVBOX_KERNEL"* ]]
	nothing_left
}

@test "commands on an unknown id: does not exist, exit 1" {
	for cmd in start kill pause resume ps events exec update; do
		extra=()
		[ "$cmd" = exec ] && extra=(true)
		run --separate-stderr kb "$cmd" nosuch "${extra[@]}"
		one_line_error
		[[ "$stderr" == *'container "nosuch" does not exist'* ]]
	done
	nothing_left
}

@test "kill: an invalid signal and a bad id are refused before anything else" {
	run --separate-stderr kb kill nosuch NOSIG
	one_line_error
	[[ "$stderr" == *'unknown signal "NOSIG"'* ]]
	run --separate-stderr kb kill ../x 9
	one_line_error
}

@test "exec: a command is required; events: a bad interval is named" {
	run --separate-stderr kb exec someid
	one_line_error
	[[ "$stderr" == *"command"* ]]
	run --separate-stderr kb events --interval soon someid
	one_line_error
	[[ "$stderr" == *"--interval soon"* ]]
}

@test "update: unknown flag and malformed resources JSON" {
	run --separate-stderr kb update --bogus 1 someid
	one_line_error
	[[ "$stderr" == *"--bogus"* ]]
}

@test "create: a full disk under the state directory is named; nothing is left" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	mnt=$BATS_TEST_TMPDIR/small
	mkdir -p "$mnt"
	mount -t tmpfs -o size=64k kvbfull "$mnt"
	dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
	# any readable file passes create's kernel check; the state fails first
	: >"$BATS_TEST_TMPDIR/kernel"
	KVBOX_KERNEL=$BATS_TEST_TMPDIR/kernel run --separate-stderr "$kvbox" --root "$mnt/root" \
		create --bundle "$b" c9
	ls -A "$mnt/root" >"$BATS_TEST_TMPDIR/left" 2>&1 || true
	umount "$mnt"
	one_line_error
	[[ "$stderr" == *"$mnt/root/c9/state.json.tmp: No space left on device"* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/left")" = "@global.lock" ]
	! pgrep -f "kvbox (sandbox|gofer)" >/dev/null
}
