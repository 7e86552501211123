#!/usr/bin/env bats
# Host tier: kvbox's command line outside any guest: version and flavour,
# unknown commands and flags, no /dev/kvm, and the refusal of a standard
# Linux kernel on a KVM-PVM host.  Every failure is one line on stderr and
# a non-zero status.

bats_require_minimum_version 1.5.0

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	kvbox=${KVBOX:-$top/build/kvbox}
}


one_line_error() {
	[ "$status" -ne 0 ]
	[ -n "$stderr" ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "version names the KVM flavour of this host" {
	run --separate-stderr "$kvbox" --version
	[ "$status" -eq 0 ]
	[[ "$output" == *"kvbox version"* ]]
	[[ "$output" =~ kvm:\ (vmx|svm|pvm|unknown) ]]
	if [ -e /sys/module/kvm_pvm ]; then [[ "$output" == *"kvm: pvm"* ]]; fi
}

@test "unknown command: one line, status 2" {
	run --separate-stderr "$kvbox" frobnicate
	[ "$status" -eq 2 ]
	one_line_error
	[[ "$stderr" == *"unknown command 'frobnicate'"* ]]
}

@test "boot with an unknown flag: one line, status 2" {
	run --separate-stderr "$kvbox" boot --kernel /dev/null --frob
	[ "$status" -eq 2 ]
	one_line_error
	[[ "$stderr" == *"--frob"* ]]
}

@test "boot without --kernel: one line, status 2" {
	run --separate-stderr "$kvbox" boot
	[ "$status" -eq 2 ]
	one_line_error
	[[ "$stderr" == *"--kernel"* ]]
}

@test "no /dev/kvm: one clear line" {
	guest=$top/build/tests/guests/hello.bzimage
	KVBOX_KVM_DEVICE=/nonexistent/kvm run --separate-stderr "$kvbox" boot --kernel "$guest"
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"/nonexistent/kvm does not exist"* ]]
}

@test "a standard Linux kernel is refused on KVM-PVM with one line" {
	[ -e /sys/module/kvm_pvm ] || skip "this host's KVM is not PVM"
	kernel=$top/build/kernel/bzImage
	[ -e "$kernel" ] || skip "guest kernel not built"
	run --separate-stderr timeout -k 5 20 "$kvbox" boot --kernel "$kernel"
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"runs only PVM guest kernels"* ]]
	[[ "$stderr" == *"vmlinux"* ]]
}

@test "the PVH vmlinux is refused on KVM-PVM too" {
	[ -e /sys/module/kvm_pvm ] || skip "this host's KVM is not PVM"
	kernel=$top/build/kernel/vmlinux
	[ -e "$kernel" ] || skip "guest kernel not built"
	run --separate-stderr timeout -k 5 20 "$kvbox" boot --kernel "$kernel"
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"not a PVM guest kernel"* ]]
}
