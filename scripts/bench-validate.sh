#!/usr/bin/env bash
# scripts/bench-validate.sh: how fast `datalfs manifest validate` checks a large manifest compared
# with Python's jsonschema (the engine of check-jsonschema) and ajv 8 (JavaScript, compiles schemas
# to code: the usual speed reference).
#
# Generates a SageMaker-style augmented manifest (source-ref, a label, <label>-metadata) with about
# 1% bad records of nine kinds (wrong type, missing property, out of range, enum, pattern, extra
# property, malformed JSON, ...), validates it with all three against the same draft 2020-12 schema
# (scripts/bench/validate/schema.json), prints wall time, CPU time (user + system, less sensitive to
# other load on the machine), lines/s (by wall time) and peak memory (max RSS from /usr/bin/time -v),
# and checks that all three found exactly the generator's bad line numbers.
#
#   scripts/bench-validate.sh                 # 1,000,000 lines (about 5 minutes on 2 cores)
#   BENCH_LINES=200000 scripts/bench-validate.sh
#   BENCH_QUICK=1 scripts/bench-validate.sh   # 20,000 lines, to check the script
#   ROUNDS=5 scripts/bench-validate.sh        # best of 5 rounds for datalfs and ajv (default 3;
#                                             # Python runs once: it takes minutes)
#
# ajv is installed from npm (pinned) into $DATALFS_CACHE/bench-validate; `time` from Debian if missing.
set -euo pipefail
source "$(dirname "$0")/setup.sh"

AJV_VERSION=8.17.1
LINES=${BENCH_LINES:-1000000}
ROUNDS=${ROUNDS:-3}
[ -n "${BENCH_QUICK:-}" ] && LINES=20000
HERE="$DATALFS_ROOT/scripts/bench/validate"

if [ ! -x /usr/bin/time ]; then
	log "installing GNU time (Debian package)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; } >/dev/null 2>&1 ||
		die "could not install GNU time with apt-get; install it and run again"
fi
python3 -c 'import jsonschema' 2>/dev/null || {
	log "installing Python jsonschema (Debian package python3-jsonschema)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jsonschema; } >/dev/null 2>&1 ||
		die "could not install python3-jsonschema; install Python's jsonschema and run again"
}
command -v node >/dev/null 2>&1 || die "node is needed for the ajv column; install Node.js 18 or later"
AJV_DIR="$DATALFS_CACHE/bench-validate/ajv-$AJV_VERSION"
if [ ! -f "$AJV_DIR/node_modules/ajv/package.json" ]; then
	log "installing ajv@$AJV_VERSION from npm into $AJV_DIR"
	mkdir -p "$AJV_DIR"
	npm install --prefix "$AJV_DIR" --no-audit --no-fund --silent "ajv@$AJV_VERSION" >/dev/null ||
		die "could not install ajv@$AJV_VERSION from npm"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-bench-validate.XXXXXX")
on_exit rm -rf "$WORK"
log "building datalfs"
(cd "$DATALFS_ROOT" && go build -o "$WORK/datalfs" ./cmd/datalfs)

MANIFEST="$WORK/bench.manifest"
log "generating $LINES lines"
python3 "$HERE/gen.py" "$LINES" "$MANIFEST" "$WORK/expected.txt"
SIZE_MB=$(($(stat -c %s "$MANIFEST") / 1048576))
EXPECTED=$(wc -l <"$WORK/expected.txt")

# measure NAME CMD...: runs CMD under /usr/bin/time -v with stdout to $WORK/NAME.out and records
# wall seconds, CPU seconds and max RSS; with ROUNDS > 1 (and NAME not python) it keeps the round
# with the shortest wall time, since other load on the machine only ever adds time.
declare -A SECS RSS CPU
measure() {
	local name=$1
	shift
	local rounds=$ROUNDS
	[ "$name" = python ] && rounds=1
	local r
	for ((r = 1; r <= rounds; r++)); do
		log "running $name (round $r of $rounds)"
		set +e
		/usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
		local rc=$?
		set -e
		# datalfs exits 1 when it finds problems, which it should here.
		if [ "$rc" -gt 1 ]; then
			cat "$WORK/$name.err" >&2
			die "$name failed with exit status $rc"
		fi
		local secs cpu rss
		secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {
			n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$WORK/$name.time")
		cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$WORK/$name.time")
		rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$name.time")
		if [ -z "${SECS[$name]:-}" ] || awk "BEGIN { exit !($secs < ${SECS[$name]}) }"; then
			SECS[$name]=$secs
			CPU[$name]=$cpu
		fi
		if [ -z "${RSS[$name]:-}" ] || [ "$rss" -gt "${RSS[$name]}" ]; then RSS[$name]=$rss; fi
	done
}

measure datalfs "$WORK/datalfs" manifest validate --schema "$HERE/schema.json" --max-problems 100000000 "$MANIFEST"
measure datalfs-1core "$WORK/datalfs" manifest validate --jobs 1 --schema "$HERE/schema.json" --max-problems 100000000 "$MANIFEST"
measure ajv env NODE_PATH="$AJV_DIR/node_modules" node "$HERE/validate.js" "$HERE/schema.json" "$MANIFEST"
measure python python3 "$HERE/validate.py" "$HERE/schema.json" "$MANIFEST"

# Bad line numbers each tool found, compared with what the generator spoiled.
for name in datalfs datalfs-1core; do
	awk -F: -v f="$MANIFEST" '$1 == f && $2 ~ /^[0-9]+$/ { print $2 }' "$WORK/$name.out" | sort -un >"$WORK/$name.lines"
done
for name in ajv python; do sort -un "$WORK/$name.out" >"$WORK/$name.lines"; done
sort -un "$WORK/expected.txt" >"$WORK/expected.lines"

printf '\n%s lines (%s MiB), %s bad records; %s cores; %s; best of %s rounds (python: 1)\n\n' \
	"$LINES" "$SIZE_MB" "$EXPECTED" "$(nproc)" "$(date -u +%Y-%m-%d)" "$ROUNDS"
printf '| %-28s | %8s | %8s | %10s | %9s | %10s | %-10s |\n' tool seconds "CPU s" "lines/s" "peak MiB" "vs python" "bad lines"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------------ ---------- ---------- ------------ ----------- ------------ ------------
status=0
for name in datalfs datalfs-1core ajv python; do
	label=$name
	case $name in
	datalfs) label="datalfs ($(nproc) workers)" ;;
	datalfs-1core) label="datalfs (--jobs 1)" ;;
	ajv) label="ajv $AJV_VERSION (node $(node --version))" ;;
	python) label="jsonschema $(python3 -c 'import importlib.metadata as m; print(m.version("jsonschema"))') (py)" ;;
	esac
	if cmp -s "$WORK/$name.lines" "$WORK/expected.lines"; then same="same"; else same="DIFFERENT"; status=1; fi
	printf '| %-28s | %8s | %8s | %10s | %9s | %9sx | %-10s |\n' "$label" "${SECS[$name]}" "${CPU[$name]}" \
		"$(awk -v l="$LINES" -v s="${SECS[$name]}" 'BEGIN { printf "%.0f", l / s }')" "${RSS[$name]}" \
		"$(awk -v p="${SECS[python]}" -v s="${SECS[$name]}" 'BEGIN { printf "%.1f", p / s }')" "$same"
done
echo

# The goals from issue 3.
goal() { if awk "BEGIN { exit !($2) }"; then echo "goal met:    $1"; else echo "goal missed: $1"; fi; }
goal ">= 10x Python jsonschema" "${SECS[python]} / ${SECS[datalfs]} >= 10"
goal ">= ajv" "${SECS[ajv]} >= ${SECS[datalfs]}"
goal "peak memory < 200 MB" "${RSS[datalfs]} < 200"
if [ "$status" != 0 ]; then
	for name in datalfs datalfs-1core ajv python; do
		if ! cmp -s "$WORK/$name.lines" "$WORK/expected.lines"; then
			echo "$name: bad lines differ from the generator's (first differences):" >&2
			diff "$WORK/expected.lines" "$WORK/$name.lines" | head -5 >&2
		fi
	done
	die "the validators disagree about which lines are bad"
fi
