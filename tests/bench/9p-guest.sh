#!/bin/busybox sh
# /init of the initramfs of tests/bench/9p: runs inside the guest (busybox),
# mounts the 9p share (tag bench) at /mnt and times, with /proc/uptime
# (10 ms resolution):
#   read  - cat /mnt/big (256 MiB, prepared by the host) > /dev/null
#   write - dd 128 MiB of zeros to /mnt/out with conv=fsync
#   stat  - ls -l /mnt/many (10,000 files: one stat each)
# and prints one line "BENCH read_ms=R write_ms=W stat_ms=S read_mb=.. write_mb=.. files=.."
# (or "BENCH-FAIL why").  Then powers off: "poweroff -f", or "reboot -f"
# if the command line has bench.off=reboot (QEMU microvm: no ACPI, so
# poweroff only halts; reboot=t + -no-reboot makes QEMU exit).
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
off() {
	case " $(cat /proc/cmdline) " in
	*" bench.off=reboot "*) reboot -f ;;
	*) poweroff -f ;;
	esac
	sleep 5
}
ms() {
	read -r up _ </proc/uptime
	case $up in [0-9]*.[0-9][0-9]) ;; *) echo "BENCH-FAIL /proc/uptime read \"$up\"" >/dev/console; off ;; esac
	echo "${up%.*}${up#*.}0"
}
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none bench /mnt; then
	echo "BENCH-FAIL mount"
	off
fi
size=$(stat -c %s /mnt/big) || { echo "BENCH-FAIL stat /mnt/big"; off; }
read_mb=$((size >> 20))
t0=$(ms); cat /mnt/big >/dev/null; t1=$(ms)
read_ms=$((t1 - t0))
rm -f /mnt/out
t0=$(ms); dd if=/dev/zero of=/mnt/out bs=1M count=128 conv=fsync 2>/dev/null; t1=$(ms)
write_ms=$((t1 - t0))
write_mb=$(($(stat -c %s /mnt/out) >> 20))
rm -f /mnt/out
t0=$(ms); files=$(ls -l /mnt/many | grep -c '^-'); t1=$(ms)
stat_ms=$((t1 - t0))
echo "BENCH read_ms=$read_ms write_ms=$write_ms stat_ms=$stat_ms read_mb=$read_mb write_mb=$write_mb files=$files"
umount /mnt 2>/dev/null
off
