#!/usr/bin/env bash
#
# stress.sh - long fault and load scenarios for shmlab (make stress).
#
#	tests/stress.sh			# a few minutes at most
#	STRESS_SEED=42 tests/stress.sh	# the same random kills again
#
# Scenarios, each on its own key of a private key file:
#   queue-kill	64 consumers x 1,000,000 items, queue mode; a few consumer
#		children are SIGKILLed (by pid) at random times: the run must
#		end, mark them died, and account for every item
#		(consumed + lost == count) with nothing duplicated;
#   queue	the same without kills: verified;
#   broadcast	16 consumers x 1,000,000 items, every consumer takes every
#		item: verified.
#   scale	only with STRESS_SCALE=COUNT (1000 to 10^10): one queue run of
#		COUNT items, MAXBUF 32766, -B 4096, ledger on, a drop injected
#		at item COUNT - 1000 (SHMLAB_FAULT); the report must show
#		exactly that one item lost, and every process's peak RSS
#		(ru_maxrss, from /usr/bin/time) must stay under 64 MiB plus the
#		ring (issue 12's goal).  The ledger has a fixed size now: 10^10
#		items passed in 108 s on 2 loaded cores, peak RSS 2.6 MB
#		(STRESS_SCALE=10000000000 STRESS_TIMEOUT=1800 STRESS_ROUNDS=0).
# After each run nothing of it may be left: no process, no IPC object
# under its key (ipcs).
#
# Prints a progress line before and a summary line after each scenario,
# then "N passed, N failed"; exits 1 when anything failed.  Environment:
# STRESS_COUNT, STRESS_CONSUMERS, STRESS_BCAST_CONSUMERS, STRESS_KILLS,
# STRESS_ROUNDS (queue-kill runs), STRESS_TIMEOUT (seconds per run),
# STRESS_SEED; SHMLAB_PRODUCER, SHMLAB_CONSUMER override the binaries.
# The reports are read with python3's json module, as torture.sh does.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly HERE
readonly PROG="${0##*/}"
readonly PRODUCER="${SHMLAB_PRODUCER:-$HERE/producer/producer}"
readonly CONSUMER="${SHMLAB_CONSUMER:-$HERE/consumer/consumer}"
readonly COUNT="${STRESS_COUNT:-1000000}"
readonly NCONS="${STRESS_CONSUMERS:-64}"
readonly NBCAST="${STRESS_BCAST_CONSUMERS:-16}"
readonly KILLS="${STRESS_KILLS:-4}"
readonly ROUNDS="${STRESS_ROUNDS:-3}"
readonly TIMEOUT="${STRESS_TIMEOUT:-120}"
declare -A R=()	# the last report read (read_report)
readonly MAXBUF=10
readonly SCALE="${STRESS_SCALE:-0}"

workdir=""
proj=0
passed=0
failed=0
pgids=()		# process groups started by this script
keys=()			# keys of the runs, as ipcs prints them

log() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

# Ends every process group we started and removes every object under our
# keys; ignores its own failures.
cleanup() {
	local g k
	set +e
	for g in "${pgids[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null
	done
	for k in "${keys[@]}"; do
		ipcrm -M "$k" 2>/dev/null
		ipcrm -S "$k" 2>/dev/null
	done
	if [[ -n $workdir ]]; then
		rm -rf -- "$workdir"
	fi
}

# A whole number from the environment, within bounds.
check_number() {
	local name=$1 value=$2 min=$3 max=$4
	if ! [[ $value =~ ^[0-9]+$ ]] || ((${#value} > 15)) ||
		((10#$value < min || 10#$value > max)); then
		log "$name $value: want a whole number from $min to $max"
		exit 2
	fi
}

# Reads the report at $1 with a real JSON parser (python3's json module,
# as torture.sh does) into the associative array R: every top-level
# number, boolean or null as its JSON text (R[lost]=0, R[verified]=true),
# and R[died_pids], the pids of the consumers it marks died.  Fails, with
# the parser's reason on stderr, when the file is not one JSON object.
read_report() {
	local out k v
	R=()
	out=$(python3 - "$1" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    sys.exit("stress.sh: the report %s: %s" % (sys.argv[1], e))
if not isinstance(r, dict):
    sys.exit("stress.sh: the report %s is not a JSON object" % sys.argv[1])
for k, v in r.items():
    if v is None or isinstance(v, (bool, int, float)):
        print("%s=%s" % (k, json.dumps(v)))
print("died_pids=" + " ".join(str(c.get("pid")) for c in
      r.get("per_consumer", []) if isinstance(c, dict) and
      c.get("state") == "died"))
PY
	) || return 1
	while IFS='=' read -r k v; do
		R[$k]=$v
	done <<<"$out"
}

# Is this pid running (not a zombie)?
alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# The consumer parent's children, one pid per line.
children_of() {
	local f="/proc/$1/task/$1/children"
	if [[ -r $f ]]; then
		tr ' ' '\n' <"$f" | grep -E '^[0-9]+$' || true
	else
		pgrep -P "$1" || true
	fi
}

# The children still running, less the pids given after the parent's.
live_children() {
	local parent=$1 pid
	shift
	for pid in $(children_of "$parent"); do
		[[ " $* " == *" $pid "* ]] && continue
		alive "$pid" && printf '%s\n' "$pid"
	done
	return 0
}

# Milliseconds since the epoch.
now_ms() {
	local t
	t=$(date +%s%N)
	printf '%s\n' "$((t / 1000000))"
}

# Sleeps a random 50..450 ms.
random_nap() {
	sleep "0.$(printf '%03d' $((RANDOM % 400 + 50)))"
}

# Waits for pid until the deadline (ms since the epoch); 1 on timeout.
wait_deadline() {
	local pid=$1 deadline=$2
	while alive "$pid"; do
		if (($(now_ms) > deadline)); then
			return 1
		fi
		sleep 0.05
	done
	return 0
}

# Does ipcs (-m or -s) list an object under this key?
ipc_has() {
	ipcs "$1" 2>/dev/null |
		awk -v k="$2" '$1 == k { f = 1 } END { exit !f }'
}

# Nothing of the run is left: no object under its key, no process.
leftovers() {
	local key=$1 ppid=$2 cpid=$3 out=""
	if ipc_has -m "$key"; then
		out+=" shm under $key;"
	fi
	if ipc_has -s "$key"; then
		out+=" sem under $key;"
	fi
	if alive "$ppid"; then
		out+=" producer $ppid still running;"
	fi
	if kill -0 -- "-$cpid" 2>/dev/null; then
		out+=" consumer group $cpid still running;"
	fi
	printf '%s' "$out"
}

# Waits up to TRIES x 10 ms for the producer's first line in PLOG and
# records the key it names (key, which the caller declares, and keys);
# fails when the producer died first or never said it.
producer_key() {
	local ppid=$1 plog=$2 tries=$3 i
	for ((i = 0; i < tries; i++)); do
		if [[ $(<"$plog") =~ key\ (0x[0-9a-f]{8}) ]]; then
			key=${BASH_REMATCH[1]}
			keys+=("$key")
			return 0
		fi
		alive "$ppid" || return 1
		sleep 0.01
	done
	return 1
}

# Runs one scenario: name mode consumers kills.  Prints its summary line
# and counts it as passed or failed.
scenario() {
	local name=$1 mode=$2 n=$3 kills=$4
	local keyfile plog clog report ppid cpid key="" deadline t0 t1
	local pstatus=0 cstatus=0 landed=0 victims=() kids=() victim i
	local verified consumed lost dup unrep died produced corrupt inflight
	local want_consumed want_status why="" left

	proj=$((proj + 1))
	keyfile="$workdir/key"
	plog="$workdir/$name.producer.log"
	clog="$workdir/$name.consumer.log"
	report="$workdir/$name.json"
	: >"$plog"
	: >"$clog"
	t0=$(now_ms)
	deadline=$((t0 + TIMEOUT * 1000))

	# Own sessions (setsid does not fork here: we are no group leader),
	# so a whole run can be ended by process group.
	setsid "$PRODUCER" -k "$keyfile" -p "$proj" -m "$mode" -n "$n" \
		-c "$COUNT" -b "$MAXBUF" -t 60 -o "$report" 2>"$plog" &
	ppid=$!
	pgids+=("$ppid")
	if ! producer_key "$ppid" "$plog" 200; then
		wait "$ppid" || true
		summary FAIL "$name" \
			"the producer did not start: $(tr '\n' ' ' <"$plog")"
		return
	fi
	setsid "$CONSUMER" -k "$keyfile" -p "$proj" -m "$mode" -n "$n" \
		-t 60 -q 2>"$clog" &
	cpid=$!
	pgids+=("$cpid")

	if ((kills > 0)); then
		# Kill only once all the children exist, at random moments.
		for ((i = 0; i < 400; i++)); do
			mapfile -t kids < <(children_of "$cpid")
			((${#kids[@]} >= n)) && break
			alive "$cpid" || break
			sleep 0.01
		done
		for ((i = 0; i < kills; i++)); do
			random_nap
			mapfile -t kids < <(live_children "$cpid" "${victims[@]}")
			((${#kids[@]} > 0)) || break
			victim=${kids[RANDOM % ${#kids[@]}]}
			if kill -KILL "$victim" 2>/dev/null; then
				victims+=("$victim")
			fi
		done
	fi

	if ! wait_deadline "$cpid" "$deadline" ||
		! wait_deadline "$ppid" "$deadline"; then
		why="did not end within $TIMEOUT s;"
		kill -KILL -- "-$cpid" "-$ppid" 2>/dev/null || true
	fi
	wait "$cpid" || cstatus=$?
	wait "$ppid" || pstatus=$?
	t1=$(now_ms)

	if [[ ! -s $report ]]; then
		why+=" no report (producer exit $pstatus):"
		summary FAIL "$name" "$why $(tail -n 3 "$plog" | tr '\n' ' ')"
		return
	fi
	if ! read_report "$report"; then
		summary FAIL "$name" "the report is not valid JSON"
		return
	fi
	verified=${R[verified]-missing}
	produced=${R[produced]-missing}
	consumed=${R[consumed]-missing}
	lost=${R[lost]-missing}
	dup=${R[duplicated]-missing}
	corrupt=${R[corrupted]-missing}
	unrep=${R[unreported]-missing}
	inflight=${R[in_flight]-missing}
	died=${R[died]-missing}
	for i in produced consumed lost dup corrupt unrep inflight died; do
		if ! [[ ${!i} =~ ^[0-9]+$ ]]; then
			summary FAIL "$name" "malformed report ($i: ${!i})"
			return
		fi
	done
	# A victim that had already finished was not killed: count the
	# victims the report names as died.
	for victim in "${victims[@]}"; do
		if [[ " ${R[died_pids]} " == *" $victim "* ]]; then
			landed=$((landed + 1))
		fi
	done

	want_consumed=$COUNT
	[[ $mode == broadcast ]] && want_consumed=$((COUNT * n))
	if ((kills > 0)); then
		want_status=1
		((landed >= 1)) || why+=" no kill landed (${#victims[@]} sent);"
		((died == landed)) ||
			why+=" died $died, but $landed victims are marked died;"
		((consumed + lost == COUNT)) ||
			why+=" consumed $consumed + lost $lost != $COUNT;"
		# Only a dead consumer's claim can be lost: what it had not
		# read of it (docs/JSON.md: in_flight, unreported).
		((lost <= inflight)) || why+=" lost $lost > in_flight $inflight;"
		((unrep <= inflight)) ||
			why+=" unreported $unrep > in_flight $inflight;"
		[[ $verified == false ]] ||
			why+=" verified although consumers died;"
	else
		want_status=0
		[[ $verified == true ]] || why+=" not verified;"
		((consumed == want_consumed)) ||
			why+=" consumed $consumed, want $want_consumed;"
		((lost == 0 && died == 0)) || why+=" lost $lost, died $died;"
	fi
	((produced == COUNT)) || why+=" produced $produced;"
	((dup == 0 && corrupt == 0)) ||
		why+=" duplicated $dup, corrupted $corrupt;"
	((pstatus == want_status)) ||
		why+=" producer exit $pstatus, want $want_status;"
	((cstatus == want_status)) ||
		why+=" consumer exit $cstatus, want $want_status;"
	left=$(leftovers "$key" "$ppid" "$cpid")
	[[ -z $left ]] || why+=" left behind:$left"

	local line
	line=$(printf '%d consumers x %d items, %d.%03d s, died %d, ' "$n" \
		"$COUNT" $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000)) "$died")
	line+=$(printf 'consumed %d, lost %d, unreported %d, exit %d/%d' \
		"$consumed" "$lost" "$unrep" "$pstatus" "$cstatus")
	if [[ -z $why ]]; then
		summary PASS "$name" "$line"
	else
		summary FAIL "$name" "$line:$why"
		log "$name: producer log:"
		tail -n 5 "$plog" >&2 || true
		log "$name: consumer log:"
		tail -n 5 "$clog" >&2 || true
	fi
}

# One long queue run with the ledger on and a drop near its end: exact
# counts, and bounded memory in every process.
scale() {
	local keyfile="$workdir/key" plog="$workdir/scale.producer.log"
	local report="$workdir/scale.json" ppid cpid key="" i why=""
	local drop=$((SCALE - 1000)) ppeak=0 cpeak=0 t0 t1 left
	local pstatus=0 cstatus=0
	local limit=$((64 * 1024 + 32766 * 12 / 1024))

	((drop >= 0)) || drop=0
	proj=$((proj + 1))
	: >"$plog"
	t0=$(now_ms)
	SHMLAB_FAULT="drop:$drop" setsid /usr/bin/time -f %M \
		-o "$workdir/scale.prss" "$PRODUCER" -k "$keyfile" \
		-p "$proj" -m queue -n 1 -c "$SCALE" -b 32766 -B 4096 \
		-t "$TIMEOUT" -o "$report" 2>"$plog" &
	ppid=$!
	pgids+=("$ppid")
	if ! producer_key "$ppid" "$plog" 500; then
		wait "$ppid" || true
		summary FAIL scale "the producer did not start: $(tr '\n' ' ' <"$plog")"
		return
	fi
	# ru_maxrss of the consumer's children too: the largest of them all.
	setsid /usr/bin/time -f %M -o "$workdir/scale.crss" \
		"$CONSUMER" -k "$keyfile" -p "$proj" -m queue -n 1 -B 4096 \
		-t "$TIMEOUT" -q 2>"$workdir/scale.consumer.log" &
	cpid=$!
	pgids+=("$cpid")
	while alive "$cpid" || alive "$ppid"; do
		if (($(now_ms) > t0 + TIMEOUT * 1000 + 10000)); then
			why+=" did not end within $TIMEOUT s;"
			kill -KILL -- "-$cpid" "-$ppid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
	wait "$cpid" || cstatus=$?
	wait "$ppid" || pstatus=$?
	t1=$(now_ms)
	ppeak=$(tail -n 1 "$workdir/scale.prss" 2>/dev/null || echo 0)
	cpeak=$(tail -n 1 "$workdir/scale.crss" 2>/dev/null || echo 0)
	[[ $ppeak =~ ^[0-9]+$ && $cpeak =~ ^[0-9]+$ ]] ||
		{ why+=" no peak RSS from /usr/bin/time;"; ppeak=0 cpeak=0; }
	read_report "$report" || why+=" no valid report;"
	[[ ${R[lost]-missing} == 1 ]] || why+=" lost ${R[lost]-missing}, want 1;"
	[[ ${R[consumed]-missing} == $((SCALE - 1)) ]] ||
		why+=" consumed ${R[consumed]-missing}, want $((SCALE - 1));"
	[[ ${R[duplicated]-missing} == 0 ]] || why+=" duplicated;"
	[[ ${R[ledger]-missing} == true ]] || why+=" ledger not exact;"
	((pstatus == 1 && cstatus == 0)) ||
		why+=" exit $pstatus/$cstatus, want 1/0;"
	((ppeak < limit)) || why+=" producer peak RSS $ppeak kB >= $limit kB;"
	((cpeak < limit)) || why+=" consumer peak RSS $cpeak kB >= $limit kB;"
	left=$(leftovers "$key" "$ppid" "$cpid")
	[[ -z $left ]] || why+=" left behind:$left"
	local line
	line=$(printf '%d items, drop at %d, %d.%03d s, peak RSS producer %d kB, consumers %d kB' \
		"$SCALE" "$drop" $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000)) \
		"$ppeak" "$cpeak")
	if [[ -z $why ]]; then
		summary PASS scale "$line"
	else
		summary FAIL scale "$line:$why"
	fi
}

summary() {
	local verdict=$1 name=$2 text=$3
	if [[ $verdict == PASS ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	printf '%s %s: %s\n' "$verdict" "$name" "$text"
}

main() {
	local seed i total step=0
	check_number STRESS_COUNT "$COUNT" 1 100000000
	check_number STRESS_CONSUMERS "$NCONS" 1 512
	check_number STRESS_BCAST_CONSUMERS "$NBCAST" 1 512
	check_number STRESS_KILLS "$KILLS" 1 "$NCONS"
	check_number STRESS_ROUNDS "$ROUNDS" 0 100
	check_number STRESS_TIMEOUT "$TIMEOUT" 1 3600
	((SCALE == 0)) || check_number STRESS_SCALE "$SCALE" 1000 10000000000
	if ((SCALE > 0)) && [[ ! -x /usr/bin/time ]]; then
		log "STRESS_SCALE needs /usr/bin/time (Debian package time)"
		exit 2
	fi
	if [[ ! -x $PRODUCER || ! -x $CONSUMER ]]; then
		log "$PRODUCER or $CONSUMER is missing: run make first"
		exit 2
	fi
	seed=${STRESS_SEED:-$(((RANDOM << 15) | RANDOM))}
	check_number STRESS_SEED "$seed" 0 1073741823
	RANDOM=$seed

	workdir=$(mktemp -d "${TMPDIR:-/tmp}/shmlab-stress.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	: >"$workdir/key"

	total=$((ROUNDS + 2))
	((SCALE == 0)) || total=$((total + 1))
	log "seed $seed (STRESS_SEED=$seed repeats the kills);" \
		"$total scenarios, at most $TIMEOUT s each"
	for ((i = 1; i <= ROUNDS; i++)); do
		step=$((step + 1))
		log "[$step/$total] queue-kill #$i: $NCONS consumers x" \
			"$COUNT items, SIGKILL $KILLS at random"
		scenario "queue-kill#$i" queue "$NCONS" "$KILLS"
	done
	step=$((step + 1))
	log "[$step/$total] queue: $NCONS consumers x $COUNT items"
	scenario queue queue "$NCONS" 0
	step=$((step + 1))
	log "[$step/$total] broadcast: $NBCAST consumers x $COUNT items"
	scenario broadcast broadcast "$NBCAST" 0
	if ((SCALE > 0)); then
		step=$((step + 1))
		log "[$step/$total] scale: 1 queue consumer x $SCALE items," \
			"drop at $((SCALE - 1000)), peak RSS under 64 MiB + ring"
		scale
	fi

	printf '%d passed, %d failed\n' "$passed" "$failed"
	((failed == 0))
}

main "$@"
