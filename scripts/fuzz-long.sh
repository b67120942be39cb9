#!/usr/bin/env bash
# fuzz-long.sh runs every fuzz target in the repository, one at a time, for
# FUZZTIME each (default 60s), and prints each one's exec count and result.
# The default `go test ./...` runs only the seed corpora; this is the long
# mode of issue 6's fuzzing suite.
#
#   scripts/fuzz-long.sh                      # every fuzzer, 60 s each
#   FUZZTIME=10s scripts/fuzz-long.sh         # shorter
#   FUZZ_FILTER=FTS scripts/fuzz-long.sh      # only fuzzers whose name matches
#
# FUZZMINTIME (default 5s) bounds the minimisation of each new input:
# go's default, 60s, spends most of a one-minute run shrinking inputs
# instead of fuzzing (the execs it spends there are not counted).
#
# A failure leaves the crashing input in the package's
# testdata/fuzz/<FuzzName>/ directory: keep it there as a regression seed
# once the bug is fixed. The exit status is 1 if any fuzzer failed.
set -uo pipefail

fuzztime=${FUZZTIME:-60s}
mintime=${FUZZMINTIME:-5s}
filter=${FUZZ_FILTER:-.}
cd "$(dirname "$0")/.."

# "<package dir> <FuzzName>" for every fuzz target in a _test.go file.
targets=$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
	sed -E 's|^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\(.*|\1 \2|' | sort -u | grep -E " .*${filter}" || true)
if [ -z "$targets" ]; then
	echo "no fuzz targets match ${filter}" >&2
	exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
summary=()
while read -r dir name; do
	printf '== %s ./%s (%s)\n' "$name" "$dir" "$fuzztime"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$mintime" "./$dir" >"$log" 2>&1
	rc=$?
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | awk '{print $2}')
	interesting=$(grep -oE 'new interesting: [0-9]+' "$log" | tail -1 | awk '{print $3}')
	if [ "$rc" -eq 0 ]; then
		result=PASS
	else
		result=FAIL
		failed=1
		sed -n '/--- FAIL/,$p' "$log" | head -40
		grep -E 'Failing input written to|go test -run=' "$log" || tail -20 "$log"
	fi
	line=$(printf '%-22s %-32s execs %10s  new %5s  %s' "$name" "./$dir" "${execs:-?}" "${interesting:-?}" "$result")
	echo "$line"
	summary+=("$line")
done <<<"$targets"

echo
echo "== summary (FUZZTIME=$fuzztime)"
printf '%s\n' "${summary[@]}"
exit $failed
