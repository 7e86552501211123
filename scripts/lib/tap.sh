# Sourced by scripts/test: run a suite that prints TAP (bats --tap,
# cmocka with CMOCKA_MESSAGE_OUTPUT=TAP, our own fuzz runner), show its
# output, and add its ok / not ok / skip lines to the totals.  A suite
# that exits non-zero without reporting a failure counts as one failure,
# so a crash can never pass silently.
TAP_PASS=0
TAP_FAIL=0
TAP_SKIP=0
TAP_FAILED_SUITES=()

tap_suite() {
	local name=$1
	shift
	local out rc
	out=$(mktemp)
	printf '\n=== %s ===\n' "$name"
	set +e
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	local pass fail skip
	skip=$(grep -cE '^ok .*# (skip|SKIP)' "$out" || true)
	pass=$(grep -cE '^ok ' "$out" || true)
	pass=$((pass - skip))
	fail=$(grep -cE '^not ok ' "$out" || true)
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "not ok - $name exited with status $rc without reporting a failing test"
		fail=1
	fi
	if [ "$((pass + fail + skip))" -eq 0 ]; then
		echo "not ok - $name reported no tests at all"
		fail=1
	fi
	TAP_PASS=$((TAP_PASS + pass))
	TAP_FAIL=$((TAP_FAIL + fail))
	TAP_SKIP=$((TAP_SKIP + skip))
	[ "$fail" -eq 0 ] || TAP_FAILED_SUITES+=("$name")
	rm -f "$out"
}

tap_summary() {
	if ((${#TAP_FAILED_SUITES[@]})); then
		echo "failed suites: ${TAP_FAILED_SUITES[*]}"
	fi
	if [ "$TAP_SKIP" -gt 0 ]; then
		echo "$TAP_PASS passed, $TAP_FAIL failed, $TAP_SKIP skipped"
	else
		echo "$TAP_PASS passed, $TAP_FAIL failed"
	fi
	[ "$TAP_FAIL" -eq 0 ]
}
