#!/usr/bin/env bash
#
# run_tests.sh - runs the Check test binaries given as arguments, then
# makes sure that they left no System V object behind.
#
#	./tests/run_tests.sh tests/check_key tests/check_seg ...
#
# Records the shm and sem ids present before (/proc/sysvipc), runs each
# binary, and compares afterwards.  A new object under a key that one of
# our tests handed out (the tests log them to $SHMLAB_TEST_KEYLOG) is a
# leak: it is listed, removed by its id -- only if it is ours: our uid and
# created during this run -- and the run fails.  Objects that other
# programs created meanwhile are listed and left alone.
#
# Prints "N passed, N failed" last (the sum of Check's own counts) and
# exits non-zero if anything failed or leaked.  Check's environment is
# honoured: CK_FORK, CK_VERBOSITY, CK_RUN_SUITE/CASE, CK_DEFAULT_TIMEOUT,
# CK_TIMEOUT_MULTIPLIER (which the tests also apply to their own
# deadlines).  UBSAN_OPTIONS defaults to halt_on_error=1, so that an
# undefined-behaviour report fails the program that printed it.

set -euo pipefail

readonly PROG="${0##*/}"

# The suites grep English messages: they run in the C locale, whatever
# the caller's; check_i18n sets each program's locale itself.
export LC_ALL=C
readonly SHM_PROC=/proc/sysvipc/shm
readonly SEM_PROC=/proc/sysvipc/sem

workdir=""

log() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

cleanup() {
	if [[ -n "$workdir" ]]; then
		rm -rf -- "$workdir" || true
	fi
}

usage() {
	printf 'usage: %s test-binary ...\n' "$PROG" >&2
	exit 2
}

# One line per object: kind id key uid ctime.
ipc_list() {
	awk 'NR > 1 { print "shm", $2, $1, $8, $14 }' "$SHM_PROC"
	awk 'NR > 1 { print "sem", $2, $1, $5, $10 }' "$SEM_PROC"
}

# Runs one binary; adds its counts to the globals passed and failed.
run_one() {
	local bin="$1" out="$2" rc=0 summary checks failures errors
	local re='Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)'

	if [[ ! -x "$bin" ]]; then
		log "$bin: not an executable test binary"
		failed=$((failed + 1))
		return
	fi
	"$bin" >"$out" 2>&1 || rc=$?
	cat -- "$out"
	summary=$(grep -Eo "$re" "$out" | tail -n 1 || true)
	if [[ ! "$summary" =~ $re ]]; then
		log "$bin: exit status $rc and no Check summary: counted as one failure"
		failed=$((failed + 1))
		return
	fi
	checks=${BASH_REMATCH[1]}
	failures=${BASH_REMATCH[2]}
	errors=${BASH_REMATCH[3]}
	passed=$((passed + checks - failures - errors))
	failed=$((failed + failures + errors))
	if ((rc != 0 && failures + errors == 0)); then
		log "$bin: exit status $rc although Check reported no failure"
		failed=$((failed + 1))
	fi
}

# Lists the objects that appeared during the run; removes the ones that
# are ours.  Sets the global leaked.
check_leaks() {
	local before="$1" after="$2" keys="$3" start="$4"
	local kind id key uid ctime me

	me=$(id -u)
	while read -r kind id key uid ctime; do
		if grep -qxF -- "$kind $id $key $uid $ctime" "$before"; then
			continue
		fi
		if ! grep -qxF -- "$key" "$keys"; then
			log "note: $kind id $id (key $key, uid $uid) appeared" \
			    "during the run but no test used that key: left alone"
			continue
		fi
		leaked=$((leaked + 1))
		log "LEAK: $kind id $id (key $key, uid $uid) was left behind"
		if [[ "$uid" != "$me" ]] || ((ctime < start)); then
			log "  not removing it: not ours or older than this run"
			continue
		fi
		if [[ "$kind" == shm ]]; then
			ipcrm -m "$id" || log "  ipcrm -m $id failed"
		else
			ipcrm -s "$id" || log "  ipcrm -s $id failed"
		fi
	done <"$after"
}

main() {
	local bin start n=0
	passed=0
	failed=0
	leaked=0

	(($# > 0)) || usage
	if [[ ! -r "$SHM_PROC" || ! -r "$SEM_PROC" ]]; then
		log "$SHM_PROC or $SEM_PROC is not readable: is this Linux?"
		exit 1
	fi
	workdir=$(mktemp -d /tmp/shmlab-run.XXXXXX)
	trap cleanup EXIT

	export SHMLAB_TEST_KEYLOG="$workdir/keys"
	: >"$SHMLAB_TEST_KEYLOG"
	# The summary line parsed above needs at least "minimal".
	if [[ "${CK_VERBOSITY:-silent}" == silent ]]; then
		export CK_VERBOSITY=normal
	fi
	export CK_TIMEOUT_MULTIPLIER="${CK_TIMEOUT_MULTIPLIER:-1}"
	# Under SANITIZE=undefined a finding must fail the run, not scroll by.
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

	start=$(date +%s)
	ipc_list >"$workdir/before"
	for bin in "$@"; do
		n=$((n + 1))
		run_one "$bin" "$workdir/out.$n"
	done
	ipc_list >"$workdir/after"
	check_leaks "$workdir/before" "$workdir/after" "$SHMLAB_TEST_KEYLOG" \
	    "$start"
	if ((leaked > 0)); then
		log "$leaked System V object(s) leaked by the tests"
	fi

	printf '%d passed, %d failed\n' "$passed" "$failed"
	((failed == 0 && leaked == 0))
}

main "$@"
