#!/usr/bin/env bats
# Nested tier: snapshots of a real Linux guest (the kernel of images/), in
# the nested host of tests/nested (real KVM, SVM under QEMU TCG).  The
# guest's init (an initramfs built here, busybox-static) prints
#   kvbox-count N up=UPTIME wall=EPOCH
# every 0.3 s up to COUNT_MAX, then reboots.  kvbox boot --snapshot-on USR1
# saves it mid-count and exits; kvbox boot --restore runs it on: the count
# goes on from where it stopped (not from 1), the guest's monotonic clock
# goes on from where it was, and the guest reboots normally at the end.
# Run it with
#   tests/nested/run bats tests/integration/nested/snapshot.bats

bats_require_minimum_version 1.5.0

COUNT_MAX=30

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
		{ echo "build kvbox (ninja -C build) and the kernel first" >&2; return 1; }
	export initrd="$BATS_FILE_TMPDIR/count.cpio"
	make_initrd "$initrd"
	# One saved image, shared by the restore tests.
	export image="$BATS_FILE_TMPDIR/image"
	save_at 5 "$image" --cpus 2
	export saved_out="$BATS_FILE_TMPDIR/save.out"
	tr -d '\r' <"$BATS_FILE_TMPDIR/run.out" >"$saved_out" # the serial console's CRLF
}

make_initrd() {
	local root="$BATS_FILE_TMPDIR/root"
	mkdir -p "$root/bin" "$root/dev" "$root/proc"
	cp /bin/busybox "$root/bin/busybox"
	cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
echo KVBOX-COUNT-START
i=0
while [ \$i -lt $COUNT_MAX ]; do
	i=\$((i + 1))
	echo "kvbox-count \$i up=\$(cut -d' ' -f1 /proc/uptime) wall=\$(date +%s)"
	sleep 0.3
done
echo KVBOX-COUNT-DONE
reboot -f
EOF
	chmod 755 "$root/init"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$1"
}

# save_at N DIR [flags]: boots the counting guest with --snapshot-on USR1,
# sends USR1 once "kvbox-count N" is out, waits for kvbox to exit.
save_at() {
	local n=$1 dir=$2 out="$BATS_FILE_TMPDIR/run.out" err="$BATS_FILE_TMPDIR/run.err"
	shift 2
	timeout -k 10 600 "$kvbox" boot --kernel "$kernel" --initrd "$initrd" --memory 256M \
		--cmdline 'console=ttyS0 reboot=k panic=-1 quiet 8250.nr_uarts=1' \
		--snapshot-on USR1 --snapshot-dir "$dir" "$@" </dev/null >"$out" 2>"$err" &
	local pid=$! waited=0
	until grep -q "^kvbox-count $n " "$out"; do
		sleep 0.2
		waited=$((waited + 1))
		if [ $waited -gt 2500 ] || ! kill -0 $pid 2>/dev/null; then
			cat "$out" "$err" >&2
			echo "the guest never printed count $n" >&2
			kill -9 $pid 2>/dev/null
			return 1
		fi
	done
	# the signal goes to kvbox, not to timeout (which would die of it)
	kill -USR1 "$(pgrep -P $pid)"
	local st=0
	wait $pid || st=$?
	cat "$err" >&2
	[ $st -eq 0 ] || { echo "kvbox boot exited $st after USR1" >&2; return 1; }
	grep -q "^kvbox: snapshot saved to $dir: " "$err"
	[ -f "$dir/state" ] && [ -f "$dir/memory" ]
	# the numbers, in the TAP output
	sed -n 's/^kvbox: \(snapshot saved .*\)/# \1/p' "$err" >&3
	echo "# memory file on disk: $(du -k "$dir/memory" | cut -f1) KiB" >&3
}

# field NAME LINE: the value of NAME=... in a kvbox-count line
field() {
	sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"
}

restore() {
	run --separate-stderr timeout -k 10 600 "$kvbox" boot --restore "$image" --debug "$@" </dev/null
	output=${output//$'\r'/} # the serial console's CRLF
	sed -n 's/^kvbox: \(restored .*\)/# \1/p' <<<"$stderr" >&3
	echo "status $status"
	echo "stderr: $stderr"
	echo "console: $output"
}

# The counts printed before the save and after the restore ($output),
# joined as one stream (a line the save cut is finished by the restored
# guest): 1 .. COUNT_MAX, each once, in order.
continues() {
	local got
	got=$({
		cat "$saved_out"
		printf '%s\n' "$output"
	} | sed -n 's/^kvbox-count \([0-9]*\) up=.*/\1/p' | tr '\n' ' ')
	echo "counts: $got"
	[ "$got" = "$(seq -s ' ' 1 $COUNT_MAX) " ]
}

# The last count line printed before the save.
last_saved() {
	grep '^kvbox-count [0-9]* up=[0-9.]* wall=[0-9]*$' "$saved_out" | tail -1
}

@test "Linux, 2 vCPUs: restored from mid-count, the count goes on and the guest ends normally" {
	local before n first
	before=$(last_saved)
	n=$(awk '{print $2}' <<<"$before")
	echo "last line before the save: $before"
	[ "$n" -ge 5 ]
	restore
	[ "$status" -eq 0 ]
	grep -q '^kvbox: restored ' <<<"$stderr"
	# the count goes on: every number once, none repeated from 1
	continues
	first=$(grep -o 'kvbox-count [0-9]* up=' <<<"$output" | head -1 | awk '{print $2}')
	[ "$first" -gt "$n" ]
	! grep -q 'KVBOX-COUNT-START' <<<"$output"
	! grep -q '^kvbox-count 1 ' <<<"$output"
	grep -q "^kvbox-count $COUNT_MAX " <<<"$output"
	grep -q 'KVBOX-COUNT-DONE' <<<"$output"
}

@test "Linux: the guest's clock after the restore goes on from where it stopped" {
	local before after up0 up1 wall0 wall1
	before=$(last_saved)
	restore
	[ "$status" -eq 0 ]
	after=$(grep '^kvbox-count [0-9]* up=[0-9.]* wall=[0-9]*$' <<<"$output" | head -1)
	echo "before: $before"
	echo "after:  $after"
	up0=$(field up "$before") up1=$(field up "$after")
	wall0=$(field wall "$before") wall1=$(field wall "$after")
	# monotonic: forward, by less than the 0.3 s period plus TCG slowness
	awk -v a="$up0" -v b="$up1" 'BEGIN { exit !(b > a && b - a < 20) }'
	# wall clock: not backwards, not ahead of the host's
	[ "$wall1" -ge "$wall0" ]
	[ "$wall1" -le "$(date +%s)" ]
	# the guest kernel did not complain about its clock
	! grep -qi 'clocksource.*unstable\|time went backwards' <<<"$output"
}

@test "Linux: one image restored twice (copied, then mapped copy-on-write): the same continuation" {
	local a b
	restore
	[ "$status" -eq 0 ]
	a=$(grep -o 'kvbox-count [0-9]*' <<<"$output" | head -3 | tr '\n' ' ')
	restore --restore-cow
	[ "$status" -eq 0 ]
	grep -q 'mapped copy-on-write' <<<"$stderr"
	continues
	b=$(grep -o 'kvbox-count [0-9]*' <<<"$output" | head -3 | tr '\n' ' ')
	echo "first: $a / second: $b"
	[ -n "$a" ] && [ "$a" = "$b" ]
}

@test "Linux: a corrupted memory file is one clear error, exit 1, nothing runs" {
	local bad="$BATS_FILE_TMPDIR/bad"
	cp -r --sparse=always "$image" "$bad"
	# flip a byte inside the first data extent of the memory file
	local off
	off=$(python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_DATA) + 100)' "$bad/memory")
	printf '\xa5' | dd of="$bad/memory" bs=1 seek="$off" conv=notrunc status=none
	run --separate-stderr timeout -k 10 120 "$kvbox" boot --restore "$bad" </dev/null
	echo "status $status stderr: $stderr output: $output"
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	grep -q 'memory: checksum mismatch' <<<"$stderr"
	[ -z "$output" ]
}
