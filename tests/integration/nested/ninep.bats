#!/usr/bin/env bats
# Nested tier: the real Linux 9p client (guest kernel of images/) against
# kvbox's virtio-9p devices and gofer process, inside the nested host of
# tests/nested (real KVM under QEMU TCG).  Run it with
#   tests/nested/run bats tests/integration/nested/ninep.bats
#
# Two VM boots in all (TCG is slow):
#   1. setup_file boots the guest kernel with a test initramfs whose /init
#      (ninep-guest.sh, plus the static ninep-probe) mounts two shares
#      (--share DIR:kvboxtest, --share DIR:kvboxro:ro) and runs the POSIX
#      checklist, one console line per check; each @test below then checks
#      one line and what the host sees in the share after the VM ended.
#   2. --rootfs: the guest boots with a host directory as its root.
# Plus bad --share/--rootfs input (no VM), and no gofer process left behind.
# KVBOX_NINEP_BIG_MB (default 16) sizes the large-file check.

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
	export kernel=$top/build/kernel/bzImage
	[ -x "$kvbox" ] && [ -f "$kernel" ] || { echo "build kvbox and images/build-kernel first" >&2; return 1; }
	local t=$BATS_FILE_TMPDIR
	export share=$t/share ro=$t/ro outside=$t/outside

	# the test initramfs: busybox, the checklist as /init, the probe
	local root=$t/initramfs
	mkdir -p "$root"/bin "$root"/dev "$root"/proc "$root"/sys "$root"/mnt "$root"/ro "$root"/tmp
	cp /bin/busybox "$root/bin/busybox"
	cp "$BATS_TEST_DIRNAME/ninep-guest.sh" "$root/init"
	chmod 755 "$root/init"
	cc -static -O2 -o "$root/ninep-probe" "$BATS_TEST_DIRNAME/ninep-probe.c"
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$t/initramfs.cpio"

	# what the host prepares in the shares
	mkdir -p "$share/hostmany" "$ro" "$outside"
	echo "KVBOX-SECRET-$RANDOM$RANDOM" >"$outside/secret"
	ln -s "$outside/secret" "$share/esc_abs"
	ln -s ../outside/secret "$share/esc_rel"
	head -c $((${KVBOX_NINEP_BIG_MB:-16} << 20)) /dev/urandom >"$share/big"
	sha256sum "$share/big" | cut -d' ' -f1 >"$share/big.sha256"
	(cd "$share/hostmany" && seq -f f%g 0 1999 | xargs touch)
	echo "read only" >"$ro/hostfile"
	sha256sum /etc/passwd >"$t/passwd.sha"

	set +e
	timeout 1200 "$kvbox" boot --kernel "$kernel" --initrd "$t/initramfs.cpio" --memory 256M \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet 8250.nr_uarts=1" \
		--share "$share:kvboxtest" --share "$ro:kvboxro:ro" \
		</dev/null >"$t/console.raw" 2>"$t/stderr"
	echo $? >"$t/status"
	set -e
	tr -d '\r' <"$t/console.raw" >"$t/console"
	pgrep -f -- "gofer --control-fd" >"$t/gofers.after" || true
}

teardown_file() {
	# the checklist made a file owned by 1234 and a read-only share:
	# nothing here needs more than rm -rf
	:
}

# guest_check NAME: the guest printed "NINEP NAME ok"
guest_check() {
	local line
	line=$(grep "^NINEP $1 " "$BATS_FILE_TMPDIR/console" || true)
	echo "guest: ${line:-<no line for $1>}"
	[ "$line" = "NINEP $1 ok" ]
}

@test "the guest runs the checklist with two shares and powers off: exit 0" {
	echo "status: $(cat "$BATS_FILE_TMPDIR/status")"
	echo "stderr: $(cat "$BATS_FILE_TMPDIR/stderr")"
	grep NINEP "$BATS_FILE_TMPDIR/console" || tail -30 "$BATS_FILE_TMPDIR/console"
	[ "$(cat "$BATS_FILE_TMPDIR/status")" = 0 ]
	grep -q '^NINEP-DONE' "$BATS_FILE_TMPDIR/console"
	guest_check mount
}

@test "no gofer process is left after the VM ends" {
	cat "$BATS_FILE_TMPDIR/gofers.after"
	[ ! -s "$BATS_FILE_TMPDIR/gofers.after" ]
}

@test "create, write, read" {
	guest_check create
	[ "$(cat "$share/created")" = hello ]
	guest_check overwrite
	[ "$(cat "$share/w")" = abXYef ]
}

@test "O_APPEND" {
	guest_check append
	[ "$(cat "$share/app")" = "$(printf 'one\ntwo')" ]
	[ "$(cat "$share/app2")" = one.two.three. ]
}

@test "truncate (shrink and grow)" {
	guest_check truncate
	[ "$(stat -c %s "$share/trunc")" = 4 ]
	[ "$(cat "$share/trunc")" = 0123 ]
}

@test "rename over an existing file, and of a directory" {
	guest_check rename
	[ ! -e "$share/ren_src" ]
	[ "$(cat "$share/ren_dst")" = new ]
	[ "$(cat "$share/rdir2/f")" = in ]
	[ ! -e "$share/rdir" ]
}

@test "hard link" {
	guest_check hardlink
	[ "$(stat -c %i "$share/hl1")" = "$(stat -c %i "$share/hl2")" ]
	[ "$(stat -c %h "$share/hl1")" = 2 ]
}

@test "symlink" {
	guest_check symlink
	[ "$(readlink "$share/sl_dangling")" = nowhere ]
	[ "$(readlink "$share/sl")" = created ]
}

@test "chmod, chown, utimes" {
	guest_check chmod
	[ "$(stat -c %a "$share/mode")" = 751 ]
	guest_check chown
	[ "$(stat -c %u:%g "$share/owned")" = 1234:4321 ]
	guest_check utimes
	[ "$(stat -c %Y "$share/timed")" = 981173106 ]
}

@test "mkdir, rmdir" {
	guest_check mkdir-rmdir
	[ ! -e "$share/d1" ]
	[ -f "$share/nonempty/f" ]
}

@test "readdir: 1200 entries made by the guest, 2000 made by the host" {
	guest_check readdir-guest
	[ "$(ls "$share/many" | wc -l)" = 1200 ]
	guest_check readdir-host
}

@test "large file: guest's sha256 of the host's file, host's of the guest's copy" {
	guest_check big-read
	guest_check big-write
	[ "$(sha256sum <"$share/big.copy" | cut -d' ' -f1)" = "$(cat "$share/big.sha256")" ]
}

@test "sparse file" {
	guest_check sparse
	[ "$(stat -c %s "$share/sparse")" = 67108865 ]
	# 64 MiB of hole: allocated blocks stay tiny
	[ "$(stat -c %b "$share/sparse")" -lt 2048 ]
}

@test "fifo, and no device nodes" {
	guest_check fifo
	[ -p "$share/fifo" ]
	guest_check device-node
	[ ! -e "$share/blockdev" ]
}

@test "unlink while open" {
	guest_check unlink-open
	[ ! -e "$share/uo" ]
}

@test "flock and fcntl locks" {
	guest_check flock
}

@test "fsync" {
	guest_check fsync
	[ "$(cat "$share/synced")" = synced ]
}

@test "a :ro share refuses writes" {
	guest_check readonly
	[ "$(cat "$ro/hostfile")" = "read only" ]
	[ ! -e "$ro/new" ]
}

@test "escapes: symlinks to /etc/passwd and outside the share, '..': all stay inside" {
	guest_check escape
	sha256sum -c "$BATS_FILE_TMPDIR/passwd.sha"
	[ "$(readlink "$share/esc_passwd")" = /etc/passwd ]
	! grep -q KVBOX-SECRET "$BATS_FILE_TMPDIR/console"
	[ "$(ls "$outside")" = secret ]
}

@test "--rootfs DIR: the guest boots with DIR as its root over 9p" {
	local r=$BATS_FILE_TMPDIR/rootfs
	mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys"
	cp /bin/busybox "$r/bin/busybox"
	cat >"$r/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "ROOTFS $(/bin/busybox awk '$2 == "/" { print $1, $3 }' /proc/mounts)"
echo from-the-guest >/written-by-guest
/bin/busybox sync
/bin/busybox poweroff -f
EOF
	chmod 755 "$r/init"
	run --separate-stderr timeout 600 "$kvbox" boot --kernel "$kernel" --memory 256M \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet 8250.nr_uarts=1 init=/init" \
		--rootfs "$r" </dev/null
	echo "$output"
	echo "stderr: $stderr"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ROOTFS kvboxroot 9p"* ]]
	[ "$(cat "$r/written-by-guest")" = from-the-guest ]
	[ -z "$(pgrep -f -- "gofer --control-fd" || true)" ]
}

@test "bad --share/--rootfs input: one line on stderr, exit 2, nothing left behind" {
	local d=$BATS_FILE_TMPDIR/bad
	mkdir -p "$d"
	: >"$d/file"
	for args in "--share $d/missing:t" "--share $d/file:t" "--share $d" \
		"--share $d:" "--share $d:a,b" "--share $d:0123456789012345678901234567890123" \
		"--share $d:t --share $d:t" "--rootfs $d/missing" "--rootfs $d --share $d:kvboxroot"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$kvbox" boot --kernel "$kernel" $args
		echo "$args -> $status: $stderr"
		[ "$status" -eq 2 ]
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
		[[ "$stderr" == "kvbox boot: "* ]]
	done
	[ -z "$(pgrep -f -- "gofer --control-fd" || true)" ]
}
