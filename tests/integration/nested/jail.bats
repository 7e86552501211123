#!/usr/bin/env bats
# Nested tier: the sandbox's jail (vmm/sandbox_jail.c, docs/security.md
# "The jail"), seen from the host through /proc while a container runs,
# and what the sandbox still does from inside it (exec, a terminal,
# stats).  Run it with
#   tests/nested/run bats tests/integration/nested/jail.bats
# One VM boot (~10-20 s under TCG).  tests/integration/nested/net.bats
# checks the capability kept with a mirrored network (CAP_NET_ADMIN) and
# that the jailed sandbox gives the interface back.

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
	"$top/images/mkbundle" "$BATS_FILE_TMPDIR/base" sleep 1000 >/dev/null
	jq '.process.terminal = false' "$BATS_FILE_TMPDIR/base/config.json" \
		>"$BATS_FILE_TMPDIR/base/c.json"
	mv "$BATS_FILE_TMPDIR/base/c.json" "$BATS_FILE_TMPDIR/base/config.json"
}

teardown() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	! pgrep -f "kvbox sandbox" >/dev/null || { pgrep -af "kvbox (sandbox|gofer)"; false; }
}

k() { "$kvbox" --root "$R" "$@"; }

@test "a running sandbox is jailed: no capabilities, its own root, limits; exec, a pty and stats still work" {
	k run -d --bundle "$BATS_FILE_TMPDIR/base" j1 </dev/null
	pid=$(k state j1 | jq .pid)
	[ "$pid" -gt 0 ]
	st=/proc/$pid/status
	cat "$st"
	# every capability set empty (no network mirrored: nothing kept)
	for set in CapInh CapPrm CapEff CapBnd CapAmb; do
		grep -qx "$set:	0000000000000000" "$st"
	done
	grep -qx "NoNewPrivs:	1" "$st"
	# its own mount namespace: a read-only tmpfs root, the state
	# directory and a devpts instance, nothing of the host's tree
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
	cat "/proc/$pid/mountinfo"
	[ "$(wc -l <"/proc/$pid/mountinfo")" -eq 3 ]
	awk '$5 == "/" { split($6, o, ","); if (o[1] == "ro" && $(NF-2) == "tmpfs") ok++ }
	     $5 == "/state" { state++ }
	     $5 == "/dev/pts" && $(NF-2) == "devpts" { pts++ }
	     END { exit !(ok == 1 && state == 1 && pts == 1) }' "/proc/$pid/mountinfo"
	[ "$(ls -A "/proc/$pid/root/" | tr '\n' ' ')" = "dev state " ]
	[ ! -e "/proc/$pid/root/etc/passwd" ]
	[ -e /etc/passwd ]
	[ -f "/proc/$pid/root/state/state.json" ]
	[ "$(readlink "/proc/$pid/root/dev/ptmx")" = pts/ptmx ]
	# limits: no core dumps, a bounded fd table
	cat "/proc/$pid/limits"
	grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits"
	read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$pid/limits")
	[ "$soft" -le 4096 ] && [ "$hard" -le 4096 ] && [ "$soft" -eq "$hard" ]
	# every fd above 2 is close-on-exec (O_CLOEXEC is 02000000 in fdinfo)
	for f in /proc/"$pid"/fdinfo/*; do
		n=${f##*/}
		[ "$n" -gt 2 ] || continue
		flags=$(awk '/^flags:/ { print $2 }' "$f")
		(((8#$flags & 8#2000000) != 0)) || { echo "fd $n: flags $flags" >&2; false; }
	done
	# what the sandbox does after start-up, from inside the jail
	run --separate-stderr k exec j1 echo from-exec
	[ "$status" -eq 0 ] && [ "$output" = from-exec ]
	run script -qec "$kvbox --root $R exec -t j1 sh -c 'tty; exit 4'" /dev/null
	echo "$output"
	# a seccomp kill is logged by the kernel with the syscall's number
	[ "$status" -eq 4 ] || { dmesg | grep 'type=1326' | tail -n 3; false; }
	grep -q "/dev/pts/" <<<"$output"
	run k events --stats j1
	echo "$output"
	[ "$(jq .data.kvbox.vmm_rss_bytes <<<"$output")" -gt 0 ]
	k pause j1
	k resume j1
	k kill j1 KILL
	for i in $(seq 100); do [ "$(k state j1 | jq -r .status)" = stopped ] && break; sleep 0.1; done
	[ "$(k state j1 | jq -r .status)" = stopped ]
	# the sandbox removed its control socket through the bound state dir
	[ ! -e "$R/j1/sandbox.sock" ]
	k delete j1
	[ ! -e "$R/j1" ]
}

@test "exec --console-socket: the client's connection carries the pty master" {
	cc -O2 -o "$BATS_TEST_TMPDIR/recvtty" "$BATS_TEST_DIRNAME/recvtty.c"
	k run -d --bundle "$BATS_FILE_TMPDIR/base" j2 </dev/null
	sock=$BATS_TEST_TMPDIR/console.sock
	"$BATS_TEST_TMPDIR/recvtty" "$sock" >"$BATS_TEST_TMPDIR/tty.out" 2>&1 &
	rt=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	run k exec -t --console-socket "$sock" j2 sh -c 'echo via-console-socket; exit 7'
	echo "$output"
	[ "$status" -eq 7 ]
	wait "$rt" || true
	cat -A "$BATS_TEST_TMPDIR/tty.out"
	grep -q "^via-console-socket" "$BATS_TEST_TMPDIR/tty.out"
	# a socket nobody listens on: one clear line, nothing started
	run k exec -t --console-socket "$BATS_TEST_TMPDIR/nosuch.sock" j2 true
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--console-socket $BATS_TEST_TMPDIR/nosuch.sock: connect"* ]]
	k delete --force j2
}
