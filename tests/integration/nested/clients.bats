#!/usr/bin/env bats
# Nested tier: real clients driving kvbox as their OCI runtime, every
# container a microVM.  podman 4.3 (through conmon) and containerd 1.6 (ctr,
# through containerd-shim-runc-v2) run local busybox rootfs directories:
# the nested host has no network and no registry.  Run it with
#   tests/nested/run bats tests/integration/nested/clients.bats
# Everything is slow under TCG (a podman command alone takes seconds, each
# container boots a VM): the whole file takes several minutes.  After every
# test no kvbox sandbox or gofer, no conmon or shim and no container may be
# left.  KVBOX=/path/to/a/wrapper (e.g. one adding --debug) replaces the
# runtime binary both clients are given.

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
	"$top/images/mkbundle" "$BATS_FILE_TMPDIR/base" true >/dev/null
	export rootfs=$BATS_FILE_TMPDIR/base/rootfs

	# podman: all its storage in the temp dir, no systemd, no journald, no
	# CNI.  root here lacks CAP_SYS_RESOURCE, hence the ulimits (podman
	# would ask for hard limits above its own).
	export pd=$BATS_FILE_TMPDIR/podman
	mkdir -p "$pd/tmp"
	cat >"$pd/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		netns = "none"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
	EOF
	export CONTAINERS_CONF=$pd/containers.conf

	# containerd: its own root, state and socket; no CRI
	export cdir=$BATS_FILE_TMPDIR/containerd
	export sock=$cdir/containerd.sock
	mkdir -p "$cdir"
	cat >"$cdir/config.toml" <<-EOF
		version = 2
		root = "$cdir/root"
		state = "$cdir/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$sock"
		[ttrpc]
		  address = "$sock.ttrpc"
	EOF
	containerd --config "$cdir/config.toml" >"$cdir/containerd.log" 2>&1 &
	echo $! >"$cdir/pid"
	local i
	for ((i = 0; i < 600; i++)); do
		ctr -a "$sock" version >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$cdir/pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "containerd did not start:" >&2
	tail -20 "$cdir/containerd.log" >&2
	return 1
}

teardown_file() {
	local pid
	pid=$(cat "$cdir/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	! kill -0 "$pid" 2>/dev/null
}

# podman with the storage and settings of setup_file, kvbox as the runtime
p() {
	timeout -k 10 300 podman --root "$pd/root" --runroot "$pd/runroot" --tmpdir "$pd/tmp" \
		--storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
		--runtime "$kvbox" "$@"
}

c() { timeout -k 10 300 ctr -a "$sock" "$@"; }

# eventually SECONDS CMD...: CMD succeeds within SECONDS
eventually() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

no_runtime_processes() {
	! pgrep -f "kvbox (sandbox|gofer)" >/dev/null && ! pgrep -x conmon >/dev/null &&
		! pgrep -f containerd-shim >/dev/null
}

# nothing_left: no container in kvbox's default root (podman's) or in the
# shim's root (containerd's), no podman or containerd container, and no
# sandbox, gofer, conmon or shim process (they may take a moment to be
# reaped: PID 1 here reaps late)
nothing_left() {
	local left
	left=$("$kvbox" list -q 2>&1; "$kvbox" --root /run/containerd/runc/default list -q 2>&1)
	[ -z "$left" ] || { echo "kvbox containers left: $left"; return 1; }
	left=$(p ps -aq)
	[ -z "$left" ] || { echo "podman containers left: $left"; return 1; }
	left=$(c containers ls -q; c tasks ls -q)
	[ -z "$left" ] || { echo "containerd containers left: $left"; return 1; }
	eventually 15 no_runtime_processes ||
		{ pgrep -af "kvbox (sandbox|gofer)|conmon|containerd-shim"; return 1; }
}

teardown() {
	# whatever a test left behind
	p rm -af -t 0 >/dev/null 2>&1 || true
	local id
	for id in $(c tasks ls -q 2>/dev/null); do
		c tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
		eventually 20 sh -c "ctr -a '$sock' tasks delete '$id' >/dev/null 2>&1" || true
	done
	for id in $(c containers ls -q 2>/dev/null); do
		c containers delete "$id" >/dev/null 2>&1 || true
	done
	for id in $("$kvbox" list -q 2>/dev/null); do
		"$kvbox" delete --force "$id" >/dev/null 2>&1 || true
	done
	eventually 15 no_runtime_processes || { pgrep -af "kvbox (sandbox|gofer)|conmon|containerd-shim"; false; }
}

p_status() { p inspect --format '{{.State.Status}}' "$1"; }

# ---- podman ----

@test "podman run --rm: the container's output, exit 0, then exit 7; nothing left" {
	run --separate-stderr p run --rm --network none --rootfs "$rootfs" echo hello
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	run --separate-stderr p run --rm --network none --rootfs "$rootfs" sh -c 'echo bye >&2; exit 7'
	echo "$output / $stderr"
	[ "$status" -eq 7 ]
	[ "$stderr" = bye ]
	nothing_left
}

@test "podman exec, pause/unpause, stop (15, then 9 after --time 2), rm" {
	p run -d --name p2 --network none --rootfs "$rootfs" sleep 1000
	[ "$(p_status p2)" = running ]
	run --separate-stderr p exec p2 echo from-exec
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = from-exec ]
	run p exec p2 sh -c 'exit 5'
	[ "$status" -eq 5 ]
	run p exec p2 ps
	echo "$output"
	grep -q "sleep 1000" <<<"$output"
	p pause p2
	[ "$(p_status p2)" = paused ]
	p unpause p2
	[ "$(p_status p2)" = running ]
	run p exec p2 echo after-unpause
	[ "$output" = after-unpause ]
	# busybox sleep as PID 1 has no handler for SIGTERM: the KILL ends it
	start=$(date +%s)
	p stop --time 2 p2
	[ "$(($(date +%s) - start))" -ge 2 ]
	[ "$(p_status p2)" = exited ]
	[ "$(p inspect --format '{{.State.ExitCode}}' p2)" -eq 137 ]
	p rm p2
	nothing_left
}

@test "podman rm -f of a running container; a trapped SIGTERM ends it with its own code" {
	p run -d --name p3 --network none --rootfs "$rootfs" sleep 1000
	[ "$(p_status p3)" = running ]
	p rm -f p3
	run p inspect p3
	[ "$status" -ne 0 ]
	p run -d --name p4 --network none --rootfs "$rootfs" \
		sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done'
	p stop --time 60 p4
	[ "$(p inspect --format '{{.State.ExitCode}}' p4)" -eq 42 ]
	p rm p4
	nothing_left
}

# ---- containerd (ctr, containerd-shim-runc-v2) ----

# logs_reach NAME N: the container's log has a line N
logs_reach() { p logs "$1" 2>/dev/null | grep -qx "$2"; }

@test "podman container checkpoint and restore: the container counts on where it stopped" {
	# checkpointing wants an image, not --rootfs: the busybox rootfs as one
	tar -C "$rootfs" -c . | p import - localhost/kvbox-bb >/dev/null
	p run -d --name p4 --network none localhost/kvbox-bb \
		sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.3; done'
	eventually 120 logs_reach p4 3
	p container checkpoint p4
	[ "$(p_status p4)" = exited ]
	last=$(p logs p4 | tail -n1)
	p container restore p4
	[ "$(p_status p4)" = running ]
	eventually 120 logs_reach p4 $((last + 3))
	# one log: 1, 2, 3, ... with nothing lost or repeated across the two
	run p logs p4
	awk 'NR != $1 { print "line " NR ": " $0; exit 1 }' <<<"$output"
	p rm -f p4
	p rmi localhost/kvbox-bb >/dev/null
	nothing_left
}

@test "ctr run --rm: the container's output, exit 0, then exit 7; nothing left" {
	run --separate-stderr c run --rm --runc-binary "$kvbox" --rootfs "$rootfs" k1 echo hello
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	run c run --rm --runc-binary "$kvbox" --rootfs "$rootfs" k2 sh -c 'exit 7'
	echo "$output"
	[ "$status" -eq 7 ]
	nothing_left
}

@test "ctr task exec, pause/resume, kill (TERM ignored by sleep, then KILL), delete" {
	c run -d --runc-binary "$kvbox" --rootfs "$rootfs" k3 sleep 1000
	[ "$(c tasks ls | awk '$1 == "k3" {print $3}')" = RUNNING ]
	run --separate-stderr c tasks exec --exec-id e1 k3 echo from-exec
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = from-exec ]
	run c tasks exec --exec-id e2 k3 sh -c 'exit 5'
	[ "$status" -eq 5 ]
	run c tasks ps k3
	echo "$output"
	[ "$status" -eq 0 ]
	c tasks pause k3
	[ "$(c tasks ls | awk '$1 == "k3" {print $3}')" = PAUSED ]
	c tasks resume k3
	[ "$(c tasks ls | awk '$1 == "k3" {print $3}')" = RUNNING ]
	run c tasks exec --exec-id e3 k3 echo after-resume
	[ "$output" = after-resume ]
	c tasks kill k3 # SIGTERM: busybox sleep as PID 1 ignores it
	sleep 2
	[ "$(c tasks ls | awk '$1 == "k3" {print $3}')" = RUNNING ]
	c tasks kill -s SIGKILL k3
	eventually 30 sh -c "ctr -a '$sock' tasks ls | awk '\$1 == \"k3\" {print \$3}' | grep -qx STOPPED"
	# ctr 1.6 logs the init's non-zero exit code as a warning, status 0
	run c tasks delete k3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"non-zero exit code 137"* ]]
	c containers delete k3
	nothing_left
}
