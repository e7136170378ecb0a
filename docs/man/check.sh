#!/bin/sh
# usage: check.sh GROFF PAGE...  -- render each man page with every groff
# warning enabled (-ww) and fail if groff prints anything or fails.
groff=$1
shift
rc=0
for page in "$@"; do
	out=$("$groff" -man -ww -z "$page" 2>&1) || rc=1
	if [ -n "$out" ]; then
		printf '%s:\n%s\n' "$page" "$out"
		rc=1
	fi
done
exit $rc
