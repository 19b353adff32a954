#!/usr/bin/env bash
#
# deps.sh - makes sure the build's Debian packages are there.
#
#	tests/deps.sh lib	libbsd-dev and pkg-config (the programs)
#	tests/deps.sh check	the above, and check (the tests)
#
# As root it installs what is missing with apt-get; otherwise it stops
# with the one exact command to run.

set -euo pipefail

main() {
	local want=(pkg-config libbsd-dev) missing=() p
	[[ ${1:-lib} == check ]] && want+=(check)
	for p in "${want[@]}"; do
		case $p in
		pkg-config) command -v pkg-config >/dev/null 2>&1 || missing+=("$p") ;;
		libbsd-dev) pkg-config --exists libbsd-overlay 2>/dev/null || missing+=("$p") ;;
		check) pkg-config --exists check 2>/dev/null || missing+=("$p") ;;
		esac
	done
	((${#missing[@]} == 0)) && return 0
	if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1; then
		echo "deps.sh: installing ${missing[*]}" >&2
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
		return 0
	fi
	echo "shmlab needs ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
	exit 1
}

main "$@"
