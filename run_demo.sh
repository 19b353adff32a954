#!/usr/bin/env bash
#
# run_demo.sh - runs one shmlab demonstration end to end.
#
# Starts the producer daemon on a private key file (so concurrent runs, by
# one user or thirty, never collide), polls until it is ready, starts the
# consumers, waits, and prints the run's verified ledger.  On Ctrl-C, or on
# any failure, it ends every process it started (by pid, never by name)
# and removes every IPC object of this run, and only of this run.
#
#	./run_demo.sh                     # 3 consumers, 1000 items, MAXBUF 10
#	./run_demo.sh -n 32 -c 100000 -b 1
#	./run_demo.sh --json | python3 -m json.tool
#	./run_demo.sh clean               # remove your crashed runs' objects
#
# Exit status: 0 verified, 1 damage in the ledger, 2 bad usage,
# 3 IPC or peer failure, 130 interrupted.

# Before anything else: a signal while the shell reads this file still
# ends with 130 (nothing exists yet); main() installs the real traps.
trap 'exit 130' INT TERM HUP
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
# In the source tree the programs live in their directories; installed
# (make install), they sit beside this script.
if [[ -f $HERE/Makefile && -d $HERE/producer ]]; then
	readonly INTREE=1 BIN=""
else
	readonly INTREE=0 BIN=$HERE
fi
if ((INTREE)); then
	readonly LOCALEDIR=$HERE/locale
else
	readonly LOCALEDIR=$HERE/../share/locale
fi
readonly PRODUCER="${SHMLAB_PRODUCER:-${BIN:-$HERE/producer}/producer}"
readonly CONSUMER="${SHMLAB_CONSUMER:-${BIN:-$HERE/consumer}/consumer}"
readonly MONITOR="${SHMLAB_MONITOR:-${BIN:-$HERE/monitor}/monitor}"
readonly GRADER="${BIN:-$HERE/grader}/grader"

consumers=3
count=1000
maxbuf=10
batch=""
mode=queue
seed=0
json=0
unsafe=0
jitter=""
noverify=0
timeout=30
delay=0
cdelay=
slow=0
slow_side=consumers
delay_set=0
monitor_pane=""
count_set=0
quiet=0
monitor=0
monitor_pid=""
items_fmt=""
reader_pid=""
poll_id=0
declare -A logseen=()

tmpdir=""
producer_pid=""
consumer_pid=""

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "$2"; exit "$1"; }

# The script's own words in the user's language: gettext(1) with the
# programs' catalogue (po/es.po), the English of the source when gettext
# or the catalogue is missing.  tf formats: tf 'pid %s' "$pid".
t() {
	if command -v gettext >/dev/null 2>&1; then
		TEXTDOMAIN=shmlab TEXTDOMAINDIR=$LOCALEDIR gettext -- "$1"
	else
		printf '%s' "$1"
	fi
}
# A word that also means something else (a column head): its context
# says which (tc option consumers), as msgctxt in po/es.po.
tc() {
	if command -v gettext >/dev/null 2>&1; then
		TEXTDOMAIN=shmlab TEXTDOMAINDIR=$LOCALEDIR gettext -c "$1" -- "$2"
	else
		printf '%s' "$2"
	fi
}
tf() {
	local fmt
	fmt=$(t "$1")
	shift
	# shellcheck disable=SC2059 # the format is the catalogue's
	printf -- "$fmt" "$@"
}

usage() {
	local p=${0##*/}
	tf 'usage: %s [-n consumers] [-c count] [-b maxbuf] [-B batch]
       [-m queue|broadcast] [-s seed] [-t seconds] [--json] [--unsafe]
       [--jitter us] [--delay ms] [--slow [speed]] [--slow-side
       producer|consumers] [--monitor] [--no-verify] [-q]
       %s clean
       %s grade [--producer CMD] [--consumer CMD] [--json]
       [--gradescope FILE] [-t seconds]' "$p" "$p" "$p" >&2
	printf '\n' >&2	# $(...) in tf drops a final newline
	exit 2
}

# An option that takes a value has one, or a one-line error and status 2.
# The value itself is the producer's to check: it refuses bad input with
# one line and status 2 before it creates anything, and this script never
# restates its limits.
need() {
	(($# >= 2)) || die 2 "$(tf '%s needs a value' "$1")"
}

# A number within bounds, or a one-line error and status 2: only for what
# the producer does not see (the consumer program's -n, --slow's speed).
number() {
	local name=$1 value=$2 min=$3 max=$4
	if ! [[ $value =~ ^[0-9]+$ ]] || ((${#value} > 18)) ||
		((10#$value < min || 10#$value > max)); then
		die 2 "$(tf '%s %s: want a whole number from %s to %s' "$name" "$value" "$min" "$max")"
	fi
}

# Builds the programs when they are missing or older than their sources.
ensure_built() {
	if [[ -n ${SHMLAB_PRODUCER:-} ]] || ((!INTREE)); then
		[[ -x $PRODUCER && -x $CONSUMER ]] ||
			die 3 "$(tf 'cannot find %s and %s: reinstall shmlab' "$PRODUCER" "$CONSUMER")"
		return
	fi
	local src=("$HERE/common" "$HERE/producer" "$HERE/consumer" "$HERE/monitor")
	local newer=""
	# One line: bash misparses a multi-line $(...) that a trap interrupts.
	[[ -x $PRODUCER ]] && newer=$(find "${src[@]}" -name '*.[ch]' -newer "$PRODUCER" 2>/dev/null)
	# The monitor too: the progress bar and --monitor read the run with it.
	if [[ ! -x $PRODUCER || ! -x $CONSUMER || ! -x $MONITOR || ! -x $GRADER ||
		-n $newer ]]; then
		log "$(t 'building shmlab first (make)')"
		make -s -C "$HERE" >&2 || die 3 "$(t 'the build failed: see the messages above')"
	fi
}

# Ends what this run started, by pid, and removes this run's objects.
cleanup() {
	local pid i
	set +e
	stop_progress
	if [[ -n $monitor_pid ]]; then
		kill -TERM "$monitor_pid" 2>/dev/null
		wait "$monitor_pid" 2>/dev/null
		monitor_pid=""
	fi
	if [[ -n $consumer_pid ]] && kill -0 "$consumer_pid" 2>/dev/null; then
		# The consumer parent forwards SIGTERM to its children; its
		# process group (setsid below) holds them all.
		kill -TERM -- "-$consumer_pid" 2>/dev/null
	fi
	# The daemon writes its pid right after it forks: wait for it.
	for ((i = 0; i < 20; i++)); do
		[[ -n $tmpdir && -e $tmpdir/producer.pid &&
			! -s $tmpdir/producer.pid ]] || break
		sleep 0.05
	done
	if [[ -n $tmpdir && -s $tmpdir/producer.pid ]]; then
		pid=$(<"$tmpdir/producer.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && running "$pid"; then
			kill -TERM "$pid" 2>/dev/null
			for ((i = 0; i < 60; i++)); do
				running "$pid" || break
				sleep 0.05
			done
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	if [[ -n $consumer_pid ]]; then
		for ((i = 0; i < 20; i++)); do
			kill -0 -- "-$consumer_pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL -- "-$consumer_pid" 2>/dev/null
		wait "$consumer_pid" 2>/dev/null
	fi
	if [[ -n $tmpdir && -e $tmpdir/key ]]; then
		# Whatever a killed producer left under our private key.
		"$PRODUCER" --clean -q -k "$tmpdir/key" >/dev/null 2>&1
	fi
	[[ -n $tmpdir && -d $tmpdir ]] && rm -rf -- "$tmpdir"
	return 0
}

# SIGUSR1: every process of the run prints its counters (the consumer
# parent passes the signal on to its children); show them from the logs.
on_usr1() {
	local f size
	[[ -n $producer_pid ]] && kill -USR1 "$producer_pid" 2>/dev/null
	[[ -n $consumer_pid ]] && kill -USR1 "$consumer_pid" 2>/dev/null
	sleep 0.3
	for f in producer consumer; do
		[[ -f $tmpdir/$f.log ]] || continue
		size=$(wc -c <"$tmpdir/$f.log")
		tail -c "+$((${logseen[$f]:-0} + 1))" "$tmpdir/$f.log" >&2
		logseen[$f]=$size
	done
}

on_interrupt() {
	log "$(t "interrupted: stopping this run's processes and removing its objects")"
	cleanup
	tmpdir=""
	exit 130
}

# Polls (no fixed sleep) until the daemon has written its pidfile.
wait_ready() {
	local i
	for ((i = 0; i < 400; i++)); do
		if [[ -s $tmpdir/producer.pid ]]; then
			producer_pid=$(<"$tmpdir/producer.pid")
			[[ $producer_pid =~ ^[0-9]+$ ]] && return 0
		fi
		[[ -e $tmpdir/producer.failed ]] && return 1
		sleep 0.025
	done
	return 1
}

# The run's exit status from the producer's JSON report, read with
# python3's json module, never with a pattern over its text.  With a
# second argument it adds the one fact the producer cannot know, the
# consumer program's failure: exit_status becomes STATUS and verified
# false, every other key and value as the producer wrote them.
report_status() {
	python3 - "$@" <<'EOF'
import json, os, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    report = json.load(f)
status = report.get("exit_status") if isinstance(report, dict) else None
if not isinstance(status, int) or isinstance(status, bool):
    sys.exit(1)
if len(sys.argv) > 2:
    report["exit_status"] = status = int(sys.argv[2])
    report["verified"] = False
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
print(status)
EOF
}

# Is this pid still running?  A daemon is not our child: once it exits it
# may stay a zombie until init reaps it, and kill -0 still succeeds then.
running() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# Waits for the producer daemon to exit, bounded: it removes its pidfile
# as its last act.
wait_producer() {
	local limit=$(((10#$timeout + 10) * 50)) i
	for ((i = 0; i < limit; i++)); do
		[[ -e $tmpdir/producer.pid ]] || return 0
		running "$producer_pid" || return 0
		sleep 0.02
	done
	return 1
}

# The progress bar's numbers come from the monitor's JSON snapshot
# (monitor --json, a read-only attach of a moment; docs/monitor.1 lists
# its keys), never from the producer's process title.  A JSON snapshot
# is read by one python3 started once per run, beside the script as a
# coprocess: a python3 per redraw costs 100 ms on an idle machine and
# much more on a loaded one, which drew one bar where a run of 1.6 s
# wants two (the monitor --json polling reverted in 9572b0f).  Each
# snapshot goes to it framed by a line "RS ID STATUS" (RS is \036, ID
# the poll's number, STATUS the monitor's exit status), and it answers
# "ID HEAD COUNT", or "ID -" when the monitor failed (the run ended
# between two polls) or the snapshot is not what the monitor documents.
# The ID keeps the answers in step: a late one is dropped, not drawn.
readonly READER_PY='
import json, sys
lines = []
for line in iter(sys.stdin.readline, ""):
    if not line.startswith("\036"):
        lines.append(line)
        continue
    frame = line[1:].split()
    answer = "-"
    try:
        if len(frame) == 2 and frame[1] == "0":
            s = json.loads("".join(lines))
            head, count = s["head"], s["count"]
            if all(type(v) is int and v >= 0 for v in (head, count)):
                answer = "%d %d" % (head, count)
    except (ValueError, KeyError, TypeError):
        pass
    lines = []
    if frame:
        print(frame[0], answer, flush=True)
'

# Starts the reader for the progress bar.  Its pipes are the shell's
# alone (bash marks a coprocess's descriptors close-on-exec), and it
# ends when stop_progress closes its input, or with the TERM it sends.
# Once the reader is reaped, bash closes both pipes and unsets
# PROGRESS_READER: each use checks that it is still there.
start_progress() {
	# A reader that died makes a write fail, not kill this shell.
	trap '' PIPE
	coproc PROGRESS_READER { exec python3 -c "$READER_PY" 2>/dev/null; }
	reader_pid=$PROGRESS_READER_PID
}

# Ends the reader, if it runs: EOF on its input, then TERM, then reaped.
stop_progress() {
	local fd=${PROGRESS_READER[1]:-}
	[[ -n $reader_pid ]] || return 0
	# bash notes the close, so it never closes the number again.
	[[ -z $fd ]] || exec {fd}>&-
	kill -TERM "$reader_pid" 2>/dev/null || :
	wait "$reader_pid" 2>/dev/null || :
	reader_pid=""
}

# Draws the progress bar from one monitor snapshot: HEAD items of COUNT
# written.  Nothing is drawn when the run has just ended (no snapshot) or
# the answer is late (it waits 0.5 s at most: the run is never held).
progress() {
	local id="" got="" total="" st=0 width=40 fill pct
	[[ -n ${PROGRESS_READER[1]:-} ]] || return 0
	((++poll_id))
	"$MONITOR" --json -k "$tmpdir/key" 2>/dev/null 1>&"${PROGRESS_READER[1]:-}" ||
		st=$?
	# A newline first: a snapshot cut short (a monitor killed mid-write)
	# may not end its last line, and the frame must start one.
	printf '\n\036%d %d\n' "$poll_id" "$st" 2>/dev/null 1>&"${PROGRESS_READER[1]:-}" ||
		return 0
	while [[ -n ${PROGRESS_READER[0]:-} ]] &&
		read -r -t 0.5 id got total <&"${PROGRESS_READER[0]}"; do
		[[ $id == "$poll_id" ]] && break
	done
	[[ $id == "$poll_id" && $got =~ ^[0-9]+$ && $total =~ ^[0-9]+$ ]] ||
		return 0
	((${#got} <= 18 && ${#total} <= 18 && total > 0)) || return 0
	# A racing or hostile head shows a full bar, never more.
	((got <= total)) || got=$total
	pct=$((got * 100 / total))
	fill=$((got * width / total))
	# The words once per run: a gettext per redraw would slow the bar.
	[[ -n $items_fmt ]] || items_fmt=$(t '%s/%s items')
	# shellcheck disable=SC2059 # the format is the catalogue's
	printf "\r[%-*s] %3d%% $items_fmt " "$width" \
		"$(printf '%*s' "$fill" '' | tr ' ' '#')" "$pct" "$got" "$total" >&2
}

# Shows the monitor during the run: in a tmux split inside tmux, else in
# this terminal above the run's own output (which then comes at the end).
# In tmux the pane is as tall as the monitor's frame for this many
# consumers (about 22 lines and one per consumer), leaving the run's own
# output 4 lines; it stays open after the run until a key is pressed in
# it (monitor --hold), and the run selects it when it ends.
start_monitor() {
	local want have env=() v
	if [[ -n ${TMUX:-} ]] && command -v tmux >/dev/null 2>&1; then
		# A new pane takes the tmux server's environment: pass ours on,
		# so that the monitor speaks the run's language.
		for v in LANG LC_ALL LC_MESSAGES LANGUAGE; do
			[[ -n ${!v:-} ]] && env+=(-e "$v=${!v}")
		done
		want=$((22 + consumers))
		have=$(tmux display-message -p '#{pane_height}' 2>/dev/null) || have=30
		[[ $have =~ ^[0-9]+$ ]] || have=30
		((want > have - 4)) && want=$((have - 4))
		((want < 5)) && want=5
		monitor_pane=$(tmux split-window -v -d -P -F '#{pane_id}' -l "$want" "${env[@]}" \
			"'$MONITOR' --hold -k '$tmpdir/key'") ||
			log "$(t 'tmux split-window failed: no monitor')"
	elif [[ -t 1 ]]; then
		"$MONITOR" -k "$tmpdir/key" &
		monitor_pid=$!
	else
		log "$(t '--monitor needs a terminal or tmux: no monitor')"
	fi
}

clean_all() {
	local key removed=0 line
	ensure_built
	# Our own segments and sets only: ipcs lists every user's objects.
	while read -r key; do
		[[ $key == 0x00000000 ]] && continue
		if line=$("$PRODUCER" --clean -K "$key" 2>&1); then
			log "$line"
			removed=1
		else
			log "$line"
		fi
	done < <(ipcs -m -s 2>/dev/null |
		awk -v me="$(id -un)" '$1 ~ /^0x/ && $3 == me { print $1 }' | sort -u)
	((removed)) || log "$(t 'nothing of yours to clean')"
	return 0
}

# A fresh key file whose key no object holds yet.  ftok keeps 16 bits of
# the inode, so two runs' files can give one key (on a tmpfs after 65536
# files): each candidate is checked against what the kernel lists, and a
# new inode is made while the old one still exists, so it differs.
new_key() {
	local i dev ino key
	for ((i = 0; i < 16; i++)); do
		: >"$tmpdir/key.new"
		mv -f "$tmpdir/key.new" "$tmpdir/key"
		read -r dev ino < <(stat -c '%d %i' "$tmpdir/key")
		((key = (20 << 24) | ((dev & 0xff) << 16) | (ino & 0xffff)))
		awk -v k="$key" 'NR > 1 && $1 == k { found = 1 }
			END { exit !found }' /proc/sysvipc/shm /proc/sysvipc/sem \
			2>/dev/null || return 0
	done
	return 0	# the producer's IPC_EXCL still refuses a taken key
}

main() {
	local args=() status cstatus=0 pstatus started shown=0 bar=0
	local changed=0 try
	if [[ ${1:-} == grade ]]; then
		# The slides protocol's grader (docs/slides-protocol.md).
		shift
		ensure_built
		[[ -x $GRADER ]] || die 3 "$(tf 'cannot find %s: run make' "$GRADER")"
		exec "$GRADER" "$@"
	fi
	# First of all: a signal at any moment ends the run with 130.
	trap cleanup EXIT
	trap on_interrupt INT TERM HUP
	if [[ ${1:-} == clean ]]; then
		shift
		(($# == 0)) || usage
		clean_all
		return 0
	fi
	while (($#)); do
		case $1 in
		-n) number "$(tc option consumers)" "${2:-}" 1 512; consumers=$2; shift ;;
		-c) need "$@"; count=$2 count_set=1; shift ;;
		-b) need "$@"; maxbuf=$2; shift ;;
		-B) need "$@"; batch=$2; shift ;;
		-m) need "$@"; mode=$2; shift ;;
		-s | --seed) need "$@"; seed=$2; shift ;;
		-t) need "$@"; timeout=$2; shift ;;
		--json) json=1 ;;
		--unsafe) unsafe=1 ;;
		--jitter) need "$@"; jitter=$2; shift ;;
		--delay) need "$@"; delay=$2 delay_set=1; shift ;;
		--slow)
			# Slow motion, SPEED times slower still (--slow 2: twice
			# as slow); the delays are set below, once --slow-side
			# is known.  A short stream, unless -c says otherwise.
			slow=1
			if [[ ${2:-} =~ ^[0-9]+$ ]]; then
				number "$(tc option speed)" "$2" 1 20
				slow=$2
				shift
			fi ;;
		--slow-side)
			[[ ${2:-} == producer || ${2:-} == consumers ]] ||
				die 2 "$(tf 'slow side %s: want producer or consumers' "${2:-}")"
			slow_side=$2; shift ;;
		--monitor) monitor=1 ;;
		--no-verify) noverify=1 ;;
		-q) quiet=1 ;;
		-h | --help) usage ;;
		*) log "$(tf 'unknown argument: %s' "$1")"; usage ;;
		esac
		shift
	done
	((slow && !count_set)) && count=40
	if ((slow)) && [[ $slow_side == consumers ]]; then
		# Consumers slower than the producer (10 items/s against 5/s
		# for three): the ring fills within seconds and the producer
		# waits on empty; once it has posted the end of the stream
		# they drain the ring.
		((delay_set)) || delay=$((100 * slow))
		cdelay=$((600 * slow))
	elif ((slow)); then
		# The producer slower than the consumers (one item every
		# 600 ms, each consumer ready every 100 ms): the ring stays
		# empty and the consumers wait on full, its ncnt their number.
		((delay_set)) || delay=$((600 * slow))
		cdelay=$((100 * slow))
	fi
	[[ -d ${TMPDIR:-/tmp} && -w ${TMPDIR:-/tmp} ]] ||
		die 2 "$(tf 'TMPDIR %s is not a writable directory: set TMPDIR to one, or unset it' "${TMPDIR:-/tmp}")"
	ensure_built
	# Named before it exists, so that a trap at any moment removes it
	# (the result of a $(mktemp) that a signal interrupts is lost).
	tmpdir=${TMPDIR:-/tmp}/shmlab-demo.$$.$RANDOM$RANDOM
	mkdir -m 0700 "$tmpdir" 2>/dev/null || {
		tmpdir=""
		die 3 "$(tf 'cannot create a private directory in %s' "${TMPDIR:-/tmp}")"
	}
	new_key

	args=(-d -P "$tmpdir/producer.pid" -k "$tmpdir/key" -n "$consumers"
		-c "$count" -b "$maxbuf" -m "$mode" -s "$seed" -t "$timeout"
		-o "$tmpdir/report.json" -r "$tmpdir/report.txt")
	[[ -n $batch ]] && args+=(-B "$batch")
	((unsafe)) && args+=(--unsafe --jitter "${jitter:-20}")
	((!unsafe)) && [[ -n $jitter ]] && args+=(--jitter "$jitter")
	((noverify)) && args+=(--no-verify)
	# Not yet a number: the producer checks it, then the consumers get it.
	[[ $delay != 0 ]] && args+=(--delay "$delay")
	for ((try = 0; try < 3; try++)); do
		pstatus=0
		"$PRODUCER" "${args[@]}" 2>"$tmpdir/producer.log" || pstatus=$?
		# Another run took this key meanwhile: a new key file, again.
		# (The producer's message in the user's language too.
		# TRANSLATORS: the fixed part of your translation of
		# "a %s already exists under key 0x%08lx".)
		if ((pstatus != 3)) || ! grep -qF -e 'already exists under key' \
			-e "$(t 'already exists under key')" \
			"$tmpdir/producer.log"; then
			break
		fi
		new_key
	done
	((pstatus == 0)) || : >"$tmpdir/producer.failed"
	if ! wait_ready; then
		cat "$tmpdir/producer.log" >&2
		# A refusal of the options (2) stays a usage error.
		((pstatus == 2)) && exit 2
		die 3 "$(t 'the producer did not start')"
	fi

	args=(-k "$tmpdir/key" -n "$consumers" -m "$mode" -t "$timeout")
	[[ -n $batch ]] && args+=(-B "$batch")
	[[ ${cdelay:-$delay} != 0 ]] && args+=(--delay "${cdelay:-$delay}")
	# A process group of their own, so cleanup reaches every child.
	setsid "$CONSUMER" "${args[@]}" 2>"$tmpdir/consumer.log" &
	consumer_pid=$!
	((monitor)) && start_monitor
	trap on_usr1 USR1
	# A progress bar only for a person: a terminal, and a run that lasts.
	((!json && !quiet && !monitor)) && [[ -t 1 && -t 2 ]] && bar=1
	((bar)) && start_progress
	# Microseconds: $SECONDS counts whole seconds only.
	started=${EPOCHREALTIME//[!0-9]/}
	while kill -0 "$consumer_pid" 2>/dev/null; do
		if ((bar && ${EPOCHREALTIME//[!0-9]/} - started >= 1000000)); then
			progress
			shown=1
		fi
		sleep 0.1
	done
	stop_progress
	((shown)) && printf '\r%*s\r' 60 '' >&2
	wait "$consumer_pid" || cstatus=$?
	consumer_pid=""
	if ! wait_producer; then
		cat "$tmpdir/producer.log" "$tmpdir/consumer.log" >&2
		die 3 "$(tf 'the producer (pid %s) did not finish' "$producer_pid")"
	fi
	if [[ ! -s $tmpdir/report.json ]]; then
		cat "$tmpdir/producer.log" "$tmpdir/consumer.log" >&2
		die 3 "$(tf "the producer (pid %s) died without a report: this run's objects are removed" "$producer_pid")"
	fi
	if [[ -n $monitor_pid ]]; then
		kill -TERM "$monitor_pid" 2>/dev/null
		wait "$monitor_pid" 2>/dev/null
		monitor_pid=""
	fi
	# The monitor pane waits for a key: the next one typed goes there.
	[[ -n $monitor_pane ]] && tmux select-pane -t "$monitor_pane" 2>/dev/null
	status=$(report_status "$tmpdir/report.json") || die 3 "$(t 'malformed report')"
	if ((status == 0 && cstatus != 0)); then
		# The ledger is whole, but a consumer process failed (e.g. it
		# was refused) or was killed (128 + signal: a consumer died,
		# status 1): the run fails, and the JSON says so too.
		status=$((cstatus >= 128 ? 1 : cstatus))
		changed=1
		report_status "$tmpdir/report.json" "$status" >/dev/null ||
			die 3 "$(t 'malformed report')"
	fi
	if ((json)); then
		cat "$tmpdir/report.json"
	elif ((!quiet)); then
		cat "$tmpdir/report.txt"
		((changed)) &&
			printf '%s\n' "$(tf '  but a consumer process failed: run exit %d' "$status")"
	fi
	if ((status != 0)); then
		cat "$tmpdir/producer.log" "$tmpdir/consumer.log" >&2
	fi
	return "$status"
}

main "$@"
