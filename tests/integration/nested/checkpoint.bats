#!/usr/bin/env bats
# Nested tier: `kvbox checkpoint` and `kvbox restore` of running
# containers (issue 7).  The image is the whole VM: memory, vCPUs,
# devices, the gofer's 9P sessions (open files come back by path) and the
# vsock's connections (the container's stdio, bytes in flight included).
# Run it with
#   tests/nested/run bats tests/integration/nested/checkpoint.bats

bats_require_minimum_version 1.5.0

load oci-helpers

setup_file() {
	oci_setup_file
	export KVBOX_TEMPLATE_DIR=$BATS_FILE_TMPDIR/templates
	mounts0=$(wc -l </proc/self/mountinfo)
	export mounts0
}

teardown() {
	local id
	for id in $(k list -q 2>/dev/null); do k delete --force "$id" >/dev/null 2>&1 || true; done
}

# counter NAME: a bundle whose init counts on stdout every 0.2 s and
# appends each number to /tmp/count through one open fd (a 9P fid that
# must survive the checkpoint); /tmp is a bind mount of
# $BATS_TEST_TMPDIR/NAME.data (the rootfs is read-only)
counter() {
	local b d=$BATS_TEST_TMPDIR/$1.data
	mkdir -p "$d"
	b=$(bundle "$1" sh -c 'exec 3>>/tmp/count; i=0; while :; do i=$((i+1)); echo $i; echo $i >&3; sleep 0.2; done')
	edit "$b" '.mounts += [{"destination": "/tmp", "type": "bind", "source": $s,
		"options": ["rbind", "rw"]}]' --arg s "$d"
	echo "$b"
}

# wait_lines FILE N [SECONDS]: FILE has at least N lines
wait_lines() {
	local i
	for ((i = 0; i < ${3:-120} * 10; i++)); do
		[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "$1: $(wc -l <"$1") lines, wanted $2" >&2
	return 1
}

@test "checkpoint a counting container, restore it: the count goes on, nothing lost or repeated" {
	b=$(counter c1)
	f=$BATS_TEST_TMPDIR/c1.data/count
	out1=$BATS_TEST_TMPDIR/out1
	k create --bundle "$b" c1 </dev/null >"$out1" 2>&1
	run -0 k start c1
	wait_lines "$out1" 5
	img=$BATS_TEST_TMPDIR/img
	run -0 k checkpoint --image-path "$img" --work-path "$BATS_TEST_TMPDIR/work" c1
	[ -f "$img/state" ] && [ -f "$img/memory" ]
	# runc destroys a checkpointed container: the id is free
	run -1 k state c1
	nothing_left c1
	last=$(tail -n1 "$out1")
	[ "$last" -ge 5 ]
	sleep 1 # stopped: nothing counts
	[ "$(tail -n1 "$out1")" = "$last" ]
	# (the checkpoint may fall between the two writes of one number)
	fl=$(tail -n1 "$f")
	[ "$fl" -eq "$last" ] || [ "$fl" -eq $((last - 1)) ]
	out2=$BATS_TEST_TMPDIR/out2
	k restore --detach --image-path "$img" --bundle "$b" --pid-file "$BATS_TEST_TMPDIR/pid" c1 \
		</dev/null >"$out2" 2>&1
	[ "$(status_of c1)" = running ]
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(k state c1 | jq -r .pid)" ]
	wait_lines "$out2" 3
	# stdout: the next number, then on
	[ "$(head -n1 "$out2")" -eq $((last + 1)) ]
	# the fid of the open file came back: the file goes on too, in order
	wait_lines "$f" $((last + 3))
	# (a copy: the file grows meanwhile)
	cp "$f" "$BATS_TEST_TMPDIR/count"
	seq 1 "$(tail -n1 "$BATS_TEST_TMPDIR/count")" | diff - "$BATS_TEST_TMPDIR/count"
	# the agent is back: exec, ps, kill work on the restored container
	run -0 k exec c1 cat /proc/1/cmdline
	[[ $output == *"sh"* ]]
	run -0 k ps c1
	run -0 k kill c1 KILL
	wait_status c1 stopped
	run -0 k delete c1
	nothing_left c1
}

@test "one image restored twice: two containers go on from the same count, each its own" {
	b=$(counter c2)
	k create --bundle "$b" c2 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1
	run -0 k start c2
	wait_lines "$BATS_TEST_TMPDIR/out" 3
	img=$BATS_TEST_TMPDIR/img
	run -0 k checkpoint --image-path "$img" c2
	last=$(tail -n1 "$BATS_TEST_TMPDIR/out")
	for id in r1 r2; do
		k restore -d --image-path "$img" --bundle "$b" "$id" </dev/null \
			>"$BATS_TEST_TMPDIR/$id.out" 2>&1
	done
	for id in r1 r2; do
		wait_lines "$BATS_TEST_TMPDIR/$id.out" 2
		[ "$(head -n1 "$BATS_TEST_TMPDIR/$id.out")" -eq $((last + 1)) ]
	done
	# each restore got fresh entropy (RESUME)
	a=$(k exec r1 sh -c 'head -c 16 /dev/urandom | od -An -tx1')
	c=$(k exec r2 sh -c 'head -c 16 /dev/urandom | od -An -tx1')
	[ -n "$a" ] && [ "$a" != "$c" ]
	[ "$(k state r1 | jq -r .pid)" != "$(k state r2 | jq -r .pid)" ]
	for id in r1 r2; do k delete --force "$id"; nothing_left "$id"; done
}

@test "checkpoint --leave-running: the container goes on, exec works, the image restores" {
	b=$(counter c3)
	out=$BATS_TEST_TMPDIR/out
	k create --bundle "$b" c3 </dev/null >"$out" 2>&1
	run -0 k start c3
	wait_lines "$out" 3
	img=$BATS_TEST_TMPDIR/img
	run -0 k checkpoint --leave-running --image-path "$img" c3
	[ "$(status_of c3)" = running ]
	n=$(wc -l <"$out")
	wait_lines "$out" $((n + 3))
	run -0 k exec c3 echo channel-back
	[ "$output" = channel-back ]
	# the image is a checkpoint like any other
	k restore -d --image-path "$img" --bundle "$b" c3r </dev/null >"$BATS_TEST_TMPDIR/r.out" 2>&1
	wait_lines "$BATS_TEST_TMPDIR/r.out" 2
	k delete --force c3r
	k delete --force c3
	nothing_left c3
	nothing_left c3r
}

@test "restore without --detach: the container's stdio is restore's, its status restore's" {
	b=$(bundle c4 sh -c 'read x; echo "got $x"; sleep 0.5; read y; echo "then $y"; exit 7')
	fifo=$BATS_TEST_TMPDIR/in
	mkfifo "$fifo"
	exec 5<>"$fifo"
	k create --bundle "$b" c4 <&5 >"$BATS_TEST_TMPDIR/o1" 2>&1
	run -0 k start c4
	echo one >&5
	wait_lines "$BATS_TEST_TMPDIR/o1" 1
	[ "$(cat "$BATS_TEST_TMPDIR/o1")" = "got one" ]
	run -0 k checkpoint --image-path "$BATS_TEST_TMPDIR/img" c4
	exec 5>&-
	run -7 k restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$b" c4 <<<"two"
	[ "$output" = "then two" ]
	nothing_left c4
}

@test "a cold-booted container (no template): checkpointed and restored the same way" {
	b=$(counter c10)
	k --boot-mode cold create --bundle "$b" c10 </dev/null >"$BATS_TEST_TMPDIR/o1" 2>&1
	run -0 k start c10
	wait_lines "$BATS_TEST_TMPDIR/o1" 3
	run -0 k checkpoint --image-path "$BATS_TEST_TMPDIR/img" c10
	last=$(tail -n1 "$BATS_TEST_TMPDIR/o1")
	k restore -d --image-path "$BATS_TEST_TMPDIR/img" --bundle "$b" c10 </dev/null \
		>"$BATS_TEST_TMPDIR/o2" 2>&1
	wait_lines "$BATS_TEST_TMPDIR/o2" 2
	[ "$(head -n1 "$BATS_TEST_TMPDIR/o2")" -eq $((last + 1)) ]
	run -0 k exec c10 echo back
	[ "$output" = back ]
	k delete --force c10
	nothing_left c10
}

@test "a container with a terminal: restored with a new pty on the new console socket, the count goes on" {
	cc -O2 -o "$BATS_TEST_TMPDIR/recvtty" "$BATS_TEST_DIRNAME/recvtty.c"
	b=$(bundle c9 sh -c 'i=0; while :; do i=$((i+1)); echo n$i; sleep 0.2; done')
	edit "$b" '.process.terminal = true'
	local n
	for n in 1 2; do
		rm -f "$BATS_TEST_TMPDIR/tty$n.sock"
		"$BATS_TEST_TMPDIR/recvtty" "$BATS_TEST_TMPDIR/tty$n.sock" \
			>"$BATS_TEST_TMPDIR/tty$n" 2>/dev/null &
		eval "rt$n=\$!"
		for i in $(seq 50); do [ -S "$BATS_TEST_TMPDIR/tty$n.sock" ] && break; sleep 0.1; done
		if [ "$n" = 1 ]; then
			k create --bundle "$b" --console-socket "$BATS_TEST_TMPDIR/tty1.sock" c9 </dev/null
			run -0 k start c9
			wait_lines "$BATS_TEST_TMPDIR/tty1" 3
			run -0 k checkpoint --image-path "$BATS_TEST_TMPDIR/img" c9
			# the old pty's other side is gone: its reader ends
			wait "$rt1"
			last=$(tail -n1 "$BATS_TEST_TMPDIR/tty1" | tr -dc 0-9)
		else
			k restore -d --image-path "$BATS_TEST_TMPDIR/img" --bundle "$b" \
				--console-socket "$BATS_TEST_TMPDIR/tty2.sock" c9 </dev/null
			wait_lines "$BATS_TEST_TMPDIR/tty2" 2
			[ "$(head -n1 "$BATS_TEST_TMPDIR/tty2" | tr -dc 0-9)" -eq $((last + 1)) ]
		fi
	done
	k delete --force c9
	wait "$rt2"
	nothing_left c9
}

@test "bad checkpoints and images: one clear line, nothing left behind" {
	b=$(bundle c5 sleep 1000)
	k create --bundle "$b" c5 </dev/null >/dev/null 2>&1
	# not running yet
	run -1 k checkpoint --image-path "$BATS_TEST_TMPDIR/x" c5
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"c5\" is created"* ]]
	run -0 k start c5
	run -1 k checkpoint --lazy-pages --image-path "$BATS_TEST_TMPDIR/x" c5
	[[ $output == *"--lazy-pages"*"not supported"* ]]
	run -1 k checkpoint --image-path "$BATS_TEST_TMPDIR/x" nosuch
	[[ $output == *'container "nosuch" does not exist'* ]]
	img=$BATS_TEST_TMPDIR/img
	run -0 k checkpoint --leave-running --image-path "$img" c5
	run -1 k checkpoint --leave-running --image-path "$img" c5
	[[ $output == *"holds a checkpoint already"* ]]
	[ "$(status_of c5)" = running ]
	k delete --force c5

	# a flipped byte of memory
	bad=$BATS_TEST_TMPDIR/bad
	cp -r "$img" "$bad"
	off=$(( $(stat -c %s "$bad/memory") / 2 ))
	printf '\x5a' | dd of="$bad/memory" bs=1 seek=$off conv=notrunc 2>/dev/null
	# (a hole becomes data: the checksum counts it)
	run -1 k restore -d --image-path "$bad" --bundle "$b" c6 </dev/null
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"checksum mismatch"* ]]
	nothing_left c6
	# a truncated state file
	cp "$img/state" "$bad/state"
	cp "$img/memory" "$bad/memory"
	truncate -s 1000 "$bad/state"
	run -1 k restore -d --image-path "$bad" --bundle "$b" c6 </dev/null
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"state"* ]]
	nothing_left c6
	# not a checkpoint: a template image
	run -0 "$kvbox" template build --memory 128
	tpl=${output% (already built)}
	run -1 k restore -d --image-path "$tpl/image" --bundle "$b" c6 </dev/null
	[[ $output == *"is not a container checkpoint"* ]]
	nothing_left c6
	# a bundle without the mount whose file the checkpointed container
	# has open: the file cannot be opened again
	c=$(counter c8)
	k create --bundle "$c" c8 </dev/null >"$BATS_TEST_TMPDIR/c8.out" 2>&1
	run -0 k start c8
	wait_lines "$BATS_TEST_TMPDIR/c8.out" 2
	run -0 k checkpoint --image-path "$BATS_TEST_TMPDIR/img8" c8
	run -1 k restore -d --image-path "$BATS_TEST_TMPDIR/img8" --bundle "$b" c6 </dev/null
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"share"* ]]
	nothing_left c6
	# no image at all
	run -1 k restore -d --image-path "$BATS_TEST_TMPDIR/none" --bundle "$b" c6
	[[ $output == *"--image-path"* ]]
	nothing_left c6
}
