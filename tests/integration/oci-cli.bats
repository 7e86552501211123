#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
#
# Host tier: the runc-compatible commands that need no VM (version,
# features, spec, state, list, delete) against a state directory of the
# test's own (--root $BATS_TEST_TMPDIR/root).  Containers are made by a
# helper that writes state.json the way kvbox does, with a live or a dead
# "sandbox" process, so liveness (pid + start time) is exercised for real.
#
#   KVBOX  path of the kvbox binary (default: <repo>/build/kvbox)

bats_require_minimum_version 1.5.0

setup() {
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	kvbox=${KVBOX:-$top/build/kvbox}
	root=$BATS_TEST_TMPDIR/root
	bundle=$BATS_TEST_TMPDIR/bundle
	mkdir -p "$bundle"
	kb() { "$kvbox" --root "$root" "$@"; }
}

teardown() {
	if [ -n "${sleeper:-}" ]; then
		kill -9 "$sleeper" 2>/dev/null || true
		wait "$sleeper" 2>/dev/null || true
	fi
}

one_line_error() {
	[ "$status" -ne 0 ]
	[ -n "$stderr" ]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

json_ok() { python3 -m json.tool >/dev/null; }
# jget JSON-EXPR: evaluates d<EXPR> on the JSON document on stdin
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# make_container ID STATUS PID STARTTIME: a state directory as kvbox writes it
make_container() {
	local dir=$root/$1
	mkdir -p "$dir"
	chmod 700 "$root" "$dir"
	: >"$dir/lock"
	cat >"$dir/state.json" <<-EOF
	{"ociVersion": "1.0.2-dev", "id": "$1", "status": "$2", "pid": $3,
	 "pidStartTime": $4, "bundle": "$bundle", "rootfs": "$bundle/rootfs",
	 "annotations": {"org.example": "x"}, "created": "2024-01-02T03:04:05.5Z", "owner": "root",
	 "kvbox": {"goferPid": 0, "goferStartTime": 0, "controlSocket": null}}
	EOF
}

start_time() { awk '{print $22}' "/proc/$1/stat"; }

# a pid that is surely not running now
dead_pid() {
	sh -c 'exit 0' &
	local p=$!
	wait "$p"
	echo "$p"
}

@test "--version is runc's form plus the KVM flavour" {
	run --separate-stderr "$kvbox" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^kvbox\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	[[ "${lines[1]}" == "commit: "?* ]]
	[ "${lines[2]}" = "spec: 1.0.2-dev" ]
	[[ "${lines[3]}" =~ ^kvm:\ (vmx|svm|pvm|unknown)$ ]]
}

@test "features prints valid JSON with runc's keys and a kvbox section" {
	run --separate-stderr "$kvbox" features
	[ "$status" -eq 0 ]
	printf '%s' "$output" | json_ok
	[ "$(printf '%s' "$output" | jget '["ociVersionMin"]')" = "1.0.0" ]
	[ "$(printf '%s' "$output" | jget '["hooks"][0]')" = "prestart" ]
	[ "$(printf '%s' "$output" | jget '["linux"]["seccomp"]["enabled"]')" = "True" ]
	[[ "$(printf '%s' "$output" | jget '["linux"]["capabilities"]')" == *CAP_SYS_ADMIN* ]]
	[[ "$(printf '%s' "$output" | jget '["kvbox"]["kvm"]["flavour"]')" =~ ^(vmx|svm|pvm|unknown)$ ]]
	printf '%s' "$output" | jget '["kvbox"]["kernel"]["default"]' | grep -q /
	# maxVcpus is a number with a usable /dev/kvm, null without
	KVBOX_KVM_DEVICE=/nonexistent run --separate-stderr "$kvbox" features
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | jget '["kvbox"]["limits"]["maxVcpus"]')" = "None" ]
}

@test "spec writes a valid config.json and refuses to overwrite it" {
	cd "$bundle"
	run --separate-stderr "$kvbox" spec
	[ "$status" -eq 0 ]
	json_ok <config.json
	[ "$(jget '["root"]["path"]' <config.json)" = "rootfs" ]
	[ "$(jget '["process"]["args"][0]' <config.json)" = "sh" ]
	echo '{"mine": true}' >config.json
	run --separate-stderr "$kvbox" spec
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"config.json exists"* ]]
	[ "$(cat config.json)" = '{"mine": true}' ]
}

@test "spec --bundle DIR writes there; --rootless is refused clearly" {
	mkdir "$BATS_TEST_TMPDIR/other"
	run --separate-stderr "$kvbox" spec --bundle "$BATS_TEST_TMPDIR/other"
	[ "$status" -eq 0 ]
	json_ok <"$BATS_TEST_TMPDIR/other/config.json"
	run --separate-stderr "$kvbox" spec -b "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"$BATS_TEST_TMPDIR/missing"* ]]
	run --separate-stderr "$kvbox" spec --rootless --bundle "$bundle"
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"rootless containers are not supported"* ]]
	[ ! -e "$bundle/config.json" ]
}

@test "state, delete of an unknown id: does not exist, status 1" {
	run --separate-stderr kb state nope
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *'container "nope" does not exist'* ]]
	run --separate-stderr kb delete nope
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *'container "nope" does not exist'* ]]
	# like runc: --force makes it a no-op
	run --separate-stderr kb delete --force nope
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "an invalid id is refused; a usage error is one line, status 1" {
	run --separate-stderr kb state ../etc
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *'invalid container id'* ]]
	run --separate-stderr kb state
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *'requires exactly 1 argument'* ]]
	run --separate-stderr kb delete --frob x
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *'--frob'* ]]
	run --separate-stderr kb list --format yaml
	[ "$status" -eq 1 ]
	one_line_error
	run --separate-stderr "$kvbox" --log-format xml list
	[ "$status" -eq 2 ]
	one_line_error
}

@test "list with no containers: header, nothing, []" {
	run --separate-stderr kb list
	[ "$status" -eq 0 ]
	[ "$output" = "ID          PID         STATUS      BUNDLE      CREATED     OWNER" ]
	run --separate-stderr kb list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr kb list --format json
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
	mkdir -p "$root"
	run --separate-stderr kb list --format json
	[ "$output" = "[]" ]
}

@test "a container whose sandbox pid is dead reads stopped with pid 0" {
	make_container dead1 running "$(dead_pid)" 12345
	run --separate-stderr kb state dead1
	[ "$status" -eq 0 ]
	printf '%s' "$output" | json_ok
	[ "$(printf '%s' "$output" | jget '["status"]')" = "stopped" ]
	[ "$(printf '%s' "$output" | jget '["pid"]')" = "0" ]
	[ "$(printf '%s' "$output" | jget '["bundle"]')" = "$bundle" ]
	[ "$(printf '%s' "$output" | jget '["annotations"]["org.example"]')" = "x" ]
	run --separate-stderr kb list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^dead1\ +0\ +stopped\ +$bundle\ +2024-01-02T03:04:05.5Z\ +root$ ]]
}

@test "a live pid with another start time is not the sandbox" {
	sleep 1000 &
	sleeper=$!
	disown "$sleeper" # no "Killed" notice from teardown
	make_container reused running "$sleeper" $(($(start_time "$sleeper") + 1))
	run --separate-stderr kb state reused
	[ "$(printf '%s' "$output" | jget '["status"]')" = "stopped" ]
	# and delete does not kill that process
	run --separate-stderr kb delete reused
	[ "$status" -eq 0 ]
	kill -0 "$sleeper"
}

@test "delete removes the container's directory and nothing else" {
	make_container gone stopped 0 0
	make_container stays stopped 0 0
	touch "$bundle/keep" "$root/gone/extra"
	ln -s "$bundle/keep" "$root/gone/link"
	run --separate-stderr kb delete gone
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ ! -e "$root/gone" ]
	[ -f "$root/stays/state.json" ]
	[ -f "$bundle/keep" ]
	run --separate-stderr kb list -q
	[ "$output" = "stays" ]
}

@test "delete of a running container needs --force, which kills the sandbox" {
	sleep 1000 &
	sleeper=$!
	make_container live running "$sleeper" "$(start_time "$sleeper")"
	run --separate-stderr kb state live
	[ "$(printf '%s' "$output" | jget '["status"]')" = "running" ]
	[ "$(printf '%s' "$output" | jget '["pid"]')" = "$sleeper" ]
	run --separate-stderr kb delete live
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"cannot delete container live that is not stopped: running"* ]]
	kill -0 "$sleeper"
	run --separate-stderr kb delete --force live
	[ "$status" -eq 0 ]
	[ ! -e "$root/live" ]
	run wait "$sleeper"
	[ "$status" -eq 137 ]
	sleeper=
}

@test "a directory without state.json (a crashed create) is removed by delete" {
	mkdir -p "$root/half"
	run --separate-stderr kb state half
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'container "half" does not exist'* ]]
	run --separate-stderr kb delete --force half
	[ "$status" -eq 0 ]
	[ ! -e "$root/half" ]
}

@test "a corrupt state.json is one clear error naming the file" {
	make_container broken stopped 0 0
	echo '{"id": "broken", "status": ' >"$root/broken/state.json"
	run --separate-stderr kb state broken
	[ "$status" -eq 1 ]
	one_line_error
	[[ "$stderr" == *"$root/broken/state.json: not valid JSON"* ]]
	# list warns and goes on
	make_container fine stopped 0 0
	run --separate-stderr kb list -q
	[ "$status" -eq 0 ]
	[ "$output" = "fine" ]
	[[ "$stderr" == *"broken/state.json"* ]]
}

@test "--log --log-format json appends a JSON error line containerd can show" {
	log=$BATS_TEST_TMPDIR/log.json
	echo '{"level":"info","msg":"earlier","time":"x"}' >"$log"
	run --separate-stderr "$kvbox" --root "$root" --log "$log" --log-format json state nope
	[ "$status" -eq 1 ]
	one_line_error
	[ "$(wc -l <"$log")" -eq 2 ]
	last=$(tail -n1 "$log")
	printf '%s' "$last" | json_ok
	[ "$(printf '%s' "$last" | jget '["level"]')" = "error" ]
	[ "$(printf '%s' "$last" | jget '["msg"]')" = 'container "nope" does not exist' ]
	[[ "$(printf '%s' "$last" | jget '["time"]')" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]]
	# text format, as logrus writes it
	run --separate-stderr "$kvbox" --root "$root" --log "$log" state nope
	[[ "$(tail -n1 "$log")" =~ ^time=\"[^\"]+\"\ level=error\ msg=\"container\ \\\"nope\\\"\ does\ not\ exist\"$ ]]
}

@test "global flags runc clients pass are accepted" {
	run --separate-stderr "$kvbox" --root "$root" --debug --systemd-cgroup --log /dev/null \
		--log-format text list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
