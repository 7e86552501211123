# Shared by the nested fault and load suites (faults.bats, load.bats):
# `load oci-helpers` in a bats file.  The style of oci-lifecycle.bats:
# bundle() writes a bundle over one busybox rootfs, k() is kvbox on this
# file's state directory, nothing_left() checks a deleted container left
# nothing on the host.

# oci_setup_file: the common part of setup_file (exports kvbox, R, rootfs)
oci_setup_file() {
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
	export reap=$BATS_FILE_TMPDIR/reap
	cc -O2 -o "$reap" "$BATS_TEST_DIRNAME/reap.c"
	"$top/images/mkbundle" "$BATS_FILE_TMPDIR/base" true >/dev/null
	export rootfs=$BATS_FILE_TMPDIR/base/rootfs
}

# bundle NAME CMD [ARG...]: a bundle whose process runs CMD (no terminal)
# in a 128 MiB VM (io.kvbox.vm.memory), loopback only
bundle() {
	local b=$BATS_TEST_TMPDIR/$1
	shift
	mkdir -p "$b"
	local args='[]' a
	for a in "$@"; do
		args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args")
	done
	jq --arg root "$rootfs" --argjson args "$args" \
		'.root.path = $root | .process.args = $args | .process.terminal = false
		 | .annotations["io.kvbox.vm.memory"] = "128M"' \
		"$BATS_FILE_TMPDIR/base/config.json" >"$b/config.json"
	echo "$b"
}

# edit BUNDLE JQ-FILTER [JQ-ARGS...]: changes BUNDLE/config.json in place
edit() {
	local b=$1 f=$2
	shift 2
	jq "$@" "$f" "$b/config.json" >"$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
}

k() { "$kvbox" --root "$R" "$@"; }

status_of() { k state "$1" | jq -r .status; }

wait_status() { # ID STATUS [SECONDS]
	local i
	for ((i = 0; i < ${3:-60} * 10; i++)); do
		[ "$(status_of "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "status of $1: $(status_of "$1" 2>&1), wanted $2" >&2
	return 1
}

# sandbox_pid ID: the live `kvbox sandbox ... ID` process, if any
sandbox_pid() { pgrep -f "kvbox sandbox .* $1\$" | head -n1; }

# gofer_of PID: the gofer child of sandbox PID (found through /proc)
gofer_of() {
	local p
	for p in $(pgrep -P "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q " gofer --control-fd " &&
			{ echo "$p"; return 0; }
	done
	return 1
}

# orphan_gofers: gofers whose sandbox (--parent-pid) is gone (a gofer
# follows its sandbox within a moment: 5 s are allowed)
orphan_gofers() {
	local i p pp out
	for ((i = 0; i < 50; i++)); do
		out=
		for p in $(pgrep -f " gofer --control-fd"); do
			pp=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n '/^--parent-pid$/{n;p}')
			[ -n "$pp" ] && [ -d "/proc/$pp" ] || out="$out $p"
		done
		[ -z "$out" ] && return 1
		sleep 0.1
	done
	echo "gofers without a sandbox:$out" >&2
	return 0
}

# nothing_left ID [NETNS]: no state directory, no sandbox, no orphaned
# gofer, no tap (in the host's namespace and in NETNS), no mount more than
# when the file started (mounts0 from setup_file)
nothing_left() {
	[ ! -e "$R/$1" ] || { ls -la "$R/$1"; return 1; }
	[ -z "$(sandbox_pid "$1")" ] || { pgrep -af "kvbox sandbox .* $1\$"; return 1; }
	! orphan_gofers
	! ip -o link | grep -q kvbtap || { ip -o link | grep kvbtap; return 1; }
	if [ -n "${2:-}" ]; then
		! ip -n "$2" -o link | grep -q kvbtap || { ip -n "$2" -o link; return 1; }
		! tc -n "$2" qdisc show | grep -q ingress || { tc -n "$2" qdisc show; return 1; }
	fi
	if [ -n "${mounts0:-}" ]; then
		local m
		m=$(wc -l </proc/self/mountinfo)
		[ "$m" -eq "$mounts0" ] || { echo "mounts: $m, $mounts0 before" >&2; return 1; }
	fi
}
