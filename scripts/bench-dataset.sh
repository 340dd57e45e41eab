#!/usr/bin/env bash
# scripts/bench-dataset.sh: dataset commands on one local versioned S3 server (versitygw, 127.0.0.1):
#   build   datalfs manifest build over a prefix of BUILD_N objects (default 100,000)
#   verify  datalfs manifest verify of that BUILD_N-record manifest
#   fetch   datalfs manifest fetch of FETCH_N small assets (default 10,000 of 1 KiB), against
#           rclone copy (--transfers 16) and aws s3 cp --recursive of the same prefix, in the same run
# Every fetched tree is compared with rclone's (diff -r). Prints objects/s per step.
#
#   scripts/bench-dataset.sh
#   BUILD_N=5000 FETCH_N=1000 scripts/bench-dataset.sh   # quick check of the script
set -euo pipefail
source "$(dirname "$0")/setup.sh"

BUILD_N=${BUILD_N:-100000}
FETCH_N=${FETCH_N:-10000}
SIZE=${SIZE:-1024}

ensure_git_lfs
ensure_versitygw
command -v rclone >/dev/null 2>&1 || die "no rclone: apt-get install rclone"
HAVE_AWS=1
command -v aws >/dev/null 2>&1 || { HAVE_AWS=0; log "no aws CLI on this machine: its row is left out"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-bench-dataset.XXXXXX")
on_exit rm -rf "$WORK"
mkdir -p "$WORK/bin"
log "building datalfs, mkobjects and s3tool"
(cd "$DATALFS_ROOT" && go build -o "$WORK/bin/datalfs" ./cmd/datalfs && go build -o "$WORK/bin/mkobjects" ./scripts/bench/mkobjects &&
	go build -o "$WORK/bin/s3tool" ./integration/cmd/s3tool)
export PATH="$WORK/bin:$(dirname "$GIT_LFS_BIN"):$PATH"

start_versitygw "$WORK/s3"
export AWS_ACCESS_KEY_ID=$VGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VGW_SECRET_KEY AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ENDPOINT_URL_S3=$VGW_ENDPOINT # buckets other than the LFS URL's resolve through it
BUCKET=bench
s3tool -endpoint "$VGW_ENDPOINT" mb "$BUCKET" >/dev/null

export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$VGW_ENDPOINT
export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$VGW_ACCESS_KEY RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$VGW_SECRET_KEY
export RCLONE_EXPECT_CONTINUE_TIMEOUT=0 RCLONE_CONFIG=/dev/null

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b-a}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n/s}'; }

log "creating $BUILD_N objects for build/verify and $FETCH_N for fetch (versioned bucket)"
mkobjects -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -versioning -prefix big -count "$BUILD_N" -size 64
mkobjects -endpoint "$VGW_ENDPOINT" -bucket "$BUCKET" -prefix small -count "$FETCH_N" -size "$SIZE"

export HOME=$WORK/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME" && git config --global user.name bench && git config --global user.email bench@example.invalid
REPO=$WORK/repo
git init -q "$REPO" && cd "$REPO"
echo '*.jsonl manifest-id=/id manifest-ref=/source-ref' >.gitattributes

ROWS=()
t0=$(now); datalfs manifest build -o big.jsonl "s3://$BUCKET/big" 2>/dev/null; t1=$(now)
if [ "$(wc -l <big.jsonl)" -ne "$BUILD_N" ]; then grep -o "\"id\":\"[^\"]*\"" big.jsonl | sort | uniq -d | head -3 >&2; die "build wrote $(wc -l <big.jsonl) records, want $BUILD_N"; fi
s=$(secs "$t0" "$t1"); ROWS+=("| build | datalfs manifest build | $BUILD_N | $s | $(rate "$BUILD_N" "$s") |")

t0=$(now); datalfs manifest verify big.jsonl >"$WORK/verify.out"; t1=$(now)
grep -q "$BUILD_N ok" "$WORK/verify.out" || die "verify: $(tail -1 "$WORK/verify.out")"
s=$(secs "$t0" "$t1"); ROWS+=("| verify | datalfs manifest verify | $BUILD_N | $s | $(rate "$BUILD_N" "$s") |")

datalfs manifest build -o small.jsonl "s3://$BUCKET/small" 2>/dev/null
git add . && git commit -qm bench

t0=$(now); datalfs manifest fetch -o "$WORK/f-datalfs" small.jsonl >"$WORK/fetch.out" 2>/dev/null; t1=$(now)
grep -q "$FETCH_N fetched" "$WORK/fetch.out" || die "fetch: $(tail -1 "$WORK/fetch.out")"
s=$(secs "$t0" "$t1"); DL=$s; ROWS+=("| fetch | datalfs manifest fetch (--jobs 16) | $FETCH_N | $s | $(rate "$FETCH_N" "$s") |")

t0=$(now); env -u AWS_CA_BUNDLE rclone copy --transfers 16 --checkers 16 -q "bench:$BUCKET/small" "$WORK/f-rclone"; t1=$(now)
s=$(secs "$t0" "$t1"); RC=$s; ROWS+=("| fetch | rclone copy --transfers 16 | $FETCH_N | $s | $(rate "$FETCH_N" "$s") |")
diff -rq "$WORK/f-datalfs" "$WORK/f-rclone" >/dev/null || die "datalfs and rclone fetched different trees"

if [ "$HAVE_AWS" = 1 ]; then
	t0=$(now); aws s3 cp --recursive --quiet --endpoint-url "$VGW_ENDPOINT" "s3://$BUCKET/small/" "$WORK/f-aws"; t1=$(now)
	s=$(secs "$t0" "$t1"); ROWS+=("| fetch | aws s3 cp --recursive | $FETCH_N | $s | $(rate "$FETCH_N" "$s") |")
	diff -rq "$WORK/f-datalfs" "$WORK/f-aws" >/dev/null || die "datalfs and aws fetched different trees"
fi

t0=$(now); datalfs manifest fetch -o "$WORK/f-datalfs" small.jsonl >/dev/null 2>&1; t1=$(now)
s=$(secs "$t0" "$t1"); ROWS+=("| fetch again | datalfs (all present, re-hashed) | $FETCH_N | $s | $(rate "$FETCH_N" "$s") |")

echo
echo "$(nproc) cores; $(date -u +%F); versitygw on 127.0.0.1, versioned bucket; objects of 64 B (build/verify) and $SIZE B (fetch)"
echo
echo "| step | tool | objects | seconds | objects/s |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
awk -v d="$DL" -v r="$RC" 'BEGIN { if (d <= r) printf "goal met: fetch not slower than rclone (%.2fx)\n", r/d; else printf "goal missed: fetch %.2fx slower than rclone\n", d/r }'
