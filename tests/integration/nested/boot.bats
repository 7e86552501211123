#!/usr/bin/env bats
# Nested tier: kvbox boots the real guest kernel (images/, built from
# Debian's linux-source) to the test initramfs's init, inside the nested
# host of tests/nested (real KVM, SVM under QEMU TCG).  Checks the marker
# line, the vCPU count the guest sees, and each way a guest can end:
# power-off, halt, reboot and panic, through both entry paths (bzImage
# 64-bit boot protocol and vmlinux PVH).  Run it with
#   tests/nested/run bats tests/integration/nested/boot.bats

bats_require_minimum_version 1.5.0

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
	export top
	[ -e /dev/kvm ] || { echo "no /dev/kvm: run this inside tests/nested/run" >&2; return 1; }
	if [ -e /sys/module/kvm_pvm ]; then
		echo "this host's KVM is PVM: run this inside tests/nested/run" >&2
		return 1
	fi
}

setup() {
	kvbox=${KVBOX:-$top/build/kvbox}
	initrd=$top/build/images/test-initramfs.cpio.gz
}

# boot KERNEL MODE [extra kvbox flags...]
boot() {
	local kernel=$1 mode=$2
	shift 2
	run --separate-stderr timeout -k 10 300 "$kvbox" boot --kernel "$top/build/kernel/$kernel" \
		--initrd "$initrd" --memory 256M \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet 8250.nr_uarts=1 kvbox.test=$mode" \
		"$@" </dev/null
}

@test "bzImage, 1 vCPU: init runs, guest powers off, exit 0" {
	boot bzImage poweroff --cpus 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
	[[ "$output" == *"cpus=1 "* ]]
}

@test "bzImage, 2 vCPUs: the guest sees both (MP table), reboot exits 0" {
	boot bzImage reboot --cpus 2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
	[[ "$output" == *"cpus=2 "* ]]
}

@test "vmlinux through the PVH entry, 1 vCPU: reboot exits 0" {
	boot vmlinux reboot --cpus 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
	[[ "$output" == *"cpus=1 "* ]]
}

@test "vmlinux through the PVH entry, 2 vCPUs: halt exits 0" {
	boot vmlinux halt --cpus 2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
	[[ "$output" == *"cpus=2 "* ]]
	[[ "$output" == *"System halted"* ]]
}

@test "guest kernel panic: exit 3 and one line naming the panic" {
	boot bzImage panic --cpus 1
	echo "$output"
	echo "stderr: $stderr"
	[ "$status" -eq 3 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
	[[ "$stderr" == *"panic"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "a 2 GiB guest with an initrd at the top of low RAM boots" {
	boot bzImage poweroff --cpus 1 --memory 2G
	[ "$status" -eq 0 ]
	[[ "$output" == *"KVBOX-INIT-OK"* ]]
}
