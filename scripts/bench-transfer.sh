#!/usr/bin/env bash
# scripts/bench-transfer.sh: how fast datalfs moves data compared with the tools a user would pick
# instead, and with git-lfs's own floor, on one local S3-compatible server (versitygw on 127.0.0.1),
# in one interleaved run. The goals of issue 14 come out as ratios per cell.
#
# Data sets (BENCH_SETS picks some, in this order): big 1 x 1 GiB, medium 200 x 5 MiB,
# small 5,000 x 4 KiB (BENCH_QUICK=1: 1 x 32 MiB, 10 x 5 MiB, 200 x 4 KiB).
# In each round of each set, every tool runs once, up then down, so machine drift hits all alike:
#   datalfs   git push through the agent; skip-smudge clone + git lfs pull; a second such clone with
#             git lfs fetch and git lfs checkout timed apart; datalfs export from a --no-checkout clone
#   file      git-lfs's own file:// transfer (lfs.url=file:///...): the same push, pull, and fetch +
#             checkout. No network and no agent: the ceiling of anything that goes through git-lfs
#   aws       aws s3 cp --recursive (the aws CLI on this machine, default settings), if installed
#   rclone    rclone copy (Debian package), --transfers 16 --checkers 16, 16 MiB chunks x 8
#   s5cmd     s5cmd 2.3.0 cp (built into ~/.cache/datalfs/bin), default settings
#   sdk       plain aws-sdk-go-v2 PutObject/GetObject, 16 at a time, no hashing: the machine's
#             ceiling, not a tool a user would pick, so never the "best raw" reference
# Every download (and every export) is compared byte for byte with the source (diff -r): a fast wrong
# answer fails the run. Before each timed step the file system is synced (untimed), so no tool pays
# for writing back the previous one's data; between a fetch and its checkout it is not, as in a pull.
# The peak memory is the sum of the proportional set sizes (PSS) of all datalfs processes of this
# run (the agents git-lfs starts, or export), sampled every 50 ms.
#
# Output on stdout, ready to paste into docs/benchmarks.md: a table of median seconds (tools x
# cells) and a table of the goals (cell, ratio, goal, met or missed). Progress goes to stderr.
#
#   scripts/bench-transfer.sh                          # full size, 1 round (about 8 minutes on 2 quiet cores)
#   ROUNDS=3 scripts/bench-transfer.sh >bench.md       # median of 3 rounds per cell (about 25 minutes)
#   BENCH_SETS=big,medium scripts/bench-transfer.sh    # only some sets
#   BENCH_QUICK=1 scripts/bench-transfer.sh            # small sets, to check the script (< 3 minutes)
# shellcheck disable=SC2016 # backquotes in single quotes are markdown for the printed tables
set -euo pipefail
# shellcheck source=scripts/setup.sh
source "$(dirname "$0")/setup.sh"

ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]?$ ]] || die "ROUNDS must be a number from 1 to 99, not '$ROUNDS'"
declare -A SPEC # SPEC[set] = count:size (size as head -c takes it)
if [ -n "${BENCH_QUICK:-}" ]; then
	SPEC=([big]=1:32M [medium]=10:5M [small]=200:4K)
else
	SPEC=([big]=1:1G [medium]=200:5M [small]=5000:4K)
fi
SETS=()
IFS=, read -ra wanted <<<"${BENCH_SETS:-big,medium,small}"
for w in "${wanted[@]}"; do
	[[ -z $w || -n ${SPEC[$w]:-} ]] || die "BENCH_SETS: unknown set '$w' (big, medium, small, comma-separated)"
done
for s in big medium small; do # fixed order, each once
	for w in "${wanted[@]}"; do [ "$w" = "$s" ] && SETS+=("$s") && break; done
done
((${#SETS[@]} > 0)) || die "BENCH_SETS names no set (big, medium, small, comma-separated)"

# Figures of tools that are not installed here (lfs-s3, awslabs git-lfs-s3, DVC): the best of them
# per cell, seconds, full-size sets, from the run quoted in issue 14. They are printed labelled as
# an earlier run, never as a measurement of this one, and only when the sets are full size.
declare -A EARLIER=([big,up]=5.69 [big,down]=8.25 [medium,up]=4.83 [medium,down]=5.97 [small,up]=9.99 [small,down]=7.49)

ensure_git_lfs
ensure_versitygw
ensure_s5cmd
if ! command -v rclone >/dev/null 2>&1; then
	log "installing rclone (Debian package)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone; } >/dev/null 2>&1 ||
		die "could not install rclone with apt-get; install it and run again"
fi
HAVE_AWS=1
command -v aws >/dev/null 2>&1 || { HAVE_AWS=0; log "no aws CLI on this machine: its row is left out"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-bench.XXXXXX")
on_exit rm -rf "$WORK"
SAMPLER=
on_exit '[ -z "$SAMPLER" ] || kill "$SAMPLER" 2>/dev/null'
mkdir -p "$WORK/bin"
log "building datalfs and the SDK ceiling tool"
(cd "$DATALFS_ROOT" && go build -o "$WORK/bin/datalfs" ./cmd/datalfs && go build -o "$WORK/bin/sdkcopy" ./scripts/bench/sdkcopy &&
	go build -o "$WORK/bin/s3tool" ./integration/cmd/s3tool)
ln -s "$S5CMD_BIN" "$WORK/bin/s5cmd"

start_versitygw "$WORK/s3"
export AWS_ACCESS_KEY_ID=$VGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VGW_SECRET_KEY AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
BUCKET=bench
"$WORK/bin/s3tool" -endpoint "$VGW_ENDPOINT" mb "$BUCKET" >/dev/null

# A sealed git environment: our HOME, no system config, the pinned git-lfs first on PATH.
export HOME=$WORK/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
PATH="$WORK/bin:$(dirname "$GIT_LFS_BIN"):$PATH"
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
git lfs install >/dev/null
# The agent is bound to URLs under the bucket only, so lfs.url=file://... stays git-lfs's own.
datalfs install --global --url "$VGW_ENDPOINT/$BUCKET" >/dev/null

# rclone: configured from the environment. versitygw stalls on rclone's "100-Continue" (capital C)
# for a second per request unless the wait is off; rclone 1.60 cannot load the machine's CA bundle.
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$VGW_ENDPOINT
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$VGW_ACCESS_KEY RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$VGW_SECRET_KEY
export RCLONE_EXPECT_CONTINUE_TIMEOUT=0 RCLONE_CONFIG=/dev/null
RCLONE_FLAGS=(--transfers 16 --checkers 16 --s3-upload-concurrency 8 --s3-chunk-size 16M --s3-upload-cutoff 16M -q)

RAW=(rclone s5cmd)
[ "$HAVE_AWS" = 1 ] && RAW=(aws "${RAW[@]}")

# ---- measuring -----------------------------------------------------------------------------------

# with_peak CMD...: runs CMD while sampling the PSS of this run's datalfs processes every 50 ms; the
# peak of their sum (KiB) is left in $PEAK_FILE. PSS counts pages shared between the processes (the
# binary's code) once in all, where a sum of RSS would count them once per process. Other users of
# this machine may run datalfs too: only processes of our binary count. The sampler forks nothing
# but sleep, so that on a busy machine it still sees an export that lasts a second.
PEAK_FILE=$WORK/peak
with_peak() {
	echo 0 >"$PEAK_FILE"
	(
		set +e +o pipefail # processes come and go between reads: not an error
		bin=$WORK/bin/datalfs peak=0
		while :; do
			kb=0
			for exe in /proc/[0-9]*/exe; do
				[ "$exe" -ef "$bin" ] || continue
				while read -r key val _; do
					[ "$key" = Pss: ] && kb=$((kb + val)) && break
				done 2>/dev/null <"${exe%/exe}/smaps_rollup"
			done
			[ "$kb" -gt "$peak" ] && peak=$kb && echo "$peak" >"$PEAK_FILE"
			sleep 0.05
		done
	) &
	SAMPLER=$!
	local rc=0
	"$@" || rc=$?
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	SAMPLER=
	return $rc
}

declare -A SAMPLES # SAMPLES[set,step] = seconds of each round, space-separated
declare -A PEAK    # PEAK[set,phase] = highest peak PSS in KiB over the rounds

# timed SET STEP CMD...: runs CMD and adds its wall time to the samples of STEP.
timed() {
	local set=$1 step=$2 t0 secs
	shift 2
	t0=$EPOCHREALTIME
	"$@" >&2 # stdout is for the tables (git-lfs prints progress there)
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b-a}')
	SAMPLES[$set,$step]+="$secs "
	log "    $step: $secs s"
}

# peaked SET PHASE STEP CMD...: timed, with the agents' peak memory kept for PHASE.
peaked() {
	local set=$1 phase=$2
	timed "$1" "$3" with_peak "${@:4}"
	local kb
	kb=$(cat "$PEAK_FILE")
	log "    $phase: peak PSS $((kb / 1024)) MiB"
	((kb > ${PEAK[$set,$phase]:-0})) && PEAK[$set,$phase]=$kb
	return 0
}

# settle: write back every dirty page of the work file system (untimed), so the next tool does not
# pay for the previous one's data.
settle() { sync -f "$WORK" 2>/dev/null || sync; }

verify() { # verify SRC DST: every byte equal, no file missing or extra
	diff -rq "$1" "$2" >/dev/null || die "the data in $2 differs from the source $1"
}

# clone_lfs SRC DST LFSURL [git clone flags]: a clone of SRC without LFS content, bound to LFSURL.
clone_lfs() {
	GIT_LFS_SKIP_SMUDGE=1 git clone -q "${@:4}" "$1" "$2"
	git -C "$2" config lfs.url "$3"
}

export_into() { (cd "$1" && datalfs export -o "$2" >/dev/null); }

# ---- one data set --------------------------------------------------------------------------------

bench_set() {
	local set=$1 count size
	IFS=: read -r count size <<<"${SPEC[$set]}"
	local src=$WORK/data/$set
	log "data set $set: $count x $size"
	mkdir -p "$src"
	for i in $(seq 1 "$count"); do
		head -c "$size" /dev/urandom >"$src/f$i.bin"
	done

	# A repository holding the data set in LFS, committed (not timed).
	local repo=$WORK/repo-$set
	git init -q "$repo"
	(cd "$repo" && git lfs track '*.bin' >/dev/null && mkdir data && cp "$src"/* data/ && git add . && git commit -qm data)

	local round
	for round in $(seq 1 "$ROUNDS"); do
		log "  $set, round $round of $ROUNDS"
		# New remotes and prefixes per round: git-lfs pushes only what the remote lacks.
		local p="$set-r$round" d=$WORK/down
		local s3url=$VGW_ENDPOINT/$BUCKET/datalfs-$p remote=$WORK/remote-$p.git
		local fileremote=$WORK/file-$p.git
		git init -q --bare "$remote"
		git init -q --bare "$fileremote"

		# ---- up ----
		git -C "$repo" config lfs.url "$s3url"
		settle && peaked "$set" push datalfs-up git -C "$repo" push -q "$remote" main
		git -C "$repo" config lfs.url "file://$fileremote"
		# Pushed to a file:// URL, not a path: git-lfs's file adapter takes only file:// remotes.
		settle && timed "$set" file-up git -C "$repo" push -q "file://$fileremote" main
		if [ "$HAVE_AWS" = 1 ]; then
			settle && timed "$set" aws-up aws s3 cp --recursive --quiet --endpoint-url "$VGW_ENDPOINT" "$src" "s3://$BUCKET/aws-$p/"
		fi
		settle && timed "$set" rclone-up env -u AWS_CA_BUNDLE rclone copy "${RCLONE_FLAGS[@]}" "$src" "bench:$BUCKET/rclone-$p"
		settle && timed "$set" s5cmd-up s5cmd --log error --endpoint-url "$VGW_ENDPOINT" cp "$src/" "s3://$BUCKET/s5cmd-$p/"
		settle && timed "$set" sdk-up sdkcopy -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -prefix "sdk-$p" put "$src"

		# ---- down ----
		# git lfs pull = fetch (the agent downloads; git-lfs hashes each object and moves it into
		# .git/lfs/objects) + checkout (git-lfs copies it into the working tree; git hashes it again).
		clone_lfs "$remote" "$d" "$s3url"
		settle && peaked "$set" pull datalfs-pull git -C "$d" lfs pull
		verify "$src" "$d/data" && rm -rf "$d"
		clone_lfs "$remote" "$d" "$s3url"
		settle && peaked "$set" fetch datalfs-fetch git -C "$d" lfs fetch
		timed "$set" datalfs-co git -C "$d" lfs checkout
		verify "$src" "$d/data" && rm -rf "$d"

		clone_lfs "$fileremote" "$d" "file://$fileremote"
		settle && timed "$set" file-pull git -C "$d" lfs pull
		verify "$src" "$d/data" && rm -rf "$d"
		clone_lfs "$fileremote" "$d" "file://$fileremote"
		settle && timed "$set" file-fetch git -C "$d" lfs fetch
		timed "$set" file-co git -C "$d" lfs checkout
		verify "$src" "$d/data" && rm -rf "$d"

		# The files of the commit into a directory, from a clone with no checkout: the path for
		# training machines (no LFS store, each byte written once).
		clone_lfs "$remote" "$d-repo" "$s3url" --no-checkout
		settle && peaked "$set" export export export_into "$d-repo" "$d"
		verify "$src" "$d/data" && rm -rf "$d" "$d-repo"

		if [ "$HAVE_AWS" = 1 ]; then
			settle && timed "$set" aws-down aws s3 cp --recursive --quiet --endpoint-url "$VGW_ENDPOINT" "s3://$BUCKET/aws-$p/" "$d"
			verify "$src" "$d" && rm -rf "$d"
		fi
		settle && timed "$set" rclone-down env -u AWS_CA_BUNDLE rclone copy "${RCLONE_FLAGS[@]}" "bench:$BUCKET/rclone-$p" "$d"
		verify "$src" "$d" && rm -rf "$d"
		settle && timed "$set" s5cmd-down s5cmd --log error --endpoint-url "$VGW_ENDPOINT" cp "s3://$BUCKET/s5cmd-$p/*" "$d/"
		verify "$src" "$d" && rm -rf "$d"
		mkdir -p "$d"
		settle && timed "$set" sdk-down sdkcopy -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -prefix "sdk-$p" get "$d"
		verify "$src" "$d" && rm -rf "$d"

		# This round's objects, straight off the server's disk (posix backend, unversioned
		# bucket), to bound disk use.
		rm -rf "$remote" "$fileremote" "$WORK/s3/root/$BUCKET/"*-"$p"
	done
	rm -rf "$src" "$repo"
}

START=$SECONDS
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for set in "${SETS[@]}"; do
	# Each data set is generated, measured and deleted in turn, to bound disk use.
	bench_set "$set"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
log "measured in $((SECONDS - START)) s"

# ---- report --------------------------------------------------------------------------------------

# The median of each step's samples in seconds (mean of the middle two for an even count), one awk
# per step: forks are slow on a busy machine.
declare -A MED
for key in "${!SAMPLES[@]}"; do
	MED[$key]=$(awk '{
		n = split($0, a, " ")
		for (i = 2; i <= n; i++) { v = a[i] + 0; for (j = i - 1; j > 0 && a[j] + 0 > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
		if (n % 2) printf "%.3f", a[(n + 1) / 2]; else printf "%.3f", (a[n / 2] + a[n / 2 + 1]) / 2
	}' <<<"${SAMPLES[$key]}")
done
med() { printf '%s' "${MED[$1,$2]:-}"; } # med SET STEP: the median, or nothing when the step did not run
sec() { # sec SET STEP: the median to two decimals, or "-"
	local m
	m=$(med "$1" "$2")
	if [ -n "$m" ]; then printf '%.2f' "$m"; else printf -- '-'; fi
}
# best_raw SET DIR: "seconds tool" of the fastest raw copy tool (aws, rclone, s5cmd) in DIR.
best_raw() {
	local t m best='' who=
	for t in "${RAW[@]}"; do
		m=$(med "$1" "$t-$2")
		if [ -z "$best" ] || awk -v a="$m" -v b="$best" 'BEGIN {exit !(a < b)}'; then
			best=$m who=$t
		fi
	done
	echo "$best $who"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
human() { # 1G -> 1 GiB
	local n=${1%[GMK]}
	case $1 in *G) echo "$n GiB" ;; *M) echo "$n MiB" ;; *K) echo "$n KiB" ;; *) echo "$1" ;; esac
}
cell() { # cell SET DIR: the column title
	local count size
	IFS=: read -r count size <<<"${SPEC[$1]}"
	printf '%s x %s %s' "$(printf "%'d" "$count")" "$(human "$size")" "$2"
}
FULL=1
[ -z "${BENCH_QUICK:-}" ] || FULL=0

row() { # row TITLE UPSTEPS DOWNSTEPS: one table row; steps joined by " / " in a cell, "" for none
	local title=$1 up=$2 down=$3 set dir steps out s
	printf '| %s |' "$title"
	for set in "${SETS[@]}"; do
		for dir in up down; do
			if [ "$dir" = up ]; then steps=$up; else steps=$down; fi
			out=
			for s in $steps; do out+="${out:+ / }$(sec "$set" "$s")"; done
			printf ' %s |' "$out"
		done
	done
	printf '\n'
}

GIT_LFS_V=$(git lfs version | awk 'NR == 1 {print $1}')
RCLONE_V=$(rclone --version | awk 'NR == 1 {print $2}') # awk reads it all: no SIGPIPE under pipefail
printf '\n%s; %s cores; versitygw %s on 127.0.0.1 with --keep-alive; %s; median of %s round(s); seconds; load average %s before, %s after\n\n' \
	"$(date -u +%Y-%m-%d)" "$(nproc)" "$VERSITYGW_VERSION" "$GIT_LFS_V" "$ROUNDS" "$LOAD_BEFORE" "$LOAD_AFTER"
[ "$FULL" = 1 ] || printf 'BENCH_QUICK: small sets, for checking the script; not figures to quote.\n\n'
printf '| |'
for set in "${SETS[@]}"; do printf ' %s | %s |' "$(cell "$set" up)" "$(cell "$set" down)"; done
printf '\n|---|'
for _ in "${SETS[@]}"; do printf -- '---|---|'; done
printf '\n'
row 'datalfs (`git push`; skip-smudge clone + `git lfs pull`)' datalfs-up datalfs-pull
row 'datalfs `git lfs fetch` / `git lfs checkout` alone' '' 'datalfs-fetch datalfs-co'
row '`datalfs export` (from a `--no-checkout` clone)' '' export
row "git-lfs's own \`file://\` transfer: push; pull / fetch / checkout" file-up 'file-pull file-fetch file-co'
[ "$HAVE_AWS" = 1 ] && row "aws CLI $(aws --version 2>&1 | awk -F'[ /]' 'NR == 1 {print $2}')" aws-up aws-down
row "rclone ${RCLONE_V#v} (16 transfers)" rclone-up rclone-down
row "s5cmd ${S5CMD_VERSION#v}" s5cmd-up s5cmd-down
row 'plain aws-sdk-go-v2, 16 at a time, no hashing (ceiling, not a tool)' sdk-up sdk-down
if [ "$FULL" = 1 ]; then
	printf '| earlier run, not measured here: best other Git LFS-to-S3 or data-versioning tool (lfs-s3, awslabs git-lfs-s3, DVC; issue 14) |'
	for set in "${SETS[@]}"; do printf ' %s | %s |' "${EARLIER[$set,up]}" "${EARLIER[$set,down]}"; done
	printf '\n'
fi

mb() { awk -v k="${PEAK[$1,$2]:-0}" 'BEGIN {printf "%.0f", k * 1024 / 1e6}'; } # mb SET PHASE: peak PSS in MB

# goal CELL MEASURE RATIO OP LIMIT: one row of the goals table; OP is <= or <.
MISSED=0
goal() {
	local verdict=met
	awk -v r="$3" -v l="$5" -v op="$4" 'BEGIN {exit !(op == "<=" ? r <= l : r < l)}' || { verdict='**missed**' && MISSED=$((MISSED + 1)); }
	printf '| %s | %s | %s | %s %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$verdict"
}
printf '\nGoals (issue 14). Ratios are datalfs seconds / reference seconds: below 1 datalfs is faster.\n'
printf 'Raw copy tools: %s (the SDK ceiling is not one).\n\n' "${RAW[*]}"
printf '| cell | measure | ratio | goal | |\n|---|---|---|---|---|\n'
for set in "${SETS[@]}"; do
	read -r rawup rawupwho <<<"$(best_raw "$set" up)"
	read -r rawdown rawdownwho <<<"$(best_raw "$set" down)"
	up=$(cell "$set" up) down=$(cell "$set" down)
	goal "$up" "\`git push\` / best raw upload ($rawupwho $(printf '%.2f' "$rawup") s)" \
		"$(div "$(med "$set" datalfs-up)" "$rawup")" '<=' 1.00
	if [ "$FULL" = 1 ]; then
		goal "$down" "\`git lfs pull\` / best same-job tool (earlier run: ${EARLIER[$set,down]} s)" \
			"$(div "$(med "$set" datalfs-pull)" "${EARLIER[$set,down]}")" '<=' 1.00
	else
		printf '| %s | `git lfs pull` / best same-job tool | - | <= 1.00 | not measured: none installed; earlier figures are for the full sets |\n' "$down"
	fi
	floor=$(awk -v a="$rawdown" -v b="$(med "$set" file-fetch)" 'BEGIN {printf "%.3f", a + b}')
	goal "$down" "our \`git lfs fetch\` / (best raw download $rawdownwho + git-lfs's own \`file://\` fetch = $(printf '%.2f' "$floor") s)" \
		"$(div "$(med "$set" datalfs-fetch)" "$floor")" '<=' 1.20
	goal "$down" "\`git lfs checkout\` after our fetch / after git-lfs's own" \
		"$(div "$(med "$set" datalfs-co)" "$(med "$set" file-co)")" '<=' 1.10
	goal "$down" "\`datalfs export\` / best raw download ($rawdownwho $(printf '%.2f' "$rawdown") s)" \
		"$(div "$(med "$set" export)" "$rawdown")" '<=' 1.00
	goal "$up" "peak PSS of the agents together, MB (push)" "$(mb "$set" push)" '<' 300
	most=$(printf '%s\n' "$(mb "$set" pull)" "$(mb "$set" fetch)" "$(mb "$set" export)" | sort -n | tail -1)
	goal "$down" "peak PSS of the agents together, MB (pull $(mb "$set" pull), fetch $(mb "$set" fetch); export $(mb "$set" export))" "$most" '<' 300
done
printf '\nFor reference, not a goal: `git lfs pull` / git-lfs'"'"'s own `file://` pull:'
for set in "${SETS[@]}"; do
	printf ' %s: %s.' "$(cell "$set" down)" "$(div "$(med "$set" datalfs-pull)" "$(med "$set" file-pull)")"
done
printf '\n%s goal(s) missed.\n' "$MISSED"
