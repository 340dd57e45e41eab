#!/usr/bin/env bash
# scripts/bench-transfer.sh: how fast datalfs moves data compared with the tools a user would pick
# instead, on one local S3-compatible server (versitygw on 127.0.0.1), in one run.
#
# Data sets: 1 file of 1 GiB, 200 files of 5 MiB, 5,000 files of 4 KiB.
# Tools, interleaved per data set so machine drift hits all alike:
#   datalfs  git push through the agent / fresh clone + git lfs pull
#   rclone   rclone copy (Debian package) with parallel settings (--transfers 16, 16 MiB chunks x 8)
#   aws      aws s3 cp --recursive (the aws CLI on this machine, default settings)
#   sdk      plain aws-sdk-go-v2 PutObject/GetObject, 16 at a time: the machine's ceiling
# Every download is compared byte for byte with the source (diff -r): a fast wrong answer fails.
# Prints MiB/s, files/s, the peak memory (PSS) of all datalfs agent processes together, and the ratio
# datalfs / best other tool (above 1 means datalfs is faster).
#
#   scripts/bench-transfer.sh               # full size (about 10 minutes on 2 cores)
#   BENCH_QUICK=1 scripts/bench-transfer.sh # small data sets, to check the script
#   ROUNDS=2 scripts/bench-transfer.sh      # best of 2 rounds per cell
set -euo pipefail
source "$(dirname "$0")/setup.sh"

ROUNDS=${ROUNDS:-1}
if [ -n "${BENCH_QUICK:-}" ]; then
	SETS=("big:1:64M" "medium:20:5M" "small:500:4K")
else
	SETS=("big:1:1G" "medium:200:5M" "small:5000:4K")
fi

ensure_git_lfs
ensure_versitygw
if ! command -v rclone >/dev/null 2>&1; then
	log "installing rclone (Debian package)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone; } >/dev/null 2>&1 ||
		die "could not install rclone with apt-get; install it and run again"
fi
HAVE_AWS=1
command -v aws >/dev/null 2>&1 || { HAVE_AWS=0; log "no aws CLI on this machine: its column is left out"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-bench.XXXXXX")
on_exit rm -rf "$WORK"
mkdir -p "$WORK/bin"
log "building datalfs and the SDK ceiling tool"
(cd "$DATALFS_ROOT" && go build -o "$WORK/bin/datalfs" ./cmd/datalfs && go build -o "$WORK/bin/sdkcopy" ./scripts/bench/sdkcopy &&
	go build -o "$WORK/bin/s3tool" ./integration/cmd/s3tool)

start_versitygw "$WORK/s3"
export AWS_ACCESS_KEY_ID=$VGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VGW_SECRET_KEY AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
BUCKET=bench
"$WORK/bin/s3tool" -endpoint "$VGW_ENDPOINT" mb "$BUCKET" >/dev/null

# A sealed git environment: our HOME, no system config, the pinned git-lfs first on PATH.
export HOME=$WORK/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export PATH="$WORK/bin:$(dirname "$GIT_LFS_BIN"):$PATH"
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
git lfs install >/dev/null
datalfs install --global --url "$VGW_ENDPOINT/$BUCKET" >/dev/null

# rclone: configured from the environment. versitygw stalls on rclone's "100-Continue" (capital C)
# for a second per request unless the wait is off; rclone 1.60 cannot load the machine's CA bundle.
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$VGW_ENDPOINT
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$VGW_ACCESS_KEY RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$VGW_SECRET_KEY
export RCLONE_EXPECT_CONTINUE_TIMEOUT=0 RCLONE_CONFIG=/dev/null
RCLONE_FLAGS=(--transfers 16 --checkers 16 --s3-upload-concurrency 8 --s3-chunk-size 16M --s3-upload-cutoff 16M -q)

now() { date +%s.%N; }

# Peak memory of all datalfs processes together, sampled every 50 ms while $1 runs. It is the sum of
# their proportional set sizes (PSS: private pages plus a share of the pages they share, such as the
# binary's code), which is what the processes really take; a sum of RSS counts shared pages 8 times.
PEAK_FILE=$WORK/peak
with_peak() {
	echo 0 >"$PEAK_FILE"
	(
		set +e +o pipefail # ps finds no process between agents: not an error
		peak=0
		while :; do
			kb=0
			for pid in $(pgrep -x datalfs); do
				kb=$((kb + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
			done
			[ "$kb" -gt "$peak" ] && peak=$kb && echo "$peak" >"$PEAK_FILE"
			sleep 0.05
		done
	) &
	local sampler=$!
	local rc=0
	"$@" || rc=$?
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	return $rc
}

# run_timed VAR CMD...: runs CMD and stores its wall time in seconds in VAR.
run_timed() {
	local var=$1
	shift
	local t0 t1
	t0=$(now)
	"$@"
	t1=$(now)
	printf -v "$var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}')"
}

verify() { # verify SRC DST: every byte equal
	diff -rq "$1" "$2" >/dev/null || die "downloaded data in $2 differs from the source $1"
}

declare -A BEST # BEST[set,dir,tool] = best seconds
record() {
	local key="$1,$2,$3" secs=$4
	if [ -z "${BEST[$key]:-}" ] || awk -v a="$secs" -v b="${BEST[$key]}" 'BEGIN {exit !(a < b)}'; then
		BEST[$key]=$secs
	fi
}
declare -A PEAK

bench_set() {
	local name=$1 count=$2 size=$3
	local src=$WORK/data/$name
	log "data set $name: $count x $size"
	mkdir -p "$src"
	for i in $(seq 1 "$count"); do
		head -c "$size" /dev/urandom >"$src/f$i.bin"
	done
	BYTES[$name]=$(du -sb "$src" | cut -f1)
	FILES[$name]=$count

	# A repository holding the data set in LFS, committed (not timed).
	local repo=$WORK/repo-$name
	git init -q "$repo"
	(cd "$repo" && git lfs track '*.bin' >/dev/null && mkdir data && cp "$src"/* data/ && git add . && git commit -qm data)

	for round in $(seq 1 "$ROUNDS"); do
		local p="$name-r$round" secs
		# --- upload ---
		log "  round $round upload: datalfs"
		# A new remote and prefix per round: git-lfs pushes only what the remote lacks.
		local remote=$WORK/remote-$p.git
		git init -q --bare "$remote"
		git -C "$repo" remote remove origin 2>/dev/null || true
		git -C "$repo" remote add origin "$remote"
		git -C "$repo" config lfs.url "$VGW_ENDPOINT/$BUCKET/datalfs-$p"
		run_timed secs with_peak git -C "$repo" push -q origin main
		record "$name" up datalfs "$secs"
		PEAK[$name,up]=$(( $(cat "$PEAK_FILE") > ${PEAK[$name,up]:-0} ? $(cat "$PEAK_FILE") : ${PEAK[$name,up]:-0} ))
		log "  round $round upload: rclone"
		run_timed secs env -u AWS_CA_BUNDLE rclone copy "${RCLONE_FLAGS[@]}" "$src" "bench:$BUCKET/rclone-$p"
		record "$name" up rclone "$secs"
		if [ "$HAVE_AWS" = 1 ]; then
			log "  round $round upload: aws"
			run_timed secs aws s3 cp --recursive --quiet --endpoint-url "$VGW_ENDPOINT" "$src" "s3://$BUCKET/aws-$p/"
			record "$name" up aws "$secs"
		fi
		log "  round $round upload: sdk"
		run_timed secs sdkcopy -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -prefix "sdk-$p" put "$src"
		record "$name" up sdk "$secs"

		# --- download ---
		local dst=$WORK/down-$p
		log "  round $round download: datalfs"
		GIT_LFS_SKIP_SMUDGE=1 git clone -q "$remote" "$dst-datalfs"
		git -C "$dst-datalfs" config lfs.url "$VGW_ENDPOINT/$BUCKET/datalfs-$p"
		# git lfs pull is fetch (the agent downloads; git-lfs hashes and moves each file into
		# .git/lfs/objects) then checkout (git-lfs copies into the work tree; git re-hashes it).
		# Timed apart to show where the time goes; the datalfs column is their sum.
		local fetch co
		run_timed fetch with_peak git -C "$dst-datalfs" lfs fetch
		run_timed co git -C "$dst-datalfs" lfs checkout
		verify "$src" "$dst-datalfs/data"
		record "$name" down datalfs "$(awk -v a="$fetch" -v b="$co" 'BEGIN {printf "%.3f", a+b}')"
		record "$name" down fetch "$fetch"
		PEAK[$name,down]=$(( $(cat "$PEAK_FILE") > ${PEAK[$name,down]:-0} ? $(cat "$PEAK_FILE") : ${PEAK[$name,down]:-0} ))
		log "  round $round download: datalfs export"
		# The files of the commit into a directory, from a clone with no checkout: the path for
		# training machines (no LFS store, each byte written once).
		git clone -q --no-checkout "$remote" "$dst-export-repo"
		git -C "$dst-export-repo" config lfs.url "$VGW_ENDPOINT/$BUCKET/datalfs-$p"
		run_timed secs with_peak sh -c 'cd "$1" && datalfs export -o "$2" >/dev/null' sh "$dst-export-repo" "$dst-export"
		verify "$src" "$dst-export/data"
		record "$name" down export "$secs"
		log "  round $round download: rclone"
		run_timed secs env -u AWS_CA_BUNDLE rclone copy "${RCLONE_FLAGS[@]}" "bench:$BUCKET/rclone-$p" "$dst-rclone"
		verify "$src" "$dst-rclone"
		record "$name" down rclone "$secs"
		if [ "$HAVE_AWS" = 1 ]; then
			log "  round $round download: aws"
			run_timed secs aws s3 cp --recursive --quiet --endpoint-url "$VGW_ENDPOINT" "s3://$BUCKET/aws-$p/" "$dst-aws"
			verify "$src" "$dst-aws"
			record "$name" down aws "$secs"
		fi
		log "  round $round download: sdk"
		mkdir -p "$dst-sdk"
		run_timed secs sdkcopy -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -prefix "sdk-$p" get "$dst-sdk"
		verify "$src" "$dst-sdk"
		record "$name" down sdk "$secs"
		rm -rf "$dst"-*
	done
	rm -rf "$src" "$repo"
}

declare -A BYTES FILES
for spec in "${SETS[@]}"; do
	IFS=: read -r name count size <<<"$spec"
	# Each data set is generated, measured and deleted in turn, to bound disk use.
	bench_set "$name" "$count" "$size"
done

tools=(datalfs rclone)
[ "$HAVE_AWS" = 1 ] && tools+=(aws)
tools+=(sdk)
rate() { awk -v b="$1" -v f="$2" -v s="$3" 'BEGIN {printf "%.0f (%.0f)", b/1048576/s, f/s}'; }
printf '\n%s, %s cores, %s, best of %s round(s); MiB/s (files/s)\n' "$(date -u +%Y-%m-%d)" "$(nproc)" "versitygw $VERSITYGW_VERSION on loopback" "$ROUNDS"
printf '| data set | direction |'
for t in "${tools[@]}"; do printf ' %s |' "$t"; done
printf ' datalfs / best other | datalfs fetch alone | datalfs export | export / best other | datalfs peak PSS |\n|---|---|'
for _ in "${tools[@]}"; do printf -- '---|'; done
printf -- '---|---|---|---|---|\n'
for spec in "${SETS[@]}"; do
	IFS=: read -r name count size <<<"$spec"
	for dir in up down; do
		printf '| %s x %s | %s |' "$count" "$size" "$dir"
		best_other=
		for t in "${tools[@]}"; do
			secs=${BEST[$name,$dir,$t]}
			printf ' %s |' "$(rate "${BYTES[$name]}" "${FILES[$name]}" "$secs")"
			if [ "$t" != datalfs ] && [ "$t" != sdk ]; then
				if [ -z "$best_other" ] || awk -v a="$secs" -v b="$best_other" 'BEGIN {exit !(a < b)}'; then
					best_other=$secs
				fi
			fi
		done
		fetch_alone=- exp_rate=- exp_ratio=-
		if [ "$dir" = down ]; then
			fetch_alone=$(rate "${BYTES[$name]}" "${FILES[$name]}" "${BEST[$name,down,fetch]}")
			exp_rate=$(rate "${BYTES[$name]}" "${FILES[$name]}" "${BEST[$name,down,export]}")
			exp_ratio=$(awk -v o="$best_other" -v d="${BEST[$name,down,export]}" 'BEGIN {printf "%.2f", o/d}')
		fi
		printf ' %s | %s | %s | %s | %s MiB |\n' "$(awk -v o="$best_other" -v d="${BEST[$name,$dir,datalfs]}" 'BEGIN {printf "%.2f", o/d}')" \
			"$fetch_alone" "$exp_rate" "$exp_ratio" "$(( ${PEAK[$name,$dir]:-0} / 1024 ))"
	done
done
