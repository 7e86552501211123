#!/usr/bin/env bats
# Nested tier: load (issue 6).  20 containers created at once (all reach
# "created", start, exit, are deleted), and create/delete cycles that must
# not leave anything growing: open fds (system-wide, and of a long-lived
# sandbox that serves an exec every cycle), processes, mounts, taps, and
# MemAvailable (within LOAD_MEM_DRIFT_MIB).  Every container is a 128 MiB
# VM (io.kvbox.vm.memory); the cycled one mirrors a veth of its own
# network namespace, so every cycle makes and removes a tap and qdiscs.
# Run it with
#   tests/nested/run bats tests/integration/nested/load.bats
# Environment:
#   KVBOX_LOAD_CONCURRENT  containers created at once (default 8 in CI;
#                          scripts/load runs the issue's 20).  They start
#                          from the template (create's default): the first
#                          builds it while the others wait for it; booting
#                          them all at once was more than the one-vCPU
#                          nested host could do (docs/security.md)
#   KVBOX_LOAD_CYCLES      create/delete cycles (default 10, sized for CI;
#                          scripts/load runs the issue's 200)
# The figures go to the TAP stream as "# load: ..." lines.

bats_require_minimum_version 1.5.0

load oci-helpers

NS_C=kvbload-c
NS_P=kvbload-p
LOAD_MEM_DRIFT_MIB=64

setup_file() {
	oci_setup_file
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_P" 2>/dev/null || true
	ip netns add "$NS_C"
	ip netns add "$NS_P"
	ip link add kvbl-c type veth peer name kvbl-p
	ip link set kvbl-c netns "$NS_C"
	ip link set kvbl-p netns "$NS_P"
	ip -n "$NS_C" link set kvbl-c name eth0
	ip -n "$NS_C" link set eth0 up
	ip -n "$NS_P" link set kvbl-p up
	ip -n "$NS_C" addr add 169.254.79.2/16 dev eth0
	ip -n "$NS_P" addr add 169.254.79.1/16 dev kvbl-p
}

teardown_file() {
	for id in $(k list -q 2>/dev/null); do
		k delete --force "$id" >/dev/null 2>&1 || true
	done
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_P" 2>/dev/null || true
}

teardown() {
	for id in $(k list -q 2>/dev/null); do
		k delete --force "$id" >/dev/null 2>&1 || true
	done
}

figure() { echo "# load: $*" >&3; }

mem_available_kib() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }

@test "KVBOX_LOAD_CONCURRENT (8; scripts/load: 20) containers created concurrently: all reach created, start, exit and are deleted" {
	n=${KVBOX_LOAD_CONCURRENT:-8}
	b=$(bundle b sh -c 'echo ran-$((6 * 7))')
	mem0=$(mem_available_kib)
	t0=$(date +%s)
	pids=()
	# n VMs start at once on the nested host's one vCPU (QEMU TCG): allow
	# them more than the 300 s one boot gets (the test's own bound in CI
	# is BATS_TEST_TIMEOUT, 600 s)
	for i in $(seq "$n"); do
		(
			s=$(date +%s)
			rc=0
			KVBOX_CREATE_TIMEOUT=780 "$kvbox" --root "$R" --debug --log "$BATS_TEST_TMPDIR/log.$i" \
				create --bundle "$b" "l$i" </dev/null >"$BATS_TEST_TMPDIR/out.$i" 2>&1 || rc=$?
			echo $(($(date +%s) - s)) >"$BATS_TEST_TMPDIR/took.$i"
			exit $rc
		) &
		pids+=($!)
	done
	failed=0
	for i in $(seq "$n"); do
		wait "${pids[$((i - 1))]}" || {
			echo "create l$i failed after $(cat "$BATS_TEST_TMPDIR/took.$i") s: $(cat "$BATS_TEST_TMPDIR/out.$i")"
			# --debug: a failed create logs the guest console's last 2 KiB
			grep -E 'guest console|level=(error|warning)' "$BATS_TEST_TMPDIR/log.$i" | tail -n 40
			failed=$((failed + 1))
		}
	done
	t1=$(date +%s)
	mem1=$(mem_available_kib)
	took=$(cat "$BATS_TEST_TMPDIR"/took.* | sort -n | tr '\n' ' ')
	figure "$n concurrent creates: $failed failed; each took (s): $took"
	[ "$failed" -eq 0 ]
	for i in $(seq "$n"); do
		[ "$(status_of "l$i")" = created ]
	done
	[ "$(pgrep -fc "kvbox sandbox .* l[0-9]+\$")" -eq "$n" ]
	for i in $(seq "$n"); do
		k start "l$i"
	done
	for i in $(seq "$n"); do
		wait_status "l$i" stopped 300
	done
	t2=$(date +%s)
	for i in $(seq "$n"); do
		grep -qx "ran-42" "$BATS_TEST_TMPDIR/out.$i" || { cat "$BATS_TEST_TMPDIR/out.$i"; false; }
		k delete "l$i"
	done
	t3=$(date +%s)
	for i in $(seq "$n"); do
		nothing_left "l$i"
	done
	figure "$n concurrent creates: all created after $((t1 - t0)) s, started and exited after $((t2 - t1)) s more, deleted in $((t3 - t2)) s"
	figure "$n created VMs of 128 MiB: MemAvailable $((mem0 / 1024)) -> $((mem1 / 1024)) MiB ($(((mem0 - mem1) / n / 1024)) MiB each)"
}

# snapshot: one line "fds procs mounts taps memavail keeper_fds keeper_threads gofer_fds"
# (processes: not kernel threads, i.e. neither kthreadd nor its children;
# the smallest of three samples, so a passing short-lived process is not
# counted)
snapshot() {
	local best= s i
	for i in 1 2 3; do
		s=$(
			shopt -s nullglob
			fds=0 procs=0
			for p in /proc/[0-9]*; do
				read -r line 2>/dev/null <"$p/stat" || continue
				set -- ${line##*) }
				[ "${p#/proc/}" != 2 ] && [ "$2" != 2 ] || continue
				procs=$((procs + 1))
				f=("$p"/fd/*)
				fds=$((fds + ${#f[@]}))
			done
			taps=$( (ip -o link; ip -n "$NS_C" -o link) | grep -c kvbtap || true)
			f=(/proc/$keeper/fd/*)
			g=(/proc/$keeper_gofer/fd/*)
			echo "$fds $procs $(wc -l </proc/self/mountinfo) $taps $(mem_available_kib)" \
				"${#f[@]} $(awk '/^Threads:/ { print $2 }' "/proc/$keeper/status") ${#g[@]}"
		)
		if [ -z "$best" ] || [ "${s%% *}" -lt "${best%% *}" ]; then best=$s; fi
		sleep 0.3
	done
	echo "$best"
}

@test "create/delete cycles (KVBOX_LOAD_CYCLES): no growth in fds, processes, mounts, taps, memory" {
	n=${KVBOX_LOAD_CYCLES:-10}
	kb=$(bundle keeper sleep 1000000)
	k run -d --bundle "$kb" keeper </dev/null >"$BATS_TEST_TMPDIR/keeper.out" 2>&1
	keeper=$(k state keeper | jq .pid)
	keeper_gofer=$(gofer_of "$keeper")
	[ -n "$keeper_gofer" ]
	b=$(bundle b sleep 1000)
	edit "$b" '.linux.namespaces = ([.linux.namespaces[] | select(.type != "network")]
		+ [{type: "network", path: $ns}])' --arg ns "/run/netns/$NS_C"
	cycle() {
		k create --bundle "$b" cyc </dev/null
		[ "$(status_of cyc)" = created ]
		ip -n "$NS_C" -o link | grep -q kvbtap
		[ "$(k exec keeper echo alive)" = alive ]
		k delete cyc
		[ ! -e "$R/cyc" ]
	}
	# warm-up: the first cycle fills caches (the kernel image, the agent)
	cycle
	read -r fds0 procs0 mounts0 taps0 mem0 kfd0 kthr0 gfd0 <<<"$(snapshot)"
	t0=$(date +%s.%N)
	for i in $(seq "$n"); do
		cycle
		if [ "$i" -eq $((n / 2)) ]; then
			read -r _ _ _ _ memh _ _ _ <<<"$(snapshot)"
		fi
	done
	t1=$(date +%s.%N)
	read -r fds1 procs1 mounts1 taps1 mem1 kfd1 kthr1 gfd1 <<<"$(snapshot)"
	nothing_left cyc "$NS_C"
	figure "$n create/delete cycles in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s ($(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }') s per cycle, each with an exec in the keeper)"
	figure "after the warm-up -> after $n cycles: fds (all processes) $fds0 -> $fds1, processes $procs0 -> $procs1, mounts $mounts0 -> $mounts1, taps $taps0 -> $taps1"
	figure "keeper sandbox: fds $kfd0 -> $kfd1, threads $kthr0 -> $kthr1; its gofer: fds $gfd0 -> $gfd1"
	figure "MemAvailable $((mem0 / 1024)) -> $((memh / 1024)) (half-way) -> $((mem1 / 1024)) MiB (bound: a drop of at most $LOAD_MEM_DRIFT_MIB MiB)"
	[ "$procs1" -le "$procs0" ]
	[ "$fds1" -le "$((fds0 + 8))" ]
	[ "$mounts1" -eq "$mounts0" ]
	[ "$taps1" -eq 0 ] && [ "$taps0" -eq 0 ]
	[ "$kfd1" -eq "$kfd0" ]
	[ "$kthr1" -eq "$kthr0" ]
	[ "$gfd1" -eq "$gfd0" ]
	[ "$((mem0 - mem1))" -le "$((LOAD_MEM_DRIFT_MIB * 1024))" ]
	[ "$(k exec keeper echo still-here)" = still-here ]
	k delete --force keeper
	nothing_left keeper
}
