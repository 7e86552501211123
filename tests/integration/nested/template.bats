#!/usr/bin/env bats
# Nested tier: template start (issue 7).  A template is the container
# guest booted once to a parked agent and saved (vmm/template.h); create
# restores it, connects to the agent, sends RESUME (fresh entropy, the
# host's clock), then CREATE.  This file uses its own template directory.
# Run it with
#   tests/nested/run bats tests/integration/nested/template.bats

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

# a bundle whose init prints what must differ between VMs of one template
probe_bundle() { # NAME HOSTNAME
	local b
	b=$(bundle "$1" sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo;
		cat /proc/sys/kernel/random/boot_id; hostname; date +%s')
	edit "$b" '.hostname = $h' --arg h "$2"
	echo "$b"
}

@test "template build, list, drop: one template per VM size, a second build reuses it" {
	run -0 "$kvbox" template build --memory 128
	dir=$output
	[ -f "$dir/image/state" ] && [ -f "$dir/image/memory" ] && [ -d "$dir/empty" ]
	key=${dir##*/}
	[[ $key =~ ^[0-9a-f]{16}$ ]]
	run -0 "$kvbox" template build --memory 128
	[ "$output" = "$dir (already built)" ]
	run -0 "$kvbox" template list -q
	[ "$output" = "$key" ]
	run -0 "$kvbox" template list
	grep -q "^$key  *128 MiB  *1 " <<<"$output"
	# the memory file is sparse: far less on disk than the guest's 128 MiB
	used=$(du -k "$dir/image/memory" | cut -f1)
	[ "$used" -lt 65536 ]
	run -1 "$kvbox" template drop 0123456789abcdef
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"template 0123456789abcdef: no such template"* ]]
	run -0 "$kvbox" template drop "$key"
	[ ! -e "$dir" ]
	run -0 "$kvbox" template list -q
	[ -z "$output" ]
	run -1 "$kvbox" template build --memory 12
	[[ $output == *"--memory 12: expected a number"* ]]
}

@test "a container starts from the template: restored, resumed, runs; exec, kill, delete as usual" {
	b=$(bundle tpl sleep 1000)
	log=$BATS_TEST_TMPDIR/log
	# the container's stdio is create's: not bats's pipe
	k --debug --log "$log" create --bundle "$b" t1 </dev/null >"$BATS_TEST_TMPDIR/t1.out" 2>&1
	grep -q 'template .* (built now)' "$log"
	grep -q 'restored from template' "$log"
	grep -q 'agent resumed: guest entropy reseeded, clock set' "$log"
	[ "$(status_of t1)" = created ]
	run -0 k start t1
	wait_status t1 running
	run -0 k exec t1 sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "'
	[[ $output == *"exec-ok"* ]] && [[ $output == *"sleep 1000"* ]]
	run -0 k kill t1 KILL
	wait_status t1 stopped
	run -0 k delete t1
	nothing_left t1
	# the second container finds the template built
	run -0 k --debug --log "$log.2" run --bundle "$(bundle tpl2 true)" t2
	! grep -q '(built now)' "$log.2"
	grep -q 'restored from template' "$log.2"
	nothing_left t2
}

@test "two containers from one template: different random bytes, boot ids and hostnames, the host's clock" {
	a=$(probe_bundle pa host-a)
	b=$(probe_bundle pb host-b)
	k run --bundle "$a" pa >"$BATS_TEST_TMPDIR/a"
	k run --bundle "$b" pb >"$BATS_TEST_TMPDIR/b"
	mapfile -t A <"$BATS_TEST_TMPDIR/a"
	mapfile -t B <"$BATS_TEST_TMPDIR/b"
	echo "a: ${A[*]}" >&2
	echo "b: ${B[*]}" >&2
	[[ ${A[0]} =~ ^[0-9a-f]{32}$ ]] && [[ ${B[0]} =~ ^[0-9a-f]{32}$ ]]
	[ "${A[0]}" != "${B[0]}" ]
	[ "${A[1]}" != "${B[1]}" ]
	[ "${A[2]}" = host-a ] && [ "${B[2]}" = host-b ]
	now=$(date +%s)
	for t in "${A[3]}" "${B[3]}"; do
		[ $((now - t)) -ge 0 ] && [ $((now - t)) -lt 120 ]
	done
	run -0 "$kvbox" template list -q
	[ "${#lines[@]}" -eq 1 ]
}

# KiB allocated in the guest RAM memfd of the sandbox PID
ram_kib() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		case $(readlink "$fd") in
		/memfd:kvbox-guest-ram*)
			echo $(($(stat -L -c '%b * %B' "$fd") / 1024))
			return
			;;
		esac
	done
	echo "no guest RAM memfd in pid $1" >&2
	return 1
}

@test "template RAM is loaded as the guest touches it, its kernel text shared; template-copy copies it all; a checkpoint of a lazy start restores" {
	b=$(bundle lazy sleep 1000)
	log=$BATS_TEST_TMPDIR/log
	k --debug --log "$log" create --bundle "$b" lz </dev/null >/dev/null 2>&1
	run -0 k start lz
	wait_status lz running
	cat "$log" >&2
	grep -q 'guest RAM loaded lazily: [0-9]* range(s) of the image registered' "$log"
	# the guest kernel's text and rodata: the image's pages, not copied
	grep -q "; [1-9][0-9]* KiB of the guest kernel's text and read-only data mapped copy-on-write from it" "$log"
	grep -q 'restored from template .* armed lazily' "$log"
	grep 'lazy RAM until the container was prepared' "$log" >&2
	run -0 k exec lz sh -c 'echo exec-ok; ls /bin | wc -l'
	[[ $output == *exec-ok* ]]
	dir=$(sed -n 's/.*restored from template \([^ ]*\) in .*/\1/p' "$log" | head -1)
	[ -d "$dir" ]
	image_kib=$(du -k "$dir/image/memory" | cut -f1)
	lazy_kib=$(ram_kib "$(k state lz | jq -r .pid)")
	echo "image $image_kib KiB, lazily started guest RAM $lazy_kib KiB" >&2
	[ "$lazy_kib" -lt "$image_kib" ]

	# template-copy: the whole image is in RAM before the guest runs
	k --boot-mode template-copy --debug --log "$log.c" create --bundle "$(bundle copy sleep 1000)" cp </dev/null >/dev/null 2>&1
	grep -q 'restored from template .* copied' "$log.c"
	! grep -q 'loaded lazily' "$log.c"
	copy_kib=$(ram_kib "$(k state cp | jq -r .pid)")
	echo "template-copy guest RAM $copy_kib KiB" >&2
	[ "$copy_kib" -ge $((image_kib * 9 / 10)) ]
	run -0 k delete --force cp
	nothing_left cp

	# a checkpoint holds the whole image, not only what was loaded
	img=$BATS_TEST_TMPDIR/ck
	run -0 k checkpoint --image-path "$img" lz
	ck_kib=$(du -k "$img/memory" | cut -f1)
	[ "$ck_kib" -ge $((image_kib * 9 / 10)) ]
	# its stdio is restore's: not bats's pipe
	k restore -d --image-path "$img" --bundle "$b" lz </dev/null >"$BATS_TEST_TMPDIR/r.out" 2>&1
	wait_status lz running
	run -0 k exec lz echo after-restore
	[[ $output == *after-restore* ]]
	run -0 k delete --force lz
	nothing_left lz
}

@test "the first lazy start records the template's working set; later starts load it before the guest runs; a bad list is not used" {
	b=$(bundle ws true)
	run -0 "$kvbox" template drop --all
	log=$BATS_TEST_TMPDIR/log
	run -0 k --debug --log "$log.1" run --bundle "$b" w1
	grep -q 'working set recorded for the template: [1-9][0-9]* block(s)' "$log.1"
	grep -q 'working set of [1-9][0-9]* block(s) kept for template' "$log.1"
	dir=$KVBOX_TEMPLATE_DIR/$("$kvbox" template list -q)
	[ -s "$dir/ws" ]
	nothing_left w1
	run -0 k --debug --log "$log.2" run --bundle "$b" w2
	grep -q 'working set of the template loaded: [1-9][0-9]* block(s), [1-9][0-9]* KiB' "$log.2"
	! grep -q 'working set recorded' "$log.2"
	# the blocks the first start faulted in one by one are loaded up front
	faults() { sed -n 's/.*lazy RAM until the container was prepared: \([0-9]*\) fault.*/\1/p' "$1"; }
	f1=$(faults "$log.1") f2=$(faults "$log.2")
	echo "faults until prepared: $f1 without, $f2 with the working set" >&2
	[ "$f2" -lt "$((f1 / 4))" ]
	nothing_left w2
	# a list that does not parse is not used: the start faults as before
	printf 'garbage' >"$dir/ws"
	run -0 k --debug --log "$log.3" run --bundle "$b" w3
	grep -q "the template's working set is not used: not a working set" "$log.3"
	[ "$(faults "$log.3")" -ge "$((f1 / 2))" ]
	nothing_left w3
	# dropped with its template
	run -0 "$kvbox" template drop --all
	[ ! -e "$dir" ]
}

@test "a corrupted or truncated template is one clear error and leaves nothing; dropped, the next create rebuilds it" {
	b=$(bundle bad true)
	run -0 k run --bundle "$b" warm
	dir=$KVBOX_TEMPLATE_DIR/$("$kvbox" template list -q)
	cp "$dir/image/memory" "$BATS_TEST_TMPDIR/memory.good"
	# one byte changed in every 64 KiB block that holds data: each block
	# is checked as the guest first touches it (the first one fails)
	python3 - "$dir/image/memory" <<-'PY'
		import os, sys
		fd = os.open(sys.argv[1], os.O_RDWR)
		size, off, n = os.fstat(fd).st_size, 0, 0
		while True:
		    try:
		        off = os.lseek(fd, off, os.SEEK_DATA)
		    except OSError:
		        break
		    end = os.lseek(fd, off, os.SEEK_HOLE)
		    for blk in range(off - off % 65536, end, 65536):
		        p = max(blk, off) + 100
		        if p < end:
		            b = os.pread(fd, 1, p)
		            os.pwrite(fd, bytes([b[0] ^ 0x40]), p)
		            n += 1
		    off = end
		assert n > 10, n
	PY
	run -1 k create --bundle "$b" c1
	echo "$output" >&2
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"/image/memory: guest RAM at 0x"*": the image's memory block there fails its checksum (the image is corrupted)"* ]]
	nothing_left c1
	# template-copy checks the whole image before the guest runs
	run -1 k --boot-mode template-copy create --bundle "$b" c1
	echo "$output" >&2
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"checksum mismatch"* ]]
	[[ $output == *"template"* ]]
	nothing_left c1
	# one block lost (a hole where the sums say data): it fails too
	cp "$BATS_TEST_TMPDIR/memory.good" "$dir/image/memory"
	fallocate --punch-hole --offset $((16 << 20)) --length $((8 << 20)) "$dir/image/memory"
	run -1 k create --bundle "$b" c1
	echo "$output" >&2
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"fails its checksum"* ]]
	nothing_left c1
	run -0 "$kvbox" template drop --all
	run -0 k run --bundle "$b" c2
	nothing_left c2
	# a truncated state file: one line naming it
	dir=$KVBOX_TEMPLATE_DIR/$("$kvbox" template list -q)
	truncate -s 1000 "$dir/image/state"
	run -1 k create --bundle "$b" c4
	echo "$output" >&2
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"/image/state"* ]]
	nothing_left c4
	run -0 "$kvbox" template drop --all
	run -0 k run --bundle "$b" c5
	# a template for another VM size is another template
	b2=$(bundle big true)
	edit "$b2" '.annotations["io.kvbox.vm.memory"] = "192M"'
	run -0 k run --bundle "$b2" c3
	run -0 "$kvbox" template list -q
	[ "${#lines[@]}" -eq 2 ]
}

@test "--boot-mode cold and KVBOX_BOOT_MODE=cold boot the kernel, with no template" {
	b=$(bundle cold sh -c 'echo cold-ok')
	log=$BATS_TEST_TMPDIR/log
	run -0 k --boot-mode cold --debug --log "$log" run --bundle "$b" c1
	[[ $output == *cold-ok* ]]
	! grep -q 'template' "$log"
	grep -q 'agent ready' "$log"
	KVBOX_BOOT_MODE=cold run -0 k --debug --log "$log.2" run --bundle "$b" c2
	[[ $output == *cold-ok* ]]
	! grep -q 'template' "$log.2"
	run -2 k --boot-mode warm run --bundle "$b" c3
	[[ $output == *"--boot-mode warm: expected cold, template or template-copy"* ]]
	nothing_left c3
}
