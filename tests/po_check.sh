#!/usr/bin/env bash
#
# po_check.sh - the message catalogue covers every message.
#
#	./tests/po_check.sh
#
# Extracts every marked message (_() and N_() in the C sources, t and tf
# in run_demo.sh) into a fresh template, and fails when po/es.po lacks a
# translation for one of them, has one marked fuzzy, or one whose format
# directives differ from the original (msgfmt --check).  How to fix it:
# make po-update, translate what it marks, and run this again.

set -euo pipefail

readonly PROG="${0##*/}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tmp=""
cleanup() { [[ -n $tmp ]] && rm -rf -- "$tmp"; }
trap cleanup EXIT

main() {
	local lang rc=0 langs
	# The languages: po/*.po, as the Makefile's LINGUAS.
	langs=(po/*.po)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmlab-po.XXXXXX")
	xgettext -L C -k_ -kN_ -klook_around:2 -kwait_ops:4 --from-code=UTF-8 -o "$tmp/all.pot" \
		common/*.c producer/*.c consumer/*.c monitor/*.c grader/*.c
	xgettext -L Shell -k -kt -ktf -ktc:1c,2 --from-code=UTF-8 -j -o "$tmp/all.pot" \
		run_demo.sh
	for lang in "${langs[@]}"; do
		lang=${lang#po/}
		lang=${lang%.po}
		if ! msgfmt --check --statistics -o /dev/null "po/$lang.po" \
			2>"$tmp/msgfmt"; then
			cat "$tmp/msgfmt" >&2
			echo "$PROG: po/$lang.po: msgfmt --check failed" >&2
			rc=1
		fi
		# Untranslated and fuzzy entries count as missing here.
		if ! msgcmp "po/$lang.po" "$tmp/all.pot" 2>"$tmp/msgcmp"; then
			grep -v '^msgcmp: found' "$tmp/msgcmp" >&2 || true
			echo "$PROG: po/$lang.po lacks translations (listed above):" \
				"run 'make po-update' and translate them" >&2
			rc=1
		fi
	done
	((rc == 0)) && echo "$PROG: ${langs[*]} translate every message"
	return "$rc"
}

main "$@"
