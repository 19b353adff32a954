#!/usr/bin/env bash
#
# bench.sh - shmlab throughput against pipes, POSIX semaphores and the
# TLPI lockstep pair, all measured in the same invocation.
#
# Runs the real programs (producer/producer, consumer/consumer) directly,
# with the exact ledger on unless a point is labelled "noverify", together
# with the baselines kept beside this script (bench_pipe, bench_posix,
# bench_lockstep; `make bench` builds them).  Every point is repeated, the
# repetitions interleaved, and medians reported.
#
#	tests/bench/bench.sh		# default run, under 3 minutes on 2 cores
#	BENCH_FULL=1 tests/bench/bench.sh	# modes x N x MAXBUF x B
#
# Knobs (environment): BENCH_OLD=REV (also measure the programs built from
# git revision REV, e.g. the commit before issue 12, in the same
# invocation: the "old" rows of issue 12's table), BENCH_SCALING=1 (only
# queue and broadcast at B=4096 against N = 1..64, and pipe4k), BENCH_FULL=1,
# BENCH_REPS (3), BENCH_COUNT (10000000,
# fast variants), BENCH_BIG_COUNT (100000000, the fastest: shmlab points
# with -B 1024 or more, pipe4k, lockstep_65536, whose 10^7 items took
# 10-30 ms, mostly start-up), BENCH_SLOW_COUNT (1000000, per-item
# variants: classic, pipe1, posix_sem and shmlab points with -B 16 or
# less), BENCH_OUT (tests/bench/out).
# Rates are per second, so the two counts compare directly.
#
# Writes, in BENCH_OUT: bench.csv (every run), medians.csv, memory.csv,
# summary.txt (the table and the goals), env.txt, bench.png and
# bench_batch.png (gnuplot; skipped with a message if gnuplot is absent),
# and with BENCH_FULL=1 also bench_queue.png and bench_broadcast.png.
# Outputs are written aside and moved into BENCH_OUT only at the end, so an
# interrupted run leaves the previous results alone.
#
# IPC objects: each shmlab point's producer creates its semaphore set and
# segment under a key derived from a private key file in our mktemp
# directory (with a random proj_id), and removes them itself.  A consumer
# is started only once our producer's segment exists (its creator pid is
# our producer's), so it can never attach to another run's segment.  On
# any exit, Ctrl-C included, cleanup() stops the processes we started (by
# pid), runs `producer --clean` on our key for what a killed producer left
# behind, and removes the temporary directory.
#
# Exit status: 0 every point verified, 1 some point failed (see the
# summary), 2 bad usage or missing programs.

set -euo pipefail
export LC_ALL=C			# decimal points in printf, awk and sort

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
ROOT=$(cd -- "$HERE/../.." && pwd)
readonly ROOT
readonly PRODUCER="$ROOT/producer/producer"
readonly CONSUMER="$ROOT/consumer/consumer"
readonly BENCH_PIPE="$HERE/bench_pipe"
readonly BENCH_POSIX="$HERE/bench_posix"
readonly BENCH_LOCKSTEP="$HERE/bench_lockstep"
readonly SUMMARIZE="$HERE/summarize.py"
readonly PLOT="$HERE/plot.gp"

readonly FULL="${BENCH_FULL:-0}"
readonly OLD="${BENCH_OLD:-}"
readonly SCALING="${BENCH_SCALING:-0}"
OLD_PRODUCER=""
OLD_CONSUMER=""
readonly REPS="${BENCH_REPS:-3}"
readonly COUNT="${BENCH_COUNT:-10000000}"
readonly SLOW_COUNT="${BENCH_SLOW_COUNT:-1000000}"
readonly BIG_COUNT="${BENCH_BIG_COUNT:-100000000}"
readonly OUT="${BENCH_OUT:-$HERE/out}"
readonly BIG=32766		# the largest MAXBUF (SEMVMX - 1)
readonly LIMIT_S=900		# watchdog for one run
readonly IPC_TIMEOUT_S=60	# the programs' own -t

WORK=""				# private temporary directory
KEY=""				# our key file
PROJ=0				# our proj_id
PIDS=()				# processes of the point running now
POINTS=()			# "variant mode n maxbuf batch count"
NFAILED=0

log() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	log "$*"
	exit 2
}

# Stops one of our processes: TERM, a few seconds' grace, then KILL.
stop_pid() {
	local pid=$1 i

	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# On every exit: our processes, our IPC objects, our files.  Never fails.
cleanup() {
	local pid

	trap - EXIT INT TERM HUP
	set +e
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	if [[ -n $KEY && -e $KEY ]]; then
		"$PRODUCER" --clean -q -k "$KEY" -p "$PROJ" >/dev/null 2>&1
	fi
	if [[ -n $WORK ]]; then
		rm -rf -- "$WORK"
	fi
}

check_programs() {
	local p

	for p in "$PRODUCER" "$CONSUMER" "$BENCH_PIPE" "$BENCH_POSIX" \
	    "$BENCH_LOCKSTEP"; do
		[[ -x $p ]] || die "$p is missing: run 'make bench'"
	done
	command -v python3 >/dev/null || die "python3 is needed for the summary"
	[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS=$REPS: want a count"
	[[ $COUNT =~ ^[1-9][0-9]*$ ]] || die "BENCH_COUNT=$COUNT: want a count"
	[[ $SLOW_COUNT =~ ^[1-9][0-9]*$ ]] ||
	    die "BENCH_SLOW_COUNT=$SLOW_COUNT: want a count"
	[[ $BIG_COUNT =~ ^[1-9][0-9]*$ ]] ||
	    die "BENCH_BIG_COUNT=$BIG_COUNT: want a count"
}

# Items for a shmlab point: claims of a few items are slow, so they get
# fewer, and claims of thousands fast, so they get more: a run should
# last long enough that its start does not count (rates are per second:
# the counts compare).
count_for() {
	local batch=$1

	if ((batch <= 16)); then
		echo "$SLOW_COUNT"
	elif ((batch >= 1024)); then
		echo "$BIG_COUNT"
	else
		echo "$COUNT"
	fi
}

# Adds a point once; the sweeps overlap the matrix.
declare -A SEEN=()
add() {
	local spec="$*"

	[[ -n ${SEEN[$spec]:-} ]] && return 0
	SEEN[$spec]=1
	POINTS+=("$spec")
}

add_shmlab() {
	local variant=$1 mode=$2 n=$3 maxbuf=$4 batch=$5

	add "$variant" "$mode" "$n" "$maxbuf" "$batch" "$(count_for "$batch")"
}

# The default run, or the whole matrix with BENCH_FULL=1.
plan() {
	local mode n b m
	local -a ns maxbufs batches

	if [[ $SCALING == 1 ]]; then
		# Only the scaling against N, at the default B and the largest ring.
		for n in 1 2 4 8 16 32 64; do
			for mode in queue broadcast; do
				add_shmlab shmlab "$mode" "$n" "$BIG" 4096
			done
			add pipe4k queue "$n" 0 1024 "$BIG_COUNT"
		done
		return 0
	fi
	if [[ $FULL == 1 ]]; then
		ns=(1 2 4 8 16 32 64)
		maxbufs=(10 1024 "$BIG")
		batches=(1 16 256 4096)
	else
		ns=(1 2 4)
		maxbufs=("$BIG")
		# 4096 is the programs' default (SHM_BATCH_DEFAULT); 64, the
		# default before commit 0062721, stays for contrast.
		batches=(64 4096)
	fi
	for n in "${ns[@]}"; do
		# The classic per-item protocol, as the lab teaches it.
		add_shmlab shmlab queue "$n" 10 1
		for mode in queue broadcast; do
			for m in "${maxbufs[@]}"; do
				for b in "${batches[@]}"; do
					add_shmlab shmlab "$mode" "$n" "$m" "$b"
				done
			done
		done
		add slides queue "$n" 10 1 "$SLOW_COUNT"
		add pipe1 queue "$n" 0 1 "$SLOW_COUNT"
		add pipe4k queue "$n" 0 1024 "$BIG_COUNT"
		add posix_sem queue "$n" "$BIG" 1 "$SLOW_COUNT"
	done
	# TLPI's svshm_xfr design: one reader, blocks of 1, 4 and 64 KiB.
	for b in 1024 4096; do
		add "lockstep_$b" queue 1 0 $((b / 4)) "$COUNT"
	done
	add lockstep_65536 queue 1 0 16384 "$BIG_COUNT"
	# Issue 12's table: the same points with the programs of BENCH_OLD.
	if [[ -n $OLD ]]; then
		for n in 1 2 4; do
			for mode in queue broadcast; do
				add shmlab_old "$mode" "$n" "$BIG" 4096 "$BIG_COUNT"
			done
		done
	fi
	# For the record: the best -B, and what the ledger costs.
	for n in 1 4; do
		for b in 1 16 64 256 1024 4096 "$BIG"; do
			add_shmlab shmlab queue "$n" "$BIG" "$b"
		done
		for mode in queue broadcast; do
			add_shmlab shmlab "$mode" "$n" "$BIG" 4096
			add_shmlab shmlab_noverify "$mode" "$n" "$BIG" 4096
		done
	done
}

# Waits until our producer has created its segment; prints its size.
wait_created() {
	local ppid=$1 size cpid

	# /proc/sysvipc/shm: key shmid perms size cpid ...
	for (( ; ; )); do
		while read -r _ _ _ size cpid _; do
			if [[ $cpid == "$ppid" ]]; then
				echo "$size"
				return 0
			fi
		done < /proc/sysvipc/shm
		kill -0 "$ppid" 2>/dev/null || return 1
		sleep 0.005
	done
}

# Reads "items_per_s verified" from a producer's JSON report.
json_result() {
	python3 -c '
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    print(r["items_per_s"], "true" if r["verified"] is True else "false")
except Exception:
    print("0 false")
' "$1"
}

# The run functions leave their result here.  They run in this shell, not
# in a $(...) subshell, so that PIDS is what cleanup() sees.
RATE=0
OK=false
SEGSIZE=0

# One shmlab run.  $7, $8: "time FILE" wraps the consumer in
# /usr/bin/time -v (the memory measurement).
run_shmlab() {
	local variant=$1 mode=$2 n=$3 maxbuf=$4 batch=$5 count=$6
	local json="$WORK/run.json" errf="$WORK/run.err" ppid cpid crc prc res
	local -a popts copts wrap=()

	RATE=0
	OK=false
	SEGSIZE=0
	if [[ ${7:-} == time ]]; then
		wrap=(/usr/bin/time -v -o "$8")
	fi
	local prod=$PRODUCER cons=$CONSUMER
	if [[ $variant == shmlab_old ]]; then
		prod=$OLD_PRODUCER
		cons=$OLD_CONSUMER
	fi
	popts=(-k "$KEY" -p "$PROJ" -n "$n" -c "$count" -b "$maxbuf"
	    -B "$batch" -m "$mode" -t "$IPC_TIMEOUT_S" -q --json)
	if [[ $variant == *_noverify ]]; then
		popts+=(--no-verify)
	fi
	copts=(-k "$KEY" -p "$PROJ" -n "$n" -B "$batch" -m "$mode"
	    -t "$IPC_TIMEOUT_S" -q)
	: >"$errf"
	: >"$json"
	"$prod" "${popts[@]}" >"$json" 2>>"$errf" &
	ppid=$!
	PIDS=("$ppid")
	if ! SEGSIZE=$(wait_created "$ppid"); then
		wait "$ppid" 2>/dev/null || true
		PIDS=()
		log "producer failed: $(head -c 300 "$errf")"
		return 0
	fi
	timeout -k 5 "$LIMIT_S" "${wrap[@]}" "$cons" "${copts[@]}" \
	    2>>"$errf" &
	cpid=$!
	PIDS+=("$cpid")
	if wait "$cpid"; then crc=0; else crc=$?; fi
	if wait "$ppid"; then prc=0; else prc=$?; fi
	PIDS=()
	if ((crc != 0 || prc != 0)); then
		log "consumer exit $crc, producer exit $prc: $(head -c 300 "$errf")"
		log "report: $(head -c 1500 "$json")"
	fi
	res=$(json_result "$json")
	read -r RATE OK <<<"$res"
}

# One baseline run; the programs print key=value lines.
# BENCH_OLD: the programs of another revision, built in our directory.
build_old() {
	[[ -n $OLD ]] || return 0
	git -C "$ROOT" rev-parse --verify -q "$OLD^{commit}" >/dev/null ||
	    die "BENCH_OLD=$OLD: not a revision of $ROOT"
	mkdir -p "$WORK/old"
	git -C "$ROOT" archive "$OLD" | tar -x -C "$WORK/old" ||
	    die "BENCH_OLD=$OLD: git archive failed"
	log "building $OLD in $WORK/old"
	make -C "$WORK/old" producer/producer consumer/consumer \
	    >"$WORK/old.log" 2>&1 ||
	    die "BENCH_OLD=$OLD does not build: $(tail -n 3 "$WORK/old.log")"
	OLD_PRODUCER="$WORK/old/producer/producer"
	OLD_CONSUMER="$WORK/old/consumer/consumer"
}

# The slides' protocol (-L slides): one item per semop pair, as taught.
# It writes no report: the rate is count over the wall time of the pair,
# and the run counts as verified when both programs exit 0 (each checks
# what it takes against the slides' stream).
run_slides() {
	local n=$1 maxbuf=$2 count=$3 ppid cpid crc prc t0 t1
	local errf="$WORK/run.err"

	RATE=0
	OK=false
	: >"$errf"
	t0=$(date +%s%N)
	"$PRODUCER" -L slides -k "$KEY" -p "$PROJ" -c "$count" -b "$maxbuf" \
	    -t "$IPC_TIMEOUT_S" -q >/dev/null 2>>"$errf" &
	ppid=$!
	PIDS=("$ppid")
	timeout -k 5 "$LIMIT_S" "$CONSUMER" -L slides -k "$KEY" -p "$PROJ" \
	    -n "$n" -c "$count" -t "$IPC_TIMEOUT_S" -q >/dev/null 2>>"$errf" &
	cpid=$!
	PIDS+=("$cpid")
	if wait "$cpid"; then crc=0; else crc=$?; fi
	if wait "$ppid"; then prc=0; else prc=$?; fi
	t1=$(date +%s%N)
	PIDS=()
	if ((crc != 0 || prc != 0)); then
		log "slides: consumer exit $crc, producer exit $prc: $(head -c 300 "$errf")"
		return 0
	fi
	RATE=$(awk -v c="$count" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", c / (ns / 1e9) }')
	OK=true
}

run_baseline() {
	local variant=$1 n=$2 maxbuf=$3 batch=$4 count=$5 line
	local cpid errf="$WORK/run.err" outf="$WORK/run.out"
	local -a cmd

	RATE=0
	OK=false
	case $variant in
	pipe1 | pipe4k) cmd=("$BENCH_PIPE" -w "$batch" -n "$n" -c "$count") ;;
	posix_sem) cmd=("$BENCH_POSIX" -n "$n" -c "$count" -b "$maxbuf") ;;
	lockstep_*) cmd=("$BENCH_LOCKSTEP" -s "${variant#lockstep_}" -c "$count") ;;
	*) die "unknown variant $variant" ;;
	esac
	: >"$outf"
	timeout -k 5 "$LIMIT_S" "${cmd[@]}" >"$outf" 2>"$errf" &
	cpid=$!
	PIDS=("$cpid")
	if ! wait "$cpid"; then
		log "$variant failed: $(head -c 300 "$errf")"
	fi
	PIDS=()
	line=$(tail -n 1 "$outf")
	if [[ $line =~ items_per_s=([0-9.]+) ]]; then
		RATE=${BASH_REMATCH[1]}
	fi
	if [[ $line =~ checksum_ok=1 ]]; then
		OK=true
	fi
}

# Runs every point REPS times, repetitions interleaved, into bench.csv.
run_all() {
	local csv="$WORK/bench.csv" total done=0 rep spec rate ok
	local variant mode n maxbuf batch count

	echo "variant,mode,consumers,maxbuf,batch,count,rep,items_per_s,verified" >"$csv"
	total=$((${#POINTS[@]} * REPS))
	for ((rep = 1; rep <= REPS; rep++)); do
		for spec in "${POINTS[@]}"; do
			read -r variant mode n maxbuf batch count <<<"$spec"
			done=$((done + 1))
			case $variant in
			shmlab*) run_shmlab "$variant" "$mode" "$n" \
			    "$maxbuf" "$batch" "$count" ;;
			slides) run_slides "$n" "$maxbuf" "$count" ;;
			*) run_baseline "$variant" "$n" "$maxbuf" \
			    "$batch" "$count" ;;
			esac
			rate=$RATE
			ok=$OK
			if [[ $ok != true ]]; then
				NFAILED=$((NFAILED + 1))
			fi
			echo "$variant,$mode,$n,$maxbuf,$batch,$count,$rep,$rate,$ok" >>"$csv"
			log "$(printf '[%3d/%d] %-15s %-9s N=%-2s maxbuf=%-5s B=%-5s count=%-8s rep %d: %8.2f M/s%s' \
			    "$done" "$total" "$variant" "$mode" "$n" "$maxbuf" \
			    "$batch" "$count" "$rep" \
			    "$(awk -v r="$rate" 'BEGIN { print r / 1e6 }')" \
			    "$([[ $ok == true ]] || echo '  FAILED')")"
		done
	done
}

# A consumer's peak RSS, queue mode, N=1, for two counts.
measure_memory() {
	local csv="$WORK/memory.csv" tfile="$WORK/time.txt" count rss

	if [[ ! -x /usr/bin/time ]]; then
		log "/usr/bin/time is missing (apt-get install time): no memory figures"
		return 0
	fi
	echo "count,maxbuf,batch,segment_bytes,consumer_maxrss_kib,verified" >"$csv"
	for count in 1000000 10000000; do
		: >"$tfile"
		run_shmlab shmlab queue 1 "$BIG" 4096 "$count" time "$tfile"
		rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tfile")
		echo "$count,$BIG,4096,$SEGSIZE,${rss:-0},$OK" >>"$csv"
		log "memory: count=$count segment=$SEGSIZE bytes, consumer peak RSS=${rss:-?} KiB, verified=$OK"
	done
}

# The commit measured, "+dirty" when the programs' sources differ from it.
describe_commit() {
	local c

	if ! c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
		echo unknown
		return 0
	fi
	if [[ -n $(git -C "$ROOT" status --porcelain -- common producer \
	    consumer 2>/dev/null) ]]; then
		c+="+dirty"
	fi
	echo "$c"
}

describe_machine() {
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "cores: $(nproc) (nproc: N above it oversubscribes the machine)"
		[[ -z $OLD ]] || echo "old: $OLD ($(git -C "$ROOT" rev-parse --short "$OLD" 2>/dev/null))"
		echo "host: nproc=$(nproc), cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), kernel=$(uname -r)"
		echo "commit: $(describe_commit)"
		echo "full: $FULL, reps: $REPS, count: $COUNT, slow count: $SLOW_COUNT, big count: $BIG_COUNT"
	} >"$WORK/env.txt"
}

plot() {
	if ! command -v gnuplot >/dev/null; then
		log "gnuplot is missing (apt-get install gnuplot-nox): no plot"
		return 0
	fi
	local f

	for f in "$WORK"/plot_*.gpdata; do
		[[ -e $f ]] || continue
		# Each data file comes with its own settings, written by summarize.py.
		if ! gnuplot -e "load '${f%.gpdata}.gpvars'" "$PLOT" \
		    2>"$WORK/gnuplot.err"; then
			log "gnuplot failed on $f: $(head -c 300 "$WORK/gnuplot.err")"
			rm -f -- "$WORK/$(basename -- "${f%.gpdata}" | sed 's/^plot_//').png"
		fi
	done
}

main() {
	local t0 f

	check_programs
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/shmlab-bench.XXXXXX")
	build_old
	KEY="$WORK/key"
	: >"$KEY"
	PROJ=$((RANDOM % 255 + 1))
	t0=$SECONDS
	plan
	describe_machine
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/env.txt"
	log "${#POINTS[@]} points x $REPS reps, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	run_all
	measure_memory
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/env.txt"
	echo "wall: $((SECONDS - t0)) s" >>"$WORK/env.txt"
	python3 "$SUMMARIZE" "$WORK" | tee "$WORK/summary.txt"
	plot
	mkdir -p -- "$OUT"
	for f in bench.csv medians.csv memory.csv summary.txt env.txt; do
		[[ -e $WORK/$f ]] && mv -f -- "$WORK/$f" "$OUT/$f"
	done
	for f in "$WORK"/*.png; do
		[[ -e $f ]] && mv -f -- "$f" "$OUT/"
	done
	log "results in $OUT ($((SECONDS - t0)) s)"
	if ((NFAILED > 0)); then
		log "$NFAILED runs failed verification: see the summary"
		return 1
	fi
	return 0
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
main "$@"
