#!/bin/busybox sh
# The guest side of tests/bench/net, the same script under both VMMs: the
# /init of QEMU's initramfs (argument none: it mounts /proc, /dev, /tmp and
# configures eth0 itself), or the process of the kvbox container (argument
# container: kvbox's agent has configured eth0 from the namespace).  Peer
# 169.254.88.1 runs `iperf3 -s` on 5201 and `tcprr server` on 7001 (both
# listening before the guest starts).
# Prints one line
#   BENCH tx_mbps=T rx_mbps=R rr_ns=L rr_n=N
# (tx: guest -> peer, iperf3 receiver's rate; rx: peer -> guest, iperf3
# -R; rr: mean 1-byte TCP round trip over N of them, BENCH_SECS seconds)
# or "BENCH-FAIL why", then ends (QEMU: reboot -f with reboot=t and
# -no-reboot; the container: exits).
export PATH=/bin:/usr/bin
secs=${BENCH_SECS:-10}
if [ "${1:-}" != container ]; then
	/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
	[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
	/bin/busybox --install -s /bin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t tmpfs tmpfs /tmp
	for a in $(cat /proc/cmdline); do
		case $a in bench.secs=*) secs=${a#*=} ;; esac
	done
	ip link set lo up
	ip link set eth0 up
	ip addr add 169.254.88.2/16 dev eth0
fi
off() {
	[ "${1:-}" = container ] && exit 0
	reboot -f
	sleep 5
}
peer=169.254.88.1
# mbps ARGS...: iperf3's receiver rate in Mbit/s
mbps() {
	iperf3 -c $peer -t "$secs" -f m "$@" 2>&1 |
		awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }'
}
tx=$(mbps)
rx=$(mbps -R)
rrl=$(tcprr client $peer 7001 "$secs")
rr=$(echo "$rrl" | sed -n 's/^rr_ns=\([0-9]*\) n=.*/\1/p')
rrn=$(echo "$rrl" | sed -n 's/.* n=\([0-9]*\)$/\1/p')
if [ -n "$tx" ] && [ -n "$rx" ] && [ -n "$rr" ]; then
	echo "BENCH tx_mbps=$tx rx_mbps=$rx rr_ns=$rr rr_n=$rrn"
else
	echo "BENCH-FAIL tx=$tx rx=$rx rr=$rr"
fi
off "${1:-}"
