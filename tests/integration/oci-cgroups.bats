#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host tier: the host cgroup `create` makes for the sandbox (oci/cgroup.h),
# on this host's real cgroupfs (hybrid here; v2 and hybrid are also run in
# the nested tier, tests/integration/nested/cgroups.bats).  No VM can boot
# on a PVM host, so the sandbox is held where it can be looked at: its
# network namespace path is a FIFO, whose open() blocks the sandbox before
# it builds the VM.  That shows the ordering (the sandbox is already in
# its cgroup, with the limits, before any VM exists) and the clean-up
# after `kill -9` of the CLI in the middle of `create`.  Needs root.
#
#   KVBOX  path of the kvbox binary (default: <repo>/build/kvbox)

bats_require_minimum_version 1.5.0

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make cgroups"
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	kvbox=${KVBOX:-$top/build/kvbox}
	# the guest kernel beside build/kvbox, also for another binary (KVBOX=build-asan/kvbox)
	export KVBOX_KERNEL=${KVBOX_KERNEL:-$top/build/kernel/vmlinux}
	root=$BATS_TEST_TMPDIR/root
	b=$BATS_TEST_TMPDIR/bundle
	"$top/images/mkbundle" "$b" true >/dev/null
	mkfifo "$BATS_TEST_TMPDIR/ns"
	id=kvbcg$$
	kb() { "$kvbox" --root "$root" "$@"; }
}

teardown() {
	[ -n "${cli:-}" ] && kill -9 "$cli" 2>/dev/null
	"$kvbox" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
}

# conf JQ-FILTER: edits the bundle's config.json
conf() {
	jq "$1" "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
}

held_netns() {
	conf ".linux.namespaces |= map(if .type == \"network\" then .path = \"$BATS_TEST_TMPDIR/ns\" else . end)"
}

cg_mounts() { awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo; }

# the directories PATH has in any hierarchy
cg_dirs() {
	local m
	for m in $(cg_mounts); do [ -d "$m$1" ] && echo "$m$1"; done
	true
}

# the pids file of PATH (v1 pids hierarchy, or the v2 tree)
pids_dir() {
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		echo "/sys/fs/cgroup$1"
	else
		echo "$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)pids(,|$)/ { print $5; exit }' /proc/self/mountinfo)$1"
	fi
}

# starts create in the background and waits for the sandbox to be in PATH;
# sets $cli and $sandbox
start_held() { # PATH [GLOBAL-FLAGS...]
	local path=$1 i
	shift
	"$kvbox" --root "$root" "$@" create --bundle "$b" "$id" </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 &
	cli=$!
	sandbox=
	for ((i = 0; i < 100; i++)); do
		sandbox=$(cat "$(pids_dir "$path")/cgroup.procs" 2>/dev/null | head -1)
		[ -n "$sandbox" ] && grep -q "^kvbox.sandbox" <(tr '\0' ' ' <"/proc/$sandbox/cmdline") &&
			[ "$(cat "/proc/$sandbox/wchan")" = wait_for_partner ] && return 0
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/out"
	return 1
}

@test "create: the sandbox is in /kvbox/ID in every hierarchy, with the limits, before the VM exists; kill -9 of the CLI, delete --force removes it" {
	held_netns
	conf '.linux.resources = {"memory": {"limit": 268435456}, "cpu": {"quota": 50000, "period": 100000}}'
	start_held "/kvbox/$id"
	cat "/proc/$sandbox/cgroup"
	# every line of a mounted hierarchy names the container's cgroup
	while IFS= read -r line; do
		[ "${line##*:}" = "/kvbox/$id" ] || {
			ctrls=${line#*:}
			ctrls=${ctrls%%:*}
			# not mounted on this host: nothing to join
			! awk -v c="$ctrls" '$0 ~ / - cgroup2? / { split($NF, o, ","); for (i in o) if (o[i] == c) f = 1 }
				END { exit !f }' /proc/self/mountinfo
			[ -n "$ctrls" ]
		}
	done <"/proc/$sandbox/cgroup"
	[ "$(wc -l <"$root/$id/cgroup")" -eq "$(cg_dirs "/kvbox/$id" | wc -l)" ]
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		[ "$(cat "/sys/fs/cgroup/kvbox/$id/memory.max")" = 352321536 ]
		[ "$(cat "/sys/fs/cgroup/kvbox/$id/cpu.max")" = "50000 100000" ]
	else
		m=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
		c=$(awk '$0 ~ / - cgroup / && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
		[ "$(cat "$m/kvbox/$id/memory.limit_in_bytes")" = 352321536 ]
		[ "$(cat "$c/kvbox/$id/cpu.cfs_quota_us")" = 50000 ]
	fi
	[ "$(cat "$(pids_dir "/kvbox/$id")/pids.max")" = 201 ]

	kill -9 "$cli"
	wait "$cli" || true
	cli=
	kill -0 "$sandbox" # still blocked, in its cgroup
	kb delete --force "$id"
	[ -z "$(cg_dirs "/kvbox/$id")" ]
	[ ! -e "$root/$id" ]
	# gone, or a zombie until its new parent reaps it
	st=$(awk '/^State:/ { print $2 }' "/proc/$sandbox/status" 2>/dev/null || true)
	[ -z "$st" ] || [ "$st" = Z ] || { echo "sandbox $sandbox: state $st"; false; }
}

@test "create: a systemd cgroupsPath is laid out as cgroupfs" {
	held_netns
	conf ".linux.cgroupsPath = \"machine.slice:kvbox:$id\""
	start_held "/machine.slice/kvbox-$id.scope" --systemd-cgroup
	grep -q ":/machine.slice/kvbox-$id.scope\$" "/proc/$sandbox/cgroup"
	kill -9 "$cli"
	wait "$cli" || true
	cli=
	kb delete --force "$id"
	[ -z "$(cg_dirs "/machine.slice/kvbox-$id.scope")" ]
}

@test "create: a failure after the cgroup was made (here: the PVM refusal) leaves none" {
	[ -e /sys/module/kvm_pvm ] || skip "needs a KVM-PVM host (its refusal is the failure)"
	run --separate-stderr kb create --bundle "$b" "$id"
	echo "$status: $stderr"
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[ -z "$(cg_dirs "/kvbox/$id")" ]
	[ ! -e "$root/$id" ]
}

@test "create: a bad cgroupsPath is one line naming it, before anything exists" {
	conf '.linux.cgroupsPath = "/kvbox/../../escape"'
	run --separate-stderr kb create --bundle "$b" "$id"
	[ "$status" -eq 1 ]
	[ "$stderr" = "kvbox create: $b/config.json: linux.cgroupsPath: \"/kvbox/../../escape\": \"..\" is not allowed" ] ||
		{ echo "$stderr"; false; }
	conf '.linux.cgroupsPath = "/a/b"'
	run --separate-stderr kb --systemd-cgroup create --bundle "$b" "$id"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'linux.cgroupsPath: "/a/b": expected "slice:prefix:name" with --systemd-cgroup' ]]
	[ -z "$(cg_dirs /escape)" ] && [ -z "$(cg_dirs "/kvbox/$id")" ]
	[ ! -e "$root/$id" ]
}
