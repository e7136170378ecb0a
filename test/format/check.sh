#!/bin/sh
# test/format/check.sh SRCDIR - every tracked C file is formatted by the
# repository's .clang-format (CONVENTIONS.md: "One clang-format file,
# applied to every change"). Prints the files that differ and a diff of the
# first lines of each; exits 1 if any does. Tables that read better by hand
# are fenced with "// clang-format off" / "// clang-format on".
set -u
src=${1:-.}
cd "$src" || exit 2
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 2; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null) || files=$(find . -name '*.[ch]' -not -path './build*')
bad=0
for f in $files; do
	[ -f "$f" ] || continue
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "not formatted: $f (fix: clang-format -i $f)"
		clang-format --style=file "$f" | diff -u "$f" - | sed -n '3,14p'
		bad=$((bad + 1))
	fi
done
echo "$bad file(s) differ from .clang-format"
[ "$bad" -eq 0 ]
