#!/usr/bin/env bats
# Nested tier: the host cgroups of a container's sandbox and gofer
# (oci/cgroup.h).  Run it under both layouts:
#   tests/nested/run bats tests/integration/nested/cgroups.bats
#   KVBOX_NESTED_CGROUP=v2 tests/nested/run bats tests/integration/nested/cgroups.bats
# Checked from the host: /proc/PID/cgroup of the sandbox and the gofer, the
# limit files in each hierarchy, `update` changing the host CPU quota,
# `delete` removing the directories, and failed or killed creates leaving
# none behind.

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
	export KVBOX_KERNEL=${KVBOX_KERNEL:-$top/build/kernel/bzImage}
	[ -x "$kvbox" ] && [ -f "$KVBOX_KERNEL" ] ||
		{ echo "build kvbox (ninja -C build) and images/build-kernel first" >&2; return 1; }
	export R=$BATS_FILE_TMPDIR/root
	"$top/images/mkbundle" "$BATS_FILE_TMPDIR/base" true >/dev/null
	export rootfs=$BATS_FILE_TMPDIR/base/rootfs
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		export CGMODE=v2
	else
		export CGMODE=v1
	fi
	echo "# cgroup layout: $CGMODE" >&3
}

teardown() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	! pgrep -f "kvbox (sandbox|gofer)" >/dev/null || { pgrep -af "kvbox (sandbox|gofer)"; false; }
}

# bundle NAME JQ-FILTER CMD [ARG...]: a bundle running CMD, the filter
# applied to its config.json
bundle() {
	local b=$BATS_TEST_TMPDIR/$1 filter=$2
	shift 2
	mkdir -p "$b"
	local args='[]' a
	for a in "$@"; do
		args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args")
	done
	jq --arg root "$rootfs" --argjson args "$args" \
		".root.path = \$root | .process.args = \$args | .process.terminal = false | $filter" \
		"$BATS_FILE_TMPDIR/base/config.json" >"$b/config.json"
	echo "$b"
}

k() { "$kvbox" --root "$R" "$@"; }

# the gofer: the sandbox's one child, exec'd as `... gofer --control-fd ...`
gofer_of() {
	local g
	g=$(pgrep -P "$1")
	[ "$(wc -w <<<"$g")" -eq 1 ] || { echo "children of $1: $g" >&2; return 1; }
	tr '\0' ' ' <"/proc/$g/cmdline" | grep -q " gofer --control-fd " || return 1
	echo "$g"
}

# every cgroup (v1) or cgroup2 mount point
cg_mounts() { awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo; }

# the mount point of the v1 hierarchy with controller $1 (v2: the one mount)
cg_mnt() {
	if [ "$CGMODE" = v2 ]; then
		echo /sys/fs/cgroup
		return
	fi
	awk -v c="$1" '{ split($0, a, " - "); split(a[2], f, " "); n = split(f[3], o, ",");
		if (f[1] != "cgroup") next
		for (i = 1; i <= n; i++) if (o[i] == c) { split(a[1], m, " "); print m[5]; exit } }' \
		/proc/self/mountinfo
}

# cgval CTRL PATH FILE: a limit file's content
cgval() { cat "$(cg_mnt "$1")$2/$3"; }

# the directories PATH has in any hierarchy
cg_dirs() {
	local m
	for m in $(cg_mounts); do [ -d "$m$1" ] && echo "$m$1"; done
	true
}

# every line of /proc/PID/cgroup for a mounted hierarchy names PATH
in_cgroup() { # PID PATH
	local line ctrls m
	cat "/proc/$1/cgroup"
	[ "$(wc -l <"/proc/$1/cgroup")" -ge 1 ]
	while IFS= read -r line; do
		ctrls=${line#*:}
		ctrls=${ctrls%%:*}
		if [ -z "$ctrls" ]; then
			m=$(awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
		else
			m=$(cg_mnt "${ctrls%%,*}")
			[ "${ctrls#name=}" = "$ctrls" ] ||
				m=$(awk -v c="$ctrls" '$0 ~ / - cgroup / && $0 ~ c { print $5; exit }' /proc/self/mountinfo)
		fi
		[ -n "$m" ] || continue # hierarchy not mounted
		[ "${line##*:}" = "$2" ] || { echo "not in $2: $line"; return 1; }
	done <"/proc/$1/cgroup"
}

wait_status() { # ID STATUS [SECONDS]
	local i
	for ((i = 0; i < ${3:-120} * 10; i++)); do
		[ "$(k state "$1" 2>/dev/null | jq -r .status)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "status of $1: $(k state "$1" 2>&1), wanted $2" >&2
	return 1
}

@test "create: sandbox and gofer in /kvbox/ID with the limits; update changes the host CPU quota; delete removes it" {
	b=$(bundle b '.linux.resources = {"memory": {"limit": 268435456},
		"cpu": {"quota": 50000, "period": 100000, "shares": 512}, "pids": {"limit": 32}}' \
		sleep 1000)
	k create --bundle "$b" cg1 </dev/null
	pid=$(k state cg1 | jq .pid)
	gofer=$(gofer_of "$pid")
	in_cgroup "$pid" /kvbox/cg1
	in_cgroup "$gofer" /kvbox/cg1
	# RAM 256 MiB + 64 MiB + 256/16 MiB; pids 8 + 1 vCPU + 3 * 64
	if [ "$CGMODE" = v2 ]; then
		[ "$(cgval memory /kvbox/cg1 memory.max)" = 352321536 ]
		[ "$(cgval cpu /kvbox/cg1 cpu.max)" = "50000 100000" ]
		[ "$(cgval cpu /kvbox/cg1 cpu.weight)" = 20 ]
		[ "$(cgval pids /kvbox/cg1 pids.max)" = 201 ]
		grep -qw memory /sys/fs/cgroup/kvbox/cgroup.subtree_control
		used=$(cgval memory /kvbox/cg1 memory.current)
	else
		[ "$(cgval memory /kvbox/cg1 memory.limit_in_bytes)" = 352321536 ]
		[ "$(cgval cpu /kvbox/cg1 cpu.cfs_quota_us)" = 50000 ]
		[ "$(cgval cpu /kvbox/cg1 cpu.cfs_period_us)" = 100000 ]
		[ "$(cgval cpu /kvbox/cg1 cpu.shares)" = 512 ]
		[ "$(cgval pids /kvbox/cg1 pids.max)" = 201 ]
		[ -n "$(cgval cpuset /kvbox/cg1 cpuset.cpus)" ]
		used=$(cgval memory /kvbox/cg1 memory.usage_in_bytes)
	fi
	[ "$(cgval pids /kvbox/cg1 pids.current)" -ge 3 ]
	k start cg1
	[ "$(k state cg1 | jq -r .status)" = running ]
	if [ "$CGMODE" = v2 ]; then
		used=$(cgval memory /kvbox/cg1 memory.current)
	else
		used=$(cgval memory /kvbox/cg1 memory.usage_in_bytes)
	fi
	echo "# memory charged after start (RAM 256 MiB, limit 336 MiB): $((used >> 20)) MiB;" \
		"threads+processes: $(cgval pids /kvbox/cg1 pids.current)" >&3
	# events --stats reports the host cgroup beside the guest's numbers
	hc=$(k events --stats cg1 | jq -c .data.kvbox.host_cgroup)
	echo "$hc"
	[ "$(jq .memory_limit_bytes <<<"$hc")" = 352321536 ]
	[ "$(jq .pids_limit <<<"$hc")" = 201 ]
	[ "$(jq .memory_bytes <<<"$hc")" -gt 0 ]
	[ "$(jq .pids <<<"$hc")" -ge 3 ]
	[ "$(jq .cpu_usage_ns <<<"$hc")" -gt 0 ]

	echo '{"cpu": {"quota": 20000}, "pids": {"limit": 64}}' | k update --resources - cg1
	if [ "$CGMODE" = v2 ]; then
		[ "$(cgval cpu /kvbox/cg1 cpu.max)" = "20000 100000" ]
	else
		[ "$(cgval cpu /kvbox/cg1 cpu.cfs_quota_us)" = 20000 ]
	fi
	[ "$(cgval pids /kvbox/cg1 pids.max)" = 201 ] # the host's is the sandbox's own
	k update --cpu-quota -1 cg1
	if [ "$CGMODE" = v2 ]; then
		[ "$(cgval cpu /kvbox/cg1 cpu.max)" = "max 100000" ]
	else
		[ "$(cgval cpu /kvbox/cg1 cpu.cfs_quota_us)" = -1 ]
	fi

	[ -n "$(cg_dirs /kvbox/cg1)" ]
	k delete --force cg1
	[ -z "$(cg_dirs /kvbox/cg1)" ]
	[ ! -e "$R/cg1" ]
}

@test "a systemd cgroupsPath is laid out as cgroupfs; kill -9 of the sandbox, then delete --force, leaves nothing" {
	b=$(bundle b '.linux.cgroupsPath = "machine.slice:kvbox:cg2"' sleep 1000)
	k --systemd-cgroup create --bundle "$b" cg2 </dev/null
	pid=$(k state cg2 | jq .pid)
	gofer=$(gofer_of "$pid")
	in_cgroup "$pid" /machine.slice/kvbox-cg2.scope
	in_cgroup "$gofer" /machine.slice/kvbox-cg2.scope
	kill -9 "$pid"
	k delete --force cg2
	[ -z "$(cg_dirs /machine.slice/kvbox-cg2.scope)" ]
	! kill -0 "$gofer" 2>/dev/null
	[ ! -e "$R/cg2" ]
}

@test "a create that fails after the cgroup was made leaves none; a bad cgroupsPath is refused first" {
	# the network namespace is entered by the sandbox, inside the cgroup
	b=$(bundle b '.linux.namespaces |= map(if .type == "network" then .path = "/run/netns/kvbox-none" else . end)' true)
	run -1 k create --bundle "$b" cg3 </dev/null
	echo "$output"
	[[ "$output" == *"/run/netns/kvbox-none"* ]]
	[ -z "$(cg_dirs /kvbox/cg3)" ]
	[ ! -e "$R/cg3" ]

	b=$(bundle b2 '.linux.cgroupsPath = "/kvbox/../escape"' true)
	run -1 k create --bundle "$b" cg4 </dev/null
	echo "$output"
	[[ "$output" == *'linux.cgroupsPath: "/kvbox/../escape": ".." is not allowed'* ]]
	[ "${#lines[@]}" -eq 1 ]
	[ -z "$(cg_dirs /escape)" ] && [ -z "$(cg_dirs /kvbox/cg4)" ]
	[ ! -e "$R/cg4" ]
}

@test "kill -9 of the CLI in the middle of create: delete --force kills what is in the cgroup and removes it" {
	b=$(bundle b '.' sleep 1000)
	"$kvbox" --root "$R" create --bundle "$b" cg5 </dev/null >/dev/null 2>&1 &
	cli=$!
	# the sandbox is in the cgroup as soon as it exists
	# (cgroupfs files have size 0: read them)
	procs=$(cg_mnt pids)/kvbox/cg5/cgroup.procs
	for i in $(seq 300); do
		[ -n "$(cat "$procs" 2>/dev/null)" ] && break
		sleep 0.1
	done
	kill -9 "$cli"
	wait "$cli" || true
	[ -n "$(cat "$procs")" ]
	k delete --force cg5
	[ -z "$(cg_dirs /kvbox/cg5)" ]
	[ ! -e "$R/cg5" ]
}
