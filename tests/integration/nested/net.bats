#!/usr/bin/env bats
# Nested tier: container networking (--network sandbox|none, oci/net.h).
# Two network namespaces made here, joined by a veth pair with link-local
# 169.254.0.0/16 addresses only (no route anywhere else): the container
# runs in one (linux.namespaces network path), the peer is the other.
# Run it with
#   tests/nested/run bats tests/integration/nested/net.bats
# The bulk transfer is KVBOX_NET_MIB MiB from the peer to the container
# (default 256, ~1 min under QEMU TCG) and KVBOX_NET_MIB_OUT MiB back
# (default 32: the guest's side of TCG is the slow one; 256 takes ~4 min).
# Everything made here (namespaces, veths, containers) is removed in
# teardown_file; each test checks nothing of a sandbox is left.

bats_require_minimum_version 1.5.0

# fixed names: bats runs setup_file and each test in different processes
NS_C=kvbnet-c
NS_P=kvbnet-p
IP_C=169.254.77.2
IP_P=169.254.77.1
# a non-default MTU: the guest NIC must get it (1280: IPv6's minimum)
MTU=1280
# the second pair (two containers talking): jumbo frames
NS_A=kvbnet-a
NS_B=kvbnet-b
IP_A=169.254.99.1
IP_B=169.254.99.2
MTU_AB=9000

setup_file() {
	top=$(cd "$BATS_TEST_DIRNAME/../../.." && pwd)
	export top
	[ -e /dev/kvm ] || { echo "no /dev/kvm: run this inside tests/nested/run" >&2; return 1; }
	if [ -e /sys/module/kvm_pvm ]; then
		echo "this host's KVM is PVM: run this inside tests/nested/run" >&2
		return 1
	fi
	export kvbox=${KVBOX:-$top/build/kvbox}
	export KVBOX_KERNEL=${KVBOX_KERNEL:-$top/build/kernel/bzImage}
	[ -x "$kvbox" ] && [ -f "$KVBOX_KERNEL" ] ||
		{ echo "build kvbox (ninja -C build) and images/build-kernel first" >&2; return 1; }
	export R=$BATS_FILE_TMPDIR/root
	"$top/images/mkbundle" "$BATS_FILE_TMPDIR/base" true >/dev/null
	export rootfs=$BATS_FILE_TMPDIR/base/rootfs
	# DF datagrams (the MTU checks): in the guest's rootfs and for the peer
	cc -static -O2 -o "$rootfs/bin/net-df" "$BATS_TEST_DIRNAME/net-df.c"
	export netdf=$rootfs/bin/net-df
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_P" 2>/dev/null || true
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
	ip netns del kvbnet-x 2>/dev/null || true
	ip netns add "$NS_C"
	ip netns add "$NS_P"
	ip link add kvbv-c type veth peer name kvbv-p
	ip link set kvbv-c netns "$NS_C"
	ip link set kvbv-p netns "$NS_P"
	ip -n "$NS_C" link set kvbv-c name eth0
	for ns in "$NS_C" "$NS_P"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_C" link set eth0 mtu $MTU up
	ip -n "$NS_P" link set kvbv-p mtu $MTU up
	ip -n "$NS_C" addr add $IP_C/16 dev eth0
	ip -n "$NS_P" addr add $IP_P/16 dev kvbv-p
	# a default route through the peer: it must reach the guest too
	ip -n "$NS_C" route add default via $IP_P dev eth0
}

teardown_file() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	for ns in "$NS_C" "$NS_P" "$NS_A" "$NS_B" kvbnet-x; do
		ip netns del "$ns" 2>/dev/null || true
	done
	# podman's test: its network, the modules link it made
	ip link del podman1 2>/dev/null || true
	if [ -e "$BATS_FILE_TMPDIR/modules-link" ]; then
		rm -f /lib/modules/"$(uname -r)"
	fi
}

teardown() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	# podman's (the default root), after a failed podman test
	for id in $("$kvbox" list -q 2>/dev/null); do
		"$kvbox" delete --force "$id" >/dev/null 2>&1 || true
	done
	ip netns pids "$NS_P" 2>/dev/null | xargs -r kill 2>/dev/null || true
	inc tc qdisc del dev eth0 ingress 2>/dev/null || true
	# a failed test may have left eth0 without its address: the next one
	# starts as setup_file left it (each test checks its own cleanup)
	inc ip -o -4 addr show dev eth0 | grep -q "$IP_C/16" || inc ip addr add $IP_C/16 dev eth0 || true
	inc ip route | grep -q default || inc ip route add default via $IP_P dev eth0 || true
	! pgrep -f "kvbox sandbox" >/dev/null || { pgrep -af "kvbox (sandbox|gofer)"; false; }
}

k() { "$kvbox" --root "$R" "$@"; }
inc() { ip netns exec "$NS_C" "$@"; }
inp() { ip netns exec "$NS_P" "$@"; }

# bundle NAME NSPATH CMD [ARG...]: the container joins network namespace NSPATH
bundle() {
	local b=$BATS_TEST_TMPDIR/$1 ns=$2
	shift 2
	mkdir -p "$b"
	local args='[]' a
	for a in "$@"; do
		args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args")
	done
	jq --arg root "$rootfs" --argjson args "$args" --arg ns "$ns" \
		'.root.path = $root | .process.args = $args | .process.terminal = false
		 | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs",
		               options: ["nosuid", "nodev", "mode=1777"]}]
		 | .linux.namespaces = ([.linux.namespaces[] | select(.type != "network")]
		    + (if $ns == "" then [] else [{type: "network", path: $ns}] end))' \
		"$BATS_FILE_TMPDIR/base/config.json" >"$b/config.json"
	echo "$b"
}

# the host side is as it was: no tap, no qdisc, the address back
host_side_clean() {
	! inc ip -o link | grep -q kvbtap || { inc ip -o link; return 1; }
	! inc tc qdisc show dev eth0 | grep -q ingress || { inc tc qdisc show dev eth0; return 1; }
	[ -z "$(inc tc filter show dev eth0 ingress 2>/dev/null)" ]
	inc ip -o -4 addr show dev eth0 | grep -q "$IP_C/16"
	inc ip route | grep -q "default via $IP_P"
}

# listening WHERE PORT [udp]: waits (60 tries at most) until a TCP socket
# listens (or a UDP socket is bound) on PORT in container WHERE, or in the
# peer namespace if WHERE is "peer" (busybox nc listens on IPv6 [::] when
# it can: /proc/net/tcp6 too)
listening() {
	local re i f=tcp st=0A
	[ "${3:-}" != udp ] || { f=udp; st=07; }
	re=$(printf ':%04X 0+:0000 %s' "$2" "$st")
	for i in $(seq 60); do
		if [ "$1" = peer ]; then
			inp cat /proc/net/$f /proc/net/${f}6
		else
			k exec "$1" cat /proc/net/$f /proc/net/${f}6
		fi 2>/dev/null | grep -Eq "$re" && return 0
		sleep 1
	done
	echo "nothing listens on port $2 in $1" >&2
	return 1
}

# wait_bounded SECS PID...: waits for these background jobs, at most SECS
# seconds (then kills them and fails).  Never a bare `wait`: with
# BATS_TEST_TIMEOUT, bats keeps a watcher job of its own in the test's
# shell that sleeps for the whole timeout.
wait_bounded() {
	local secs=$1 i p left
	shift
	for i in $(seq "$secs"); do
		left=
		for p in "$@"; do
			! kill -0 "$p" 2>/dev/null || left="$left $p"
		done
		[ -n "$left" ] || break
		sleep 1
	done
	if [ -n "$left" ]; then
		echo "still running after $secs s:$left" >&2
		kill $left 2>/dev/null || true
		return 1
	fi
	for p in "$@"; do
		wait "$p" || true
	done
}

# net_dump ID: what the two ends see, for a failing exchange
net_dump() {
	echo "--- peer: neighbours, sockets, counters" >&2
	inp ip neigh >&2 || true
	inp ss -tanu >&2 || true
	inp ip -s link >&2 || true
	echo "--- container namespace: tc and links" >&2
	inc tc -s filter show dev eth0 ingress >&2 || true
	inc ip -s link >&2 || true
	echo "--- inside $1" >&2
	timeout -k 5 30 "$kvbox" --root "$R" exec "$1" sh -c 'cat /proc/net/arp /proc/net/tcp /proc/net/dev; ip neigh; ip route' >&2 || true
}

# start_server ID [NS]: a container in NS (default $NS_C) that stays up,
# listening on port 8000 (what it receives goes to its /tmp/in8000, a
# tmpfs: the rootfs is read-only); output in $BATS_TEST_TMPDIR/ID.out
start_server() {
	local b
	b=$(bundle "$1" /var/run/netns/"${2:-$NS_C}" sh -c 'nc -l -p 8000 >/tmp/in8000 & sleep 100000')
	k create --bundle "$b" "$1" >"$BATS_TEST_TMPDIR/$1.out" 2>&1 </dev/null
	k start "$1"
	listening "$1" 8000 || { cat "$BATS_TEST_TMPDIR/$1.out"; return 1; }
}

@test "the guest NIC: the interface's name, MAC, MTU, address and routes; host side flushed" {
	mac=$(inc cat /sys/class/net/eth0/address)
	start_server n1
	# while it runs: the host interface has no address, a tap mirrors it
	inc ip -o link | grep -q kvbtap0
	inc tc filter show dev eth0 ingress | grep -q mirred
	! inc ip -o -4 addr show dev eth0 | grep -q "$IP_C"
	run k exec n1 cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$mac" ]
	[ "${lines[1]}" = $MTU ]
	run k exec n1 ip -o addr show dev eth0
	echo "$output"
	[[ "$output" == *"$IP_C/16"* ]]
	run k exec n1 ip route
	echo "$output"
	[[ "$output" == *"default via $IP_P dev eth0"* ]]
	# the jailed sandbox keeps CAP_NET_ADMIN (0x1000) and nothing else,
	# to give the interface back itself when the container ends
	pid=$(k state n1 | jq .pid)
	grep -qx "CapEff:	0000000000001000" "/proc/$pid/status"
	grep -qx "CapPrm:	0000000000001000" "/proc/$pid/status"
	grep -qx "CapBnd:	0000000000000000" "/proc/$pid/status"
	k kill n1 KILL
	for i in $(seq 600); do [ "$(k state n1 | jq -r .status)" = stopped ] && break; sleep 0.1; done
	[ "$(k state n1 | jq -r .status)" = stopped ]
	host_side_clean # by the sandbox, before delete
	[ ! -e "$R/n1/net" ]
	k delete n1
	host_side_clean
}

@test "ping both ways; full-MTU packets pass both ways, one byte more with DF is refused" {
	start_server n2
	run k exec --cap CAP_NET_RAW n2 ping -c 3 -W 5 $IP_P
	echo "$output"
	[ "$status" -eq 0 ]
	# busybox ping in the peer: the nested host has no iputils ping
	run inp busybox ping -c 3 -W 5 $IP_C
	echo "$output"
	[ "$status" -eq 0 ]
	# MTU - 20 (IP) - 8 (ICMP or UDP header): one full-MTU packet each way
	inp busybox ping -c 1 -W 5 -s $((MTU - 28)) $IP_C
	run k exec --cap CAP_NET_RAW n2 ping -c 1 -W 5 -s $((MTU - 28)) $IP_P
	echo "$output"
	[ "$status" -eq 0 ]
	# busybox ping has no -M do: net-df sends UDP with DF.  A full-MTU
	# datagram arrives whole; one byte more is refused in the guest (its
	# NIC's MTU is the interface's, not virtio's 1500 default)
	inp timeout -k 5 60 "$netdf" recv 9100 >"$BATS_TEST_TMPDIR/df" &
	pid=$!
	listening peer 9100 udp
	run timeout -k 5 60 "$kvbox" --root "$R" exec n2 net-df send $IP_P 9100 $((MTU - 28))
	echo "$output"
	[ "$output" = "sent $((MTU - 28))" ]
	wait_bounded 30 $pid
	[ "$(cat "$BATS_TEST_TMPDIR/df")" = "got $((MTU - 28))" ]
	run k exec n2 net-df send $IP_P 9100 $((MTU - 27))
	echo "$output"
	[ "$status" -eq 2 ]
	[ "$output" = EMSGSIZE ]
	k delete --force n2
	host_side_clean
}

@test "TCP both ways, the container as a server, UDP both ways" {
	start_server n3
	# the container as a server (its init listens on 8000)
	echo "from the peer" | inp timeout -k 5 60 busybox nc -w 10 $IP_C 8000 || { net_dump n3; false; }
	for _ in $(seq 10); do
		run k exec n3 cat /tmp/in8000
		[ "$output" = "from the peer" ] && break
		sleep 1
	done
	echo "$output"
	[ "$output" = "from the peer" ]
	# the container as a client
	inp timeout -k 5 120 busybox nc -l -p 8100 >"$BATS_TEST_TMPDIR/in8100" &
	pid=$!
	listening peer 8100
	timeout -k 5 60 "$kvbox" --root "$R" exec n3 sh -c "echo from the container | nc -w 10 $IP_P 8100" ||
		{ net_dump n3; false; }
	wait_bounded 60 $pid
	[ "$(cat "$BATS_TEST_TMPDIR/in8100")" = "from the container" ] || { net_dump n3; false; }
	# UDP: busybox tftp in the container asks (container -> peer), the
	# peer's one-shot server sends the data (peer -> container), tftp acks
	inp timeout -k 5 120 python3 "$BATS_TEST_DIRNAME/net-tftpd.py" 6969 "udp payload" >"$BATS_TEST_TMPDIR/tftpd" &
	pid=$!
	# python starts slowly in the nested host: tftp's retries must not
	# all go to a closed port
	listening peer 6969 udp
	run timeout -k 5 60 "$kvbox" --root "$R" exec n3 sh -c "cd /tmp && tftp -g -r hello -l /tmp/udp $IP_P 6969 && cat /tmp/udp"
	echo "$output"
	wait_bounded 60 $pid
	cat "$BATS_TEST_TMPDIR/tftpd"
	[ "$output" = "udp payload" ]
	grep -q "rrq hello" "$BATS_TEST_TMPDIR/tftpd"
	grep -q "ack (4, 1)" "$BATS_TEST_TMPDIR/tftpd"
	k delete --force n3
	host_side_clean
}

@test "bulk transfer both ways (256 MiB in, 32 MiB out), sha256 checked" {
	mib=${KVBOX_NET_MIB:-256}
	start_server n4
	head -c $((mib << 20)) /dev/urandom >"$BATS_TEST_TMPDIR/blob"
	want=$(sha256sum <"$BATS_TEST_TMPDIR/blob" | cut -d' ' -f1)
	# peer -> container
	# nc -e: busybox nc half-closes when its own stdin ends (/dev/null
	# here), and the sender's nc quits on that: the data goes to PROG
	k exec -d n4 nc -l -p 8200 -e sh -c 'sha256sum >/tmp/sum'
	listening n4 8200
	t0=$(date +%s)
	inp timeout -k 5 600 busybox nc -w 30 $IP_C 8200 <"$BATS_TEST_TMPDIR/blob" || { net_dump n4; false; }
	for _ in $(seq 60); do
		got=$(k exec n4 cat /tmp/sum 2>/dev/null | cut -d' ' -f1)
		[ -n "$got" ] && break
		sleep 1
	done
	echo "# peer -> container: $mib MiB in $(($(date +%s) - t0)) s" >&3
	[ "$got" = "$want" ]
	# container -> peer
	mib=${KVBOX_NET_MIB_OUT:-32}
	inp timeout -k 5 300 busybox nc -l -p 8300 -e sh -c "sha256sum >$BATS_TEST_TMPDIR/sum" &
	pid=$!
	listening peer 8300
	t0=$(date +%s)
	timeout -k 5 240 "$kvbox" --root "$R" exec n4 sh -c "head -c $((mib << 20)) /dev/zero | nc -w 30 $IP_P 8300" ||
		{ net_dump n4; false; }
	wait_bounded 60 $pid
	echo "# container -> peer: $mib MiB in $(($(date +%s) - t0)) s" >&3
	[ "$(cut -d' ' -f1 "$BATS_TEST_TMPDIR/sum")" = "$(head -c $((mib << 20)) /dev/zero | sha256sum | cut -d' ' -f1)" ]
	k delete --force n4
	host_side_clean
}

@test "--network none: loopback only, the namespace untouched" {
	b=$(bundle none1 /var/run/netns/"$NS_C" sh -c 'ls /sys/class/net; ip -o addr')
	run --separate-stderr k --network none run --bundle "$b" none1
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	# lo, and sit0 (the guest kernel's IPv6-in-IPv4 device) at most
	[ "${lines[0]}" = lo ]
	[[ "$output" != *eth0* ]]
	[[ "$output" != *"169.254."* ]]
	host_side_clean
}

@test "a network namespace path that does not exist is one clear error" {
	b=$(bundle bad1 /var/run/netns/kvbox-no-such-ns true)
	run --separate-stderr k run --bundle "$b" bad1
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *'/var/run/netns/kvbox-no-such-ns'* ]]
	[[ "$stderr" == *'No such file or directory'* ]]
	[ ! -e "$R/bad1" ]
}

@test "a sandbox killed with SIGKILL: delete gives the interface back" {
	start_server n5
	pid=$(k state n5 | jq -r .pid)
	kill -9 "$pid"
	sleep 1
	[ -e "$R/n5/net" ]
	k delete --force n5
	host_side_clean
	# and again, nothing to do
	run k delete n5
	[ "$status" -ne 0 ]
	host_side_clean
}

# a second pair of namespaces, one container in each (test 8)
pair_ab() {
	ip link add kvbv-a type veth peer name kvbv-b
	ip link set kvbv-a netns "$NS_A"
	ip link set kvbv-b netns "$NS_B"
	ip -n "$NS_A" link set kvbv-a name eth0
	ip -n "$NS_B" link set kvbv-b name eth0
	ip -n "$NS_A" addr add $IP_A/16 dev eth0
	ip -n "$NS_B" addr add $IP_B/16 dev eth0
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 mtu $MTU_AB up
	done
}

@test "two containers in two namespaces: TCP both ways, jumbo frames (MTU 9000) with DF" {
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	pair_ab
	start_server na "$NS_A"
	start_server nb "$NS_B"
	for id in na nb; do
		run k exec $id cat /sys/class/net/eth0/mtu
		[ "$output" = $MTU_AB ]
	done
	k exec na sh -c "echo from na | nc -w 10 $IP_B 8000"
	k exec nb sh -c "echo from nb | nc -w 10 $IP_A 8000"
	for id in na nb; do
		want="from nb"
		[ $id = nb ] && want="from na"
		for _ in $(seq 10); do
			run k exec $id cat /tmp/in8000
			[ "$output" = "$want" ] && break
			sleep 1
		done
		echo "$id: $output"
		[ "$output" = "$want" ]
	done
	# one full 9000-byte IP packet with DF, guest to guest (both NICs and
	# both taps carry it whole); one byte more is refused
	k exec -d nb sh -c 'net-df recv 9100 >/tmp/df'
	listening nb 9100 udp
	run k exec na net-df send $IP_B 9100 $((MTU_AB - 28))
	echo "$output"
	[ "$output" = "sent $((MTU_AB - 28))" ]
	for _ in $(seq 10); do
		run k exec nb cat /tmp/df
		[ "$output" = "got $((MTU_AB - 28))" ] && break
		sleep 1
	done
	echo "$output"
	[ "$output" = "got $((MTU_AB - 28))" ]
	run k exec na net-df send $IP_B 9100 $((MTU_AB - 27))
	[ "$status" -eq 2 ]
	[ "$output" = EMSGSIZE ]
	k delete --force na
	k delete --force nb
	for ns in "$NS_A" "$NS_B"; do
		! ip -n "$ns" -o link | grep -q kvbtap
		ip -n "$ns" -o -4 addr show dev eth0 | grep -q '169.254.99'
	done
}

@test "/etc/hosts, /etc/resolv.conf, /etc/hostname bind-mounted from the bundle, as runc" {
	b=$(bundle etc1 /var/run/netns/"$NS_C" sh -c \
		'cat /etc/hosts /etc/resolv.conf /etc/hostname; hostname; echo "169.254.77.9 added" >>/etc/hosts')
	printf '127.0.0.1 localhost\n%s kvbnet-host\n' $IP_C >"$b/hosts"
	printf 'nameserver 169.254.77.53\nsearch kvbnet.test\n' >"$b/resolv.conf"
	echo kvbnet-host >"$b/hostname"
	# with a read-only root a missing destination fails in the guest, after
	# the interface was mirrored: create gives it back all the same
	mkdir -p "$BATS_TEST_TMPDIR/ro1"
	jq --arg b "$b" '.root.readonly = true | .mounts += [{destination: "/etc/kvbnet-none",
		type: "bind", source: ($b + "/hosts"), options: ["rbind", "ro"]}]' \
		"$b/config.json" >"$BATS_TEST_TMPDIR/ro1/config.json"
	run --separate-stderr k run --bundle "$BATS_TEST_TMPDIR/ro1" ro1
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *'creating /etc/kvbnet-none in the rootfs: Read-only file system'* ]]
	[ ! -e "$R/ro1" ]
	host_side_clean
	# what podman gives runc: rw binds of files in its run dir, a writable
	# root (the rootfs has no /etc/hosts: the mount points are made in it;
	# with a read-only root they must exist already: docs/cli.md)
	jq --arg b "$b" '.hostname = "kvbnet-host" | .root.readonly = false | .mounts += [
		{destination: "/etc/hosts", type: "bind", source: ($b + "/hosts"), options: ["rbind", "rw"]},
		{destination: "/etc/resolv.conf", type: "bind", source: ($b + "/resolv.conf"), options: ["rbind", "ro"]},
		{destination: "/etc/hostname", type: "bind", source: ($b + "/hostname"), options: ["rbind", "ro"]}]' \
		"$b/config.json" >"$b/c.json"
	mv "$b/c.json" "$b/config.json"
	run --separate-stderr k run --bundle "$b" etc1
	echo "$output / $stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "127.0.0.1 localhost" ]
	[ "${lines[1]}" = "$IP_C kvbnet-host" ]
	[ "${lines[2]}" = "nameserver 169.254.77.53" ]
	[ "${lines[3]}" = "search kvbnet.test" ]
	[ "${lines[4]}" = kvbnet-host ]
	[ "${lines[5]}" = kvbnet-host ]
	# the container's write went to the bundle's file
	[ "$(tail -n 1 "$b/hosts")" = "169.254.77.9 added" ]
	host_side_clean
}

@test "an interface that cannot be mirrored is one clear error; nothing left behind" {
	# a tun device (layer 3, no MAC) in a namespace of its own
	ip netns add kvbnet-x
	ip -n kvbnet-x tuntap add dev kvbtun0 mode tun
	ip -n kvbnet-x link set kvbtun0 up
	b=$(bundle badif1 /var/run/netns/kvbnet-x true)
	run --separate-stderr k run --bundle "$b" badif1
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *'interface kvbtun0 cannot be mirrored into the VM: not an Ethernet device'* ]]
	[ ! -e "$R/badif1" ]
	! ip -n kvbnet-x -o link | grep -q kvbtap
	# an ingress qdisc already on eth0 (someone else's tc set-up): refused
	# after the tap was made; the tap goes, the qdisc and address stay
	inc tc qdisc add dev eth0 ingress
	b=$(bundle badif2 /var/run/netns/"$NS_C" true)
	run --separate-stderr k run --bundle "$b" badif2
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *'interface eth0 cannot be mirrored into the VM: it has an ingress qdisc already'* ]]
	[ ! -e "$R/badif2" ]
	! inc ip -o link | grep -q kvbtap
	inc tc qdisc show dev eth0 | grep -q ingress
	inc ip -o -4 addr show dev eth0 | grep -q "$IP_C/16"
	inc tc qdisc del dev eth0 ingress
	host_side_clean
}

@test "/dev/net/tun missing, or not the tun device: one clear error; nothing left behind" {
	b=$(bundle notun1 /var/run/netns/"$NS_C" true)
	# a mount namespace where /dev/net is an empty tmpfs
	run --separate-stderr unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs /dev/net && exec "$0" --root "$1" run --bundle "$2" notun1' \
		"$kvbox" "$R" "$b"
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *'interface eth0: /dev/net/tun (needed for its tap): No such file or directory'* ]]
	[ ! -e "$R/notun1" ]
	host_side_clean
	# /dev/null bind-mounted over it
	run --separate-stderr unshare -m --propagation private sh -c \
		'mount --bind /dev/null /dev/net/tun && exec "$0" --root "$1" run --bundle "$2" notun1' \
		"$kvbox" "$R" "$b"
	echo "$output / $stderr"
	[ "$status" -ne 0 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *'/dev/net/tun is not the tun device (character device 10:200)'* ]]
	[ ! -e "$R/notun1" ]
	host_side_clean
}

# podman (4.3, netavark) with kvbox as its runtime and its own network
# set-up: a bridge network it creates, the container in the namespace it
# makes (linux.namespaces network path) on a veth to the bridge.  netavark
# needs the bridge and netfilter (nat) modules: the nested host has them in
# the nested kernel's package (tests/nested/prepare) but no
# /lib/modules/$(uname -r) for modprobe (its / is this machine's); a
# symlink there, made for this test and removed after, lets the kernel
# and netavark load them.  The bridge lives in the nested host's own
# namespace: the nested host has no other interface, nothing leaves it.
podman_modules() {
	local v cache dir
	v=$(uname -r)
	cache=${KVBOX_CACHE:-/var/cache/kvbox}
	if [ ! -e /lib/modules/"$v" ]; then
		dir=$(ls -d "$cache"/nested/*/pkg/lib/modules/"$v" 2>/dev/null | head -n 1)
		[ -n "$dir" ] || { echo "no modules for kernel $v (/lib/modules, $cache/nested)"; return 1; }
		mkdir -p /lib/modules
		ln -s "$dir" /lib/modules/"$v"
		touch "$BATS_FILE_TMPDIR/modules-link"
	fi
	modprobe bridge
}

@test "podman with its own bridge network (netavark, 169.254.55.0/24): address, route, TCP in, ping out" {
	podman_modules
	pd=$BATS_TEST_TMPDIR/podman
	mkdir -p "$pd/tmp"
	# as clients.bats: storage in the temp dir, no systemd or journald
	cat >"$pd/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
	EOF
	p() {
		CONTAINERS_CONF=$pd/containers.conf timeout -k 10 300 podman --root "$pd/root" \
			--runroot "$pd/runroot" --tmpdir "$pd/tmp" --storage-driver vfs \
			--cgroup-manager cgroupfs --events-backend file --runtime "$kvbox" "$@"
	}
	p network create --subnet 169.254.55.0/24 --disable-dns kvbnet-pod
	p run -d --name pn1 --network kvbnet-pod --rootfs "$rootfs" \
		sh -c 'nc -l -p 8000 >/tmp/in8000 & sleep 100000'
	run p exec pn1 ip -o -4 addr show dev eth0
	echo "$output"
	[[ "$output" == *"169.254.55.2/24"* ]]
	run p exec pn1 ip route
	echo "$output"
	[[ "$output" == *"default via 169.254.55.1 dev eth0"* ]]
	# from the bridge (the nested host's side) into the container
	for _ in $(seq 30); do
		p exec pn1 cat /proc/net/tcp /proc/net/tcp6 | grep -Eq ':1F40 0+:0000 0A' && break
		sleep 1
	done
	echo "from the bridge" | busybox nc -w 10 169.254.55.2 8000
	for _ in $(seq 10); do
		run p exec pn1 cat /tmp/in8000
		[ "$output" = "from the bridge" ] && break
		sleep 1
	done
	echo "$output"
	[ "$output" = "from the bridge" ]
	run p exec pn1 ping -c 2 -W 5 169.254.55.1
	echo "$output"
	[ "$status" -eq 0 ]
	p rm -f -t 0 pn1
	p network rm kvbnet-pod
	[ -z "$(p ps -aq)" ]
	[ -z "$("$kvbox" list -q)" ]
}
