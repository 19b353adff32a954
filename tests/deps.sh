#!/usr/bin/env bash
#
# deps.sh - makes sure the build's Debian packages are there.
#
#	tests/deps.sh lib	libbsd-dev, pkg-config and gettext (msgfmt,
#				for the message catalogue), python3 (its
#				json module reads run_demo.sh's report and
#				the monitor snapshots of its progress bar)
#	tests/deps.sh check	the above, check and libjansson-dev (the
#				tests and their JSON reader) and the
#				es_ES.UTF-8 locale (the Spanish test run)
#
# As root it installs what is missing with apt-get; otherwise it stops
# with the one exact command to run.

set -euo pipefail

# Is the Spanish locale there?  locale -a spells it es_ES.utf8.
has_es() {
	locale -a 2>/dev/null | grep -qix 'es_ES\.utf-\?8'
}

# Generates es_ES.UTF-8 (Debian's locales package), as root.
make_es() {
	echo "deps.sh: generating the es_ES.UTF-8 locale" >&2
	if [[ -f /etc/locale.gen ]]; then
		sed -i 's/^# *\(es_ES.UTF-8 UTF-8\)/\1/' /etc/locale.gen
		grep -q '^es_ES.UTF-8 UTF-8' /etc/locale.gen ||
			echo 'es_ES.UTF-8 UTF-8' >>/etc/locale.gen
		locale-gen >&2
	else
		localedef -i es_ES -f UTF-8 es_ES.UTF-8 >&2
	fi
}

main() {
	local want=(pkg-config libbsd-dev gettext python3) missing=() p
	[[ ${1:-lib} == check ]] && want+=(check locales libjansson-dev)
	for p in "${want[@]}"; do
		case $p in
		pkg-config) command -v pkg-config >/dev/null 2>&1 || missing+=("$p") ;;
		libbsd-dev) pkg-config --exists libbsd-overlay 2>/dev/null || missing+=("$p") ;;
		check) pkg-config --exists check 2>/dev/null || missing+=("$p") ;;
		gettext) command -v msgfmt >/dev/null 2>&1 || missing+=("$p") ;;
		python3) command -v python3 >/dev/null 2>&1 || missing+=("$p") ;;
		locales) has_es || missing+=("$p") ;;
		libjansson-dev) pkg-config --exists jansson 2>/dev/null || missing+=("$p") ;;
		esac
	done
	((${#missing[@]} == 0)) && return 0
	if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
		echo "deps.sh: installing ${missing[*]}" >&2
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
		has_es || make_es
		return 0
	fi
	echo "shmlab needs ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" \
		"(and, for locales, 'sudo locale-gen es_ES.UTF-8')" >&2
	exit 1
}

main "$@"
