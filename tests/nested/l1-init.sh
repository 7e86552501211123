#!/bin/busybox sh
# tests/nested/l1-init.sh — /init of the nested host's (L1) initramfs.
# Owner: tests/nested/. Packed by tests/nested/prepare with busybox-static,
# l1-pid1 and the kernel modules listed in /modules.list (load order).
#
# Loads the modules (virtio-pci, 9p, overlay, kvm-amd, tun, veth, tc...),
# mounts the host's root (9p tag "hostroot", read-only) under a tmpfs
# overlay, mounts proc/sys/dev/devpts/shm/tmp/run/cgroups in it, mounts the
# per-run writable share (9p tag "kvboxrun") at /run/kvbox-nested/share and
# switch_roots into l1-pid1, which runs the command and powers off.
# Kernel command line knobs: kvbox.cgroup=hybrid|v2 (default hybrid, like
# the host), kvbox.cache=<9p cache mode for the host root> (default loose),
# kvbox.kallsyms=1 (copy the text symbols to the share),
# <module>.<param>=<value> (a parameter of a module we load).
PATH=/bin
/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin

fail() {
	echo "nested-init: $*" >/dev/console
	poweroff -f
	sleep 5
	exit 1
}

# Stage lines (with the uptime) go to the console log, which tests/nested/run
# shows when the L1 fails.
stage() {
	local up
	read -r up _ </proc/uptime 2>/dev/null || read -r up _ </newroot/proc/uptime 2>/dev/null || up=?
	echo "nested-init: [$up] $*" >/dev/console 2>/dev/null || echo "nested-init: [$up] $*" >/newroot/dev/console
}

mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fail "cannot mount /sys"
mount -t devtmpfs -o mode=0755,nosuid devtmpfs /dev || fail "cannot mount /dev"
echo 4 >/proc/sys/kernel/printk # errors and worse reach the console log

cgmode=hybrid
cache=loose
kallsyms=0
for arg in $(cat /proc/cmdline); do
	case "$arg" in
		kvbox.cgroup=*) cgmode=${arg#kvbox.cgroup=} ;;
		kvbox.cache=*) cache=${arg#kvbox.cache=} ;;
		kvbox.kallsyms=1) kallsyms=1 ;;
	esac
done

stage "loading modules"
# A module's parameters come from the kernel command line as
# <module>.<param>=<value> (what modprobe would do; insmod does not), e.g.
# KVBOX_NESTED_APPEND=kvm_amd.vgif=0.
while read -r m; do
	[ -n "$m" ] || continue
	name=${m##*/}
	name=${name%.ko*}
	name=$(echo "$name" | tr - _)
	params=
	for arg in $(cat /proc/cmdline); do
		case "$arg" in "$name".*=*) params="$params ${arg#"$name".}" ;; esac
	done
	# shellcheck disable=SC2086 # one word per parameter
	insmod "/lib/modules/$m" $params || fail "cannot load module $m$params"
done </modules.list
# No halt polling: a vCPU thread of an L2 that halts would otherwise spin
# for up to 200 us of emulated time on one of the L1's two TCG vCPUs
# before it sleeps; with several L2s booting at once that is most of them.
echo 0 >/sys/module/kvm/parameters/halt_poll_ns 2>/dev/null || true

stage "mounting the host root"
mkdir -p /lower /rw /newroot
msize=512000
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=$msize,cache=$cache hostroot /lower \
	|| fail "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 rw /rw || fail "cannot mount the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
	|| fail "cannot mount the overlay on the host root"

R=/newroot
stage "mounting the rest"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $R/run || fail "cannot mount /run"
mkdir -p $R/run/kvbox-nested/share $R/run/lock
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$msize,cache=none kvboxrun $R/run/kvbox-nested/share \
	|| fail "cannot mount the result share (9p tag kvboxrun)"
cp /l1-pid1 /bin/busybox $R/run/kvbox-nested/ || fail "cannot copy l1-pid1"
# kvbox.kallsyms=1: the kernel's text symbols for tests/nested/run, which
# names the functions of a wedged L1's RIPs with them (booted nokaslr, so
# one copy serves every run of this kernel)
[ "$kallsyms" = 0 ] || grep ' [tT] ' /proc/kallsyms >$R/run/kvbox-nested/share/kallsyms || true

mount --move /proc $R/proc || fail "cannot move /proc"
mount --move /sys $R/sys || fail "cannot move /sys"
mount --move /dev $R/dev || fail "cannot move /dev"
mkdir -p $R/dev/pts $R/dev/shm $R/dev/mqueue
mount -t devpts -o nosuid,noexec,gid=5,mode=0620,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o nosuid,nodev,mode=1777 shm $R/dev/shm
mount -t mqueue -o nosuid,nodev,noexec mqueue $R/dev/mqueue
# No fresh tmpfs on /tmp: the caller's tree may live there (a CI clone in
# /tmp/...) and must stay visible; /tmp is already writable through the
# overlay's tmpfs upper layer.
[ -e $R/dev/ptmx ] || ln -s pts/ptmx $R/dev/ptmx
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr

stage "mounting cgroups ($cgmode)"
C=$R/sys/fs/cgroup
case "$cgmode" in
	v2)
		mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 $C \
			|| fail "cannot mount cgroup2"
		ctrls=$(cat $C/cgroup.controllers)
		for c in $ctrls; do echo "+$c" >$C/cgroup.subtree_control 2>/dev/null || true; done
		;;
	hybrid)
		mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 cgroup $C || fail "cannot mount $C"
		for c in cpu,cpuacct cpuset memory devices freezer blkio pids net_cls,net_prio perf_event hugetlb misc rdma; do
			grep -q "^${c%%,*}[[:space:]]" $R/proc/cgroups || continue
			mkdir -p $C/$c
			mount -t cgroup -o nosuid,nodev,noexec,$c cgroup $C/$c || rmdir $C/$c
		done
		[ -d $C/cpu,cpuacct ] && ln -s cpu,cpuacct $C/cpu && ln -s cpu,cpuacct $C/cpuacct
		[ -d $C/net_cls,net_prio ] && ln -s net_cls,net_prio $C/net_cls && ln -s net_cls,net_prio $C/net_prio
		mkdir -p $C/unified
		mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 $C/unified \
			|| fail "cannot mount cgroup2"
		;;
	*) fail "unknown kvbox.cgroup=$cgmode (hybrid or v2)" ;;
esac

stage "hostname, lo"
hostname kvbox-nested
ip link set lo up 2>/dev/null || true

stage "switch_root"
exec switch_root $R /run/kvbox-nested/l1-pid1 /run/kvbox-nested/share
