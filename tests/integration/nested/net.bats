#!/usr/bin/env bats
# Nested tier: container networking (--network sandbox|none, oci/net.h).
# Two network namespaces made here, joined by a veth pair with link-local
# 169.254.0.0/16 addresses only (no route anywhere else): the container
# runs in one (linux.namespaces network path), the peer is the other.
# Run it with
#   tests/nested/run bats tests/integration/nested/net.bats
# The bulk transfer is KVBOX_NET_MIB MiB each way (default 16: under QEMU
# TCG a 256 MiB transfer takes minutes; set 256 to run the full size).
# Everything made here (namespaces, veths, containers) is removed in
# teardown_file; each test checks nothing of a sandbox is left.

bats_require_minimum_version 1.5.0

# fixed names: bats runs setup_file and each test in different processes
NS_C=kvbnet-c
NS_P=kvbnet-p
IP_C=169.254.77.2
IP_P=169.254.77.1
MTU=1400

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
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_P" 2>/dev/null || true
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
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_P" 2>/dev/null || true
}

teardown() {
	for id in $("$kvbox" --root "$R" list -q 2>/dev/null); do
		"$kvbox" --root "$R" delete --force "$id" >/dev/null 2>&1 || true
	done
	ip netns pids "$NS_P" 2>/dev/null | xargs -r kill 2>/dev/null || true
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

# start_server ID: a container in $NS_C that stays up, listening on port
# 8000 (what it receives goes to its /tmp/in8000, a tmpfs: the rootfs is
# read-only); output in $BATS_TEST_TMPDIR/ID.out
start_server() {
	local b
	b=$(bundle "$1" /var/run/netns/"$NS_C" sh -c 'nc -l -p 8000 >/tmp/in8000 & sleep 100000')
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

@test "ping both ways; full-MTU packets pass both ways (1400-byte IP packets)" {
	start_server n2
	run k exec --cap CAP_NET_RAW n2 ping -c 3 -W 5 $IP_P
	echo "$output"
	[ "$status" -eq 0 ]
	# busybox ping in the peer: the nested host has no iputils ping
	run inp busybox ping -c 3 -W 5 $IP_C
	echo "$output"
	[ "$status" -eq 0 ]
	# 1400 - 20 (IP) - 8 (ICMP) = 1372: one full-MTU packet each way.
	# busybox ping has no -M do (DF), so "1373 bytes do not pass" is not
	# checked here: the peer's stack would fragment instead.
	inp busybox ping -c 1 -W 5 -s 1372 $IP_C
	run k exec --cap CAP_NET_RAW n2 ping -c 1 -W 5 -s 1372 $IP_P
	echo "$output"
	[ "$status" -eq 0 ]
	k delete --force n2
	host_side_clean
}

@test "TCP both ways, the container as a server, UDP both ways" {
	start_server n3
	# the container as a server (its init listens on 8000)
	echo "from the peer" | inp busybox nc -w 10 $IP_C 8000
	for _ in $(seq 10); do
		run k exec n3 cat /tmp/in8000
		[ "$output" = "from the peer" ] && break
		sleep 1
	done
	echo "$output"
	[ "$output" = "from the peer" ]
	# the container as a client
	inp busybox nc -l -p 8100 >"$BATS_TEST_TMPDIR/in8100" &
	listening peer 8100
	k exec n3 sh -c "echo from the container | nc -w 10 $IP_P 8100"
	wait
	[ "$(cat "$BATS_TEST_TMPDIR/in8100")" = "from the container" ]
	# UDP: busybox tftp in the container asks (container -> peer), the
	# peer's one-shot server sends the data (peer -> container), tftp acks
	inp python3 "$BATS_TEST_DIRNAME/net-tftpd.py" 6969 "udp payload" >"$BATS_TEST_TMPDIR/tftpd" &
	# python starts slowly in the nested host: tftp's retries must not
	# all go to a closed port
	listening peer 6969 udp
	run k exec n3 sh -c "cd /tmp && tftp -g -r hello -l /tmp/udp $IP_P 6969 && cat /tmp/udp"
	echo "$output"
	wait
	cat "$BATS_TEST_TMPDIR/tftpd"
	[ "$output" = "udp payload" ]
	grep -q "rrq hello" "$BATS_TEST_TMPDIR/tftpd"
	grep -q "ack (4, 1)" "$BATS_TEST_TMPDIR/tftpd"
	k delete --force n3
	host_side_clean
}

@test "bulk transfer both ways, sha256 checked" {
	mib=${KVBOX_NET_MIB:-16}
	start_server n4
	head -c $((mib << 20)) /dev/urandom >"$BATS_TEST_TMPDIR/blob"
	want=$(sha256sum <"$BATS_TEST_TMPDIR/blob" | cut -d' ' -f1)
	# peer -> container
	# nc -e: busybox nc half-closes when its own stdin ends (/dev/null
	# here), and the sender's nc quits on that: the data goes to PROG
	k exec -d n4 nc -l -p 8200 -e sh -c 'sha256sum >/tmp/sum'
	listening n4 8200
	t0=$(date +%s)
	inp busybox nc -w 30 $IP_C 8200 <"$BATS_TEST_TMPDIR/blob"
	for _ in $(seq 60); do
		got=$(k exec n4 cat /tmp/sum 2>/dev/null | cut -d' ' -f1)
		[ -n "$got" ] && break
		sleep 1
	done
	echo "# peer -> container: $mib MiB in $(($(date +%s) - t0)) s" >&3
	[ "$got" = "$want" ]
	# container -> peer
	inp busybox nc -l -p 8300 -e sh -c "sha256sum >$BATS_TEST_TMPDIR/sum" &
	listening peer 8300
	t0=$(date +%s)
	k exec n4 sh -c "head -c $((mib << 20)) /dev/zero | nc -w 30 $IP_P 8300"
	wait
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
