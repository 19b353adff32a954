#!/usr/bin/env bash
#
# torture.sh - the adversary, as a test (make torture; issue 10).
#
# Each trial starts a real run (producer and consumer program, random
# mode, consumers, count, ring, batch and pace) and attacks it once at a
# random moment: a signal to a random process of the run (KILL, TERM,
# INT, HUP, STOP then CONT, USR1), damage to its segment, semaphore set
# or consumer table (tests/tamper), hostile option values, or an
# interrupted run_demo.sh.  Then it checks:
#   - the run ends within its bound (BOUND_S);
#   - no process died by a signal the trial did not send it;
#   - the ledger adds up (consumed + lost - duplicated = count x copies)
#     or the report says it is not exact, or the run failed (status 3);
#   - nothing is left in ipcs or in the process table (after
#     'producer --clean' when the producer itself was killed, which is
#     how a crashed run is cleaned).
# The seed of each trial is printed with its result, so that one failure
# can be replayed:  tests/torture.sh -s SEED -n 1
#
#	tests/torture.sh [-n trials] [-s first-seed] [-v]
#
# As root it runs itself in a private IPC namespace (unshare --ipc), so
# that ipcs shows only its own runs.  Prints "N passed, M failed", the
# seeds of the failures, and exits 1 if any failed.
#
# A death inside a queue consumer's claim is accounted exactly (hdr.claimer
# holds the other consumers' releases until the producer has read the dead
# claim), so a ledger that does not add up fails the trial like any other.

# Not -e: a trial's commands fail on purpose; each check says what failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly HERE
readonly PRODUCER=$HERE/producer/producer CONSUMER=$HERE/consumer/consumer
readonly TAMPER=$HERE/tests/tamper DEMO=$HERE/run_demo.sh
readonly BOUND_S=30		# a whole trial, attack and teardown included
readonly T_S=3			# the programs' -t: also their stall bound

trials=100
seed=$(( $(date +%s) % 1000000 ))
verbose=0

log() { printf '%s\n' "$*"; }

usage() {
	echo "usage: ${0##*/} [-n trials] [-s first-seed] [-v]" >&2
	exit 2
}

if [[ -z ${TORTURE_NS:-} ]] && ((EUID == 0)) && command -v unshare >/dev/null; then
	TORTURE_NS=1 exec unshare --ipc "$0" "$@"
fi
while getopts 'n:s:v' opt; do
	case $opt in
	n) [[ $OPTARG =~ ^[0-9]+$ ]] || usage; trials=$OPTARG ;;
	s) [[ $OPTARG =~ ^[0-9]+$ ]] || usage; seed=$OPTARG ;;
	v) verbose=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || usage

for p in "$PRODUCER" "$CONSUMER" "$TAMPER"; do
	[[ -x $p ]] || { echo "${0##*/}: $p is not built: run make torture" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/shmlab-torture.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# Trial state.
dir="" ppid="" cpid="" why="" note=""
declare -a sent=()

ipc_ids() {
	awk 'NR > 1 { print "m", $2 }' /proc/sysvipc/shm
	awk 'NR > 1 { print "s", $2 }' /proc/sysvipc/sem
}

# Is a process (not a zombie) of process group $1 left?
group_alive() {
	ps -e -o pgid= -o stat= |
		awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# Waits for our child $1 until the deadline; its status in $REPLY.
wait_child() {
	local pid=$1 deadline=$2 st
	while :; do
		if [[ ! -e /proc/$pid ]]; then break; fi
		{ st=$(<"/proc/$pid/stat"); } 2>/dev/null || break
		st=${st##*) }
		[[ ${st:0:1} == Z ]] && break
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
	REPLY=0
	wait "$pid" || REPLY=$?
	return 0
}

fail() { why=${why:+$why; }$*; }

# The key the run's segment lives under, as ipcs prints it.
run_key() {
	awk 'NR > 1 { printf "0x%08x\n", $1; exit }' /proc/sysvipc/shm
}

random_value() {
	case $((RANDOM % 6)) in
	0) echo 0 ;;
	1) echo 1 ;;
	2) echo 4294967295 ;;
	3) echo $((1 << 40)) ;;
	4) echo $((1 << 62)) ;;
	*) echo $((RANDOM * 32768 + RANDOM)) ;;
	esac
}

# One attack on the live run.
attack() {
	local kind=$1 k kids target sig sigs f fields recs v
	case $kind in
	kill)
		mapfile -t kids < <({ tr ' ' '\n' <"/proc/$cpid/task/$cpid/children"; } 2>/dev/null | grep .)
		case $((RANDOM % 3)) in
		0) target=$ppid ;;
		1) target=$cpid ;;
		*) target=${kids[RANDOM % (${#kids[@]} > 0 ? ${#kids[@]} : 1)]:-$cpid} ;;
		esac
		sigs=(KILL TERM INT HUP STOP USR1)
		sig=${sigs[RANDOM % 6]}
		if [[ $target == "$ppid" ]]; then
			note="$sig to the producer"
		elif [[ $target == "$cpid" ]]; then
			note="$sig to the consumer parent"
		else
			note="$sig to a consumer child"
		fi
		kill "-$sig" "$target" 2>/dev/null || return 0
		sent+=("$target:$sig")
		if [[ $sig == STOP ]]; then
			sleep "0.$((RANDOM % 8))"
			kill -CONT "$target" 2>/dev/null || true
		fi
		;;
	damage)
		k=$(run_key)
		[[ -n $k ]] || return 0
		fields=(registered max_consumers expected count head tail freed total
			flags mode capacity state eos semid producer_pid ready magic
			table_off ledger_off size timeout_s delay_ms)
		case $((RANDOM % 5)) in
		0) f=${fields[RANDOM % ${#fields[@]}]} ;;
		1) f=sem.$((RANDOM % 6)) ;;
		2)
			recs=(pid state claim_len claim_start consumed index)
			f=rec.$((RANDOM % 4)).${recs[RANDOM % ${#recs[@]}]} ;;
		3) f=random ;;
		*) f=bytes ;;
		esac
		case $f in
		sem.*) v=$((RANDOM % 3 == 0 ? 32767 : 0)) ;;
		random | bytes) v=$RANDOM ;;
		*) v=$(random_value) ;;
		esac
		note="$f=$v"
		"$TAMPER" "$k" "$f" "$v" 2>/dev/null || true
		;;
	esac
}

# The report's numbers add up, or it says why they cannot.
check_ledger() {
	local r=$dir/r.json out
	[[ -s $r ]] || return 0
	out=$(python3 - "$r" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
if r["error"] is not None or r["interrupted"] or not r["ledger"]:
    sys.exit(0)
copies = max(r["consumers"], 1) if r["mode"] == "broadcast" else 1
want = r["count"] * copies
got = r["consumed"] + r["lost"] - r["duplicated"]
if got != want and r["corrupted"] == 0:
    print("ledger: consumed %d + lost %d - duplicated %d != %d (in_flight %d,"
          " unreported %d, died %d)" % (r["consumed"], r["lost"],
          r["duplicated"], want, r["in_flight"], r["unreported"], r["died"]))
EOF
) || out="ledger: the report does not parse"
	[[ -z $out ]] && return 0
	fail "$out"
}

# Everything the trial started is gone, and nothing is in ipcs.
check_leftovers() {
	local left
	if group_alive "$ppid" || group_alive "$cpid"; then
		sleep 2
		if group_alive "$ppid" || group_alive "$cpid"; then
			fail "processes left"
			kill -KILL -- "-$ppid" "-$cpid" 2>/dev/null || true
		fi
	fi
	"$PRODUCER" --clean -q -k "$dir/key" >/dev/null 2>&1 || true
	left=$(ipc_ids)
	if [[ -n $left ]]; then
		fail "left in ipcs: $(tr '\n' ' ' <<<"$left")"
		while read -r t id; do ipcrm "-$t" "$id" 2>/dev/null || true; done <<<"$left"
	fi
}

# A process ended by a signal must have been sent that signal.
check_signals() {
	local who=$1 pid=$2 st=$3 s
	((st > 128)) || return 0
	s=$(kill -l $((st - 128)) 2>/dev/null || echo "$((st - 128))")
	[[ " ${sent[*]} " == *" $pid:$s "* ]] ||
		fail "$who died by SIG$s, which nobody sent"
}

run_trial() {
	local kind=$1 mode n count b B pd pst cst deadline line pid sig
	mode=$((RANDOM % 3 == 0 ? 1 : 0))
	mode=$([[ $mode == 1 ]] && echo broadcast || echo queue)
	n=$((1 + RANDOM % 4))
	count=$((50 + RANDOM % 2000))
	b=$((1 + RANDOM % 12))
	B=$((1 + RANDOM % 16))
	pd=$((RANDOM % 2))
	: >"$dir/key"
	setsid "$PRODUCER" -k "$dir/key" -m "$mode" -n "$n" -c "$count" \
		-b "$b" -B "$B" --delay "$pd" -t "$T_S" -q -o "$dir/r.json" \
		2>"$dir/p.err" &
	ppid=$!
	setsid "$CONSUMER" -k "$dir/key" -n "$n" -B "$B" -t "$T_S" -q \
		2>"$dir/c.err" &
	cpid=$!
	note="$mode -n $n -c $count -b $b -B $B --delay $pd"
	sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
	local params=$note
	attack "$kind"
	note="$params; $note"
	deadline=$((SECONDS + BOUND_S))
	wait_child "$ppid" "$deadline" || { fail "producer did not end within ${BOUND_S} s"; kill -KILL -- "-$ppid" 2>/dev/null; wait "$ppid" || true; REPLY=137; sent+=("$ppid:KILL"); }
	pst=$REPLY
	wait_child "$cpid" "$deadline" || { fail "consumer did not end within ${BOUND_S} s"; kill -KILL -- "-$cpid" 2>/dev/null; wait "$cpid" || true; REPLY=137; sent+=("$cpid:KILL"); }
	cst=$REPLY
	check_signals producer "$ppid" "$pst"
	check_signals "consumer parent" "$cpid" "$cst"
	while read -r line; do
		[[ $line =~ consumer\ pid\ ([0-9]+)\ was\ killed\ by\ signal\ ([0-9]+) ]] || continue
		pid=${BASH_REMATCH[1]}
		sig=$(kill -l "${BASH_REMATCH[2]}")
		[[ " ${sent[*]} " == *" $pid:$sig "* ]] ||
			fail "consumer child $pid died by SIG$sig, which nobody sent"
	done <"$dir/c.err"
	[[ $kind == kill ]] && check_ledger
	note="$note; exit $pst/$cst"
	check_leftovers
}

# Hostile option values: status 2, one line, nothing created.
readonly -a BAD=(
	"-c| 5" "-c|+5" "-c|-1" "-c|5x" "-c|1099511627777" "-b|0" "-b|32767"
	"-n|513" "-t|0" "-p|256" "-p|0" "-B|0" "--perm|0400" "--delay|x"
	"-m|both" "-s|-3" "-c|5
6" "-o|/nonexistent/dir/r.json" "-k|/nonexistent/dir/key" "--jitter|100001"
)
run_options() {
	local spec=${BAD[RANDOM % ${#BAD[@]}]} opt val st lines before
	opt=${spec%%|*}
	val=${spec#*|}
	note="producer $opt '$val'"
	before=$(find "$dir" -mindepth 1 ! -name o.err | sort)
	st=0
	"$PRODUCER" -k "$dir/key" "$opt" "$val" -q -t 1 >/dev/null 2>"$dir/o.err" || st=$?
	lines=$(wc -l <"$dir/o.err")
	((st == 2 || st == 3)) || fail "status $st, want 2"
	((lines == 1)) || fail "$lines lines of error"
	[[ -z $(ipc_ids) ]] || fail "objects created"
	[[ $(find "$dir" -mindepth 1 ! -name o.err | sort) == "$before" ]] ||
		fail "files created: $(find "$dir" -mindepth 1 ! -name o.err -printf '%f ')"
	check_leftovers
}

# run_demo.sh interrupted at a random moment: status 130, nothing left.
run_demo_trial() {
	local st pid sig sigs pause caught signum
	sigs=(INT TERM HUP)
	sig=${sigs[RANDOM % 3]}
	signum=$(kill -l "$sig")
	pause=0.$((RANDOM % 3))$((RANDOM % 10))
	set -m
	"$DEMO" -q -n 2 -c 3000 --delay 1 -t "$T_S" >/dev/null 2>"$dir/d.err" &
	pid=$!
	set +m
	ppid=$pid cpid=$pid
	sleep "$pause"
	note="run_demo.sh, SIG$sig after $pause s"
	trapped "$pid" "$signum" && caught=1 || caught=0
	kill "-$sig" -- "-$pid" 2>/dev/null || true
	wait_child "$pid" $((SECONDS + BOUND_S)) || { fail "run_demo.sh did not end"; kill -KILL -- "-$pid"; wait "$pid" || true; }
	st=${REPLY:-0}
	# A signal that comes before bash has run the script's first line
	# (its trap) ends it by the signal: no script can trap it then
	# (FAULTS.md, known gaps).  Nothing exists yet, and check_leftovers
	# still checks that.  Once the trap is set, only 130 will do.
	if ((!caught && st == 128 + signum)); then
		note="$note: ended by the signal before its trap was set (a known gap)"
	elif ((st != 130 && st != 0)); then
		fail "run_demo.sh exit $st, want 130 (its trap set: $caught)"
	fi
	check_leftovers
}

# Whether pid is run_demo.sh's bash with a handler for signal number $2
# (its trap), from /proc/PID: builtins only, so that the check does not
# delay the signal.  Before bash runs the script, argv is the forked
# torture shell's, or env's (the #! line).
trapped() {
	local pid=$1 bit=$(($2 - 1)) k v mask="" argv=()
	mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
	[[ ${argv[0]:-} == *bash && ${argv[1]:-} == *run_demo.sh ]] || return 1
	while read -r k v; do
		[[ $k == SigCgt: ]] && mask=$v
	done <"/proc/$pid/status" 2>/dev/null
	[[ -n $mask ]] && (((16#$mask >> bit) & 1))
}

passed=0 failed=0
declare -a failures=()
log "torture.sh: seeds $seed..$((seed + trials - 1)) (-s SEED -n 1 replays one); at most ${BOUND_S} s a trial"
for ((i = 0; i < trials; i++)); do
	trial_seed=$((seed + i))
	RANDOM=$trial_seed
	dir=$work/t$trial_seed
	mkdir -p "$dir"
	why="" note="" sent=()
	case $((RANDOM % 10)) in
	0 | 1 | 2 | 3) kind="kill" ;;
	4 | 5 | 6 | 7) kind="damage" ;;
	8) kind="options" ;;
	*) kind="demo" ;;
	esac
	case $kind in
	kill | damage) run_trial "$kind" ;;
	options) run_options ;;
	demo) run_demo_trial ;;
	esac
	if [[ -z $why ]]; then
		passed=$((passed + 1))
		((verbose)) && log "PASS seed $trial_seed $kind: $note"
	else
		failed=$((failed + 1))
		failures+=("$trial_seed")
		log "FAIL seed $trial_seed $kind: $note: $why"
		((verbose)) && sed 's/^/    /' "$dir"/*.err 2>/dev/null | head -20
	fi
	rm -rf -- "$dir"
	(((i + 1) % 100 == 0)) && log "... $((i + 1)) trials: $passed passed, $failed failed"
done
log "$passed passed, $failed failed"
((failed == 0)) || { log "failing seeds: ${failures[*]}"; exit 1; }
