#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host-tier integration tests: boot the purpose-built test guests from
# tests/guests (see its README.md for what each one does and the port
# protocol) with `kvbox boot` on this host's /dev/kvm, and check what they
# print and how kvbox exits.  These guests run on KVM-PVM hosts too
# (tests/guests/PVM-NOTES.md).
#
# Needs: a built tree (ninja -C build) and read-write /dev/kvm.
#   KVBOX         path of the kvbox binary   (default: <repo>/build/kvbox)
#   KVBOX_GUESTS  folder of the built guests (default: <repo>/build/tests/guests)
#
# Exit statuses asserted here follow docs/cli.md only loosely on purpose:
# 0 for a guest reboot, "non-zero" for panics, triple faults and bad input.

bats_require_minimum_version 1.5.0

# kvbox boot appends one entry per virtio-mmio device to the command line
# (docs/cli.md); by default that is the virtio-rng in slot 0.
RNG_ENTRY="virtio_mmio.device=4K@0xd0000000:5"

setup() {
	ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
	KVBOX="${KVBOX:-$ROOT/build/kvbox}"
	GUESTS="${KVBOX_GUESTS:-$ROOT/build/tests/guests}"
	[ -x "$KVBOX" ] || fail "no kvbox binary at $KVBOX (build it: ninja -C $ROOT/build)"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs read-write /dev/kvm"
}

fail() {
	echo "$*" >&2
	return 1
}

# boot ARGS...: run kvbox boot under a timeout, stdout and stderr merged in
# $output/$lines.  Status 124 means the guest hung (timeout's TERM).
boot() {
	run timeout -k 5 20 "$KVBOX" boot "$@" </dev/null
	echo "# kvbox boot $* -> status $status" >&2
	printf '%s\n' "$output" >&2
}

# boot_sep ARGS...: as boot, with stderr apart in $stderr/$stderr_lines.
boot_sep() {
	run --separate-stderr timeout -k 5 20 "$KVBOX" boot "$@" </dev/null
	echo "# kvbox boot $* -> status $status" >&2
	echo "# stdout:" >&2
	printf '%s\n' "$output" >&2
	echo "# stderr:" >&2
	printf '%s\n' "$stderr" >&2
}

has_line() {
	local l
	for l in "${lines[@]}"; do
		[ "$l" = "$1" ] && return 0
	done
	fail "missing line: '$1'"
}

# The VMM's own lines: everything the guest did not print.
vmm_output() {
	local l
	for l in "${lines[@]}"; do
		[[ "$l" == "kvbox-guest: "* ]] || printf '%s\n' "$l"
	done
}

no_guest_failures() {
	local l
	for l in "${lines[@]}"; do
		[[ "$l" == "kvbox-guest: FAIL"* ]] && fail "guest reported: $l"
	done
	return 0
}

status_is() {
	[ "$status" -eq "$1" ] || fail "exit status $status, want $1"
}

# Non-zero, but neither the timeout (124/137: guest hung, VMM missed the
# event) nor a crash (128+N).
status_is_error() {
	[ "$status" -ne 0 ] || fail "exit status 0, want non-zero"
	[ "$status" -ne 124 ] && [ "$status" -ne 137 ] || fail "timed out (status $status)"
	[ "$status" -lt 128 ] || fail "killed by signal $((status - 128))"
}

# The "usable RAM N MiB" a guest computed from e820 / the PVH memmap.
usable_mib() {
	local l
	for l in "${lines[@]}"; do
		if [[ "$l" =~ ^kvbox-guest:\ (e820|memmap):\ usable\ RAM\ ([0-9]+)\ MiB$ ]]; then
			echo "${BASH_REMATCH[2]}"
			return 0
		fi
	done
	fail "no usable RAM line"
}

# ---- 64-bit boot protocol (bzImage) ----

@test "hello.bzimage: 64-bit entry, boot_params, cmdline echo, reboot -> status 0" {
	boot --kernel "$GUESTS/hello.bzimage" --cmdline 'console=ttyS0 kvbox.test=1 quiet'
	status_is 0
	has_line "kvbox-guest: hello from 64-bit"
	has_line "kvbox-guest: boot_params at 0x00007000"
	has_line "kvbox-guest: cmdline: [console=ttyS0 kvbox.test=1 quiet $RNG_ENTRY]"
	has_line "kvbox-guest: rebooting"
	no_guest_failures
}

@test "hello.bzimage: e820 usable RAM matches --memory" {
	boot --kernel "$GUESTS/hello.bzimage" --memory 128M
	status_is 0
	no_guest_failures
	local mib
	mib="$(usable_mib)"
	# 128 MiB minus the EBDA/BIOS hole below 1 MiB
	[ "$mib" -ge 126 ] && [ "$mib" -le 128 ] || fail "usable RAM $mib MiB for --memory 128M"
}

@test "hello.bzimage: empty command line (--no-rng: nothing appended)" {
	boot --kernel "$GUESTS/hello.bzimage" --cmdline '' --no-rng
	status_is 0
	has_line "kvbox-guest: cmdline: []"
}

@test "hello.bzimage: 3999-byte command line arrives whole" {
	local long
	long="$(printf 'k%04d=v ' $(seq 1 500))"
	long="${long% }"
	[ "${#long}" -eq 3999 ]
	boot --kernel "$GUESTS/hello.bzimage" --cmdline "$long" --no-rng
	status_is 0
	has_line "kvbox-guest: cmdline: [$long]"
}

@test "hello.bzimage: command line above the image's cmdline_size (4095) is refused or cut, never overflows" {
	local long
	long="$(head -c 5000 /dev/zero | tr '\0' a)"
	boot_sep --kernel "$GUESTS/hello.bzimage" --cmdline "$long"
	if [ "$status" -eq 0 ]; then
		local l echoed=""
		for l in "${lines[@]}"; do
			[[ "$l" =~ ^kvbox-guest:\ cmdline:\ \[(a*)\]$ ]] && echoed="${BASH_REMATCH[1]}"
		done
		[ -n "$echoed" ] || fail "no cmdline echo"
		[ "${#echoed}" -le 4095 ] || fail "guest saw ${#echoed} bytes, image allows 4095"
	else
		status_is_error
		[ "${#stderr_lines[@]}" -eq 1 ] || fail "want one line on stderr"
		[[ "$stderr" == *"command line"* || "$stderr" == *cmdline* ]] ||
			fail "refused, but not for the command line"
	fi
}

# ---- PVH entry (ELF with XEN_ELFNOTE_PHYS32_ENTRY) ----

@test "hello-pvh.elf (ELF64, 32-bit PVH entry): start_info, cmdline, memmap, reboot -> status 0" {
	boot --kernel "$GUESTS/hello-pvh.elf" --cmdline 'console=ttyS0 pvh=yes' --memory 64M
	status_is 0
	has_line "kvbox-guest: hello from PVH"
	has_line "kvbox-guest: start_info at 0x00006000"
	has_line "kvbox-guest: cmdline: [console=ttyS0 pvh=yes $RNG_ENTRY]"
	has_line "kvbox-guest: rebooting"
	no_guest_failures
	local mib
	mib="$(usable_mib)"
	[ "$mib" -ge 62 ] && [ "$mib" -le 64 ] || fail "usable RAM $mib MiB for --memory 64M"
}

@test "hello-pvh32.elf (ELF32): same PVH entry -> status 0" {
	boot --kernel "$GUESTS/hello-pvh32.elf" --cmdline 'elf32'
	status_is 0
	has_line "kvbox-guest: hello from PVH"
	has_line "kvbox-guest: cmdline: [elf32 $RNG_ENTRY]"
	no_guest_failures
}

@test "hello-pvh.elf: start_info version >= 1 (has the memory map)" {
	boot --kernel "$GUESTS/hello-pvh.elf"
	status_is 0
	local l ok=""
	for l in "${lines[@]}"; do
		[[ "$l" =~ ^kvbox-guest:\ start_info\ version\ ([0-9]+)$ ]] &&
			[ "${BASH_REMATCH[1]}" -ge 1 ] && ok=1
	done
	[ -n "$ok" ] || fail "no start_info version >= 1"
}

# ---- how a guest ends ----

@test "panic.bzimage: pvpanic -> non-zero exit, VMM reports a guest panic" {
	boot --kernel "$GUESTS/panic.bzimage"
	has_line "kvbox-guest: raising pvpanic"
	status_is_error
	vmm_output | grep -qi 'panic' || fail "no VMM line mentions the panic"
}

@test "panic.bzimage: pvpanic port advertises the PANICKED capability (bit 0)" {
	boot --kernel "$GUESTS/panic.bzimage"
	local l caps=""
	for l in "${lines[@]}"; do
		[[ "$l" =~ ^kvbox-guest:\ pvpanic\ capabilities\ 0x([0-9a-f]{2})$ ]] && caps="${BASH_REMATCH[1]}"
	done
	[ -n "$caps" ] || fail "no capabilities line"
	(( 0x$caps & 1 )) || fail "capabilities 0x$caps lack bit 0"
}

@test "triple.bzimage: triple fault -> non-zero exit, VMM says 'triple fault'" {
	boot --kernel "$GUESTS/triple.bzimage"
	has_line "kvbox-guest: loading a zero-limit IDT, then ud2"
	status_is_error
	vmm_output | grep -qi 'triple fault' || fail "no VMM line says 'triple fault'"
	no_guest_failures
}

@test "halt.bzimage: cli;hlt guest idles without burning CPU and dies on SIGTERM" {
	local t="$BATS_TEST_TMPDIR/rusage"
	command -v /usr/bin/time >/dev/null || skip "needs /usr/bin/time"
	run /usr/bin/time -f '%U %S' -o "$t" timeout -k 5 3 "$KVBOX" boot \
		--kernel "$GUESTS/halt.bzimage" --cpus 2 </dev/null
	printf '%s\n' "$output" >&2
	has_line "kvbox-guest: halting with interrupts off"
	# 124: timeout's SIGTERM ended it; 137 would mean SIGTERM was ignored
	status_is 124
	local user sys
	read -r user sys < <(tail -n 1 "$t")
	echo "# cpu: user $user s, sys $sys s over 3 s" >&2
	awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 0.5) }' ||
		fail "kvbox used $user s user + $sys s sys while the guest was halted"
}

# ---- SMP ----

@test "smp.bzimage --cpus 1: one cpu, no AP wait" {
	boot --kernel "$GUESTS/smp.bzimage" --cpus 1
	status_is 0
	has_line "kvbox-guest: smp: cpus up: 1"
	no_guest_failures
}

@test "smp.bzimage --cpus 2: AP started by INIT-SIPI-SIPI reports its APIC id" {
	boot --kernel "$GUESTS/smp.bzimage" --cpus 2
	status_is 0
	has_line "kvbox-guest: smp: bsp apic id 0 (lapic 0)"
	has_line "kvbox-guest: smp: mp table lists 2 cpus"
	has_line "kvbox-guest: cpu 1 up (lapic 1)"
	has_line "kvbox-guest: smp: cpus up: 2"
	no_guest_failures
}

@test "smp.bzimage --cpus 4: more vCPUs than KVM's recommended count all start" {
	boot --kernel "$GUESTS/smp.bzimage" --cpus 4
	status_is 0
	has_line "kvbox-guest: cpu 3 up (lapic 3)"
	has_line "kvbox-guest: smp: cpus up: 4"
	no_guest_failures
}

@test "hello.bzimage --cpus 2: reboot ends the VM while the AP still waits for SIPI" {
	boot --kernel "$GUESTS/hello.bzimage" --cpus 2
	status_is 0
	has_line "kvbox-guest: rebooting"
}

# ---- ports and MMIO ----

@test "ports.bzimage: RTC, unknown ports and unmapped MMIO -> 'ports ok', status 0" {
	boot --kernel "$GUESTS/ports.bzimage"
	no_guest_failures
	has_line "kvbox-guest: rtc: seconds advance"
	has_line "kvbox-guest: unknown ports: inb(0x200)=0xff inw(0x210)=0xffff inl(0x1234)=0xffffffff"
	has_line "kvbox-guest: ports ok"
	status_is 0
}

@test "ports.bzimage: RTC date is the host's (UTC or local)" {
	local before_utc before_local after_utc after_local
	before_utc="$(date -u +%Y-%m-%d)"
	before_local="$(date +%Y-%m-%d)"
	boot --kernel "$GUESTS/ports.bzimage"
	after_utc="$(date -u +%Y-%m-%d)"
	after_local="$(date +%Y-%m-%d)"
	local l d=""
	for l in "${lines[@]}"; do
		[[ "$l" =~ ^kvbox-guest:\ rtc:\ ([0-9]{4}-[0-9]{2}-[0-9]{2})\  ]] && d="${BASH_REMATCH[1]}"
	done
	[ -n "$d" ] || fail "no rtc date line"
	case "$d" in
	"$before_utc" | "$before_local" | "$after_utc" | "$after_local") ;;
	*) fail "guest RTC date $d, host $before_utc (UTC) / $before_local (local)" ;;
	esac
}

# ---- bad input: non-zero, exactly one line on stderr, no VM run ----

bad_input() {
	boot_sep "$@"
	status_is_error
	[ "${#stderr_lines[@]}" -eq 1 ] ||
		fail "want exactly one line on stderr, got ${#stderr_lines[@]}"
	[[ "$output" != *"kvbox-guest:"* ]] || fail "a guest ran"
}

@test "bad input: missing kernel file" {
	bad_input --kernel "$BATS_TEST_TMPDIR/no-such-kernel"
}

@test "bad input: a text file as kernel" {
	printf 'this is not a kernel\n%.0s' $(seq 1 200) >"$BATS_TEST_TMPDIR/text"
	bad_input --kernel "$BATS_TEST_TMPDIR/text"
}

@test "bad input: an empty file as kernel" {
	: >"$BATS_TEST_TMPDIR/empty"
	bad_input --kernel "$BATS_TEST_TMPDIR/empty"
}

@test "bad input: a bzImage cut inside its setup header" {
	head -c 528 "$GUESTS/hello.bzimage" >"$BATS_TEST_TMPDIR/cut"
	bad_input --kernel "$BATS_TEST_TMPDIR/cut"
}

@test "bad input: a bzImage cut inside its payload" {
	head -c 3000 "$GUESTS/hello.bzimage" >"$BATS_TEST_TMPDIR/cut"
	bad_input --kernel "$BATS_TEST_TMPDIR/cut"
}

@test "bad input: --memory 0" {
	bad_input --kernel "$GUESTS/hello.bzimage" --memory 0
}

@test "bad input: --memory 99999G" {
	bad_input --kernel "$GUESTS/hello.bzimage" --memory 99999G
}

@test "bad input: --cpus 0" {
	bad_input --kernel "$GUESTS/hello.bzimage" --cpus 0
}

@test "bad input: --cpus 1000" {
	bad_input --kernel "$GUESTS/hello.bzimage" --cpus 1000
}
