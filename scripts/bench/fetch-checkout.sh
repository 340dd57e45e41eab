#!/usr/bin/env bash
# scripts/bench/fetch-checkout.sh: `git lfs fetch` then `git lfs checkout` of one large object, through
# the datalfs agent (loopback versitygw) and through git-lfs's own file:// transfer, interleaved, with
# the state of the fetched file recorded before checkout: extents (filefrag), allocated blocks, how
# much of it is in the page cache (fincore) and the machine's Dirty/Writeback memory.
# Times are wall seconds and CPU seconds (user+sys of git-lfs and everything it waited for).
#
#   scripts/bench/fetch-checkout.sh             # 1 GiB, 3 rounds
#   SIZE=256M ROUNDS=2 scripts/bench/fetch-checkout.sh
#   DATALFS_BIN=/path/to/datalfs scripts/bench/fetch-checkout.sh   # an already built agent
#   DATALFS_BASE=/path/to/old/datalfs scripts/bench/fetch-checkout.sh # also time that agent ("base")
set -euo pipefail
source "$(dirname "$0")/../setup.sh"

SIZE=${SIZE:-1G}
ROUNDS=${ROUNDS:-3}
ensure_git_lfs
ensure_versitygw

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-fetchco.XXXXXX")
on_exit rm -rf "$WORK"
mkdir -p "$WORK/bin"
if [ -n "${DATALFS_BIN:-}" ]; then
	cp "$DATALFS_BIN" "$WORK/bin/datalfs"
else
	(cd "$DATALFS_ROOT" && go build -o "$WORK/bin/datalfs" ./cmd/datalfs && go build -o "$WORK/bin/s3tool" ./integration/cmd/s3tool)
fi
MODES=(datalfs file file-dirty datalfs-sync)
if [ -n "${DATALFS_BASE:-}" ]; then
	cp "$DATALFS_BASE" "$WORK/bin/datalfs-base"
	MODES=(base "${MODES[@]}")
fi
[ -x "$WORK/bin/s3tool" ] || (cd "$DATALFS_ROOT" && go build -o "$WORK/bin/s3tool" ./integration/cmd/s3tool)

start_versitygw "$WORK/s3"
export AWS_ACCESS_KEY_ID=$VGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VGW_SECRET_KEY AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
"$WORK/bin/s3tool" -endpoint "$VGW_ENDPOINT" mb bench >/dev/null

export HOME=$WORK/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export PATH="$WORK/bin:$(dirname "$GIT_LFS_BIN"):$PATH"
mkdir -p "$HOME"
git config --global user.name bench && git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
git lfs install >/dev/null
datalfs install --global --url "$VGW_ENDPOINT/bench" >/dev/null

log "a repository with one $SIZE object, pushed to the bucket and to a file:// LFS remote"
repo=$WORK/repo
git init -q "$repo"
(cd "$repo" && git lfs track '*.bin' >/dev/null && head -c "$SIZE" /dev/urandom >big.bin && git add . && git commit -qm data)
git init -q --bare "$WORK/remote-s3.git"
git init -q --bare "$WORK/remote-file.git"
git -C "$repo" remote add s3 "$WORK/remote-s3.git"
git -C "$repo" remote add file "$WORK/remote-file.git"
git -C "$repo" config remote.s3.lfsurl "$VGW_ENDPOINT/bench/x"
git -C "$repo" config remote.file.lfsurl "file://$WORK/remote-file.git"
git -C "$repo" push -q s3 main
git -C "$repo" push -q file main
rm -rf "$repo"
sync

# timed LABEL CMD...: runs CMD, prints "LABEL wall user+sys".
timed() {
	local label=$1
	shift
	/usr/bin/time -o "$WORK/time" -f '%e %U %S' "$@" >/dev/null 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; die "$label failed"; }
	awk -v l="$label" '{printf "%-14s wall %6.2f  cpu %6.2f (user %.2f sys %.2f)\n", l, $1, $2+$3, $2, $3}' "$WORK/time"
}

# written: pages the kernel has written to disk so far, machine-wide (/proc/vmstat nr_written).
written() { awk '$1 == "nr_written" {print $2}' /proc/vmstat; }

# timed_io LABEL CMD...: timed, plus the MiB written back to disk while CMD ran and the peak of
# Dirty+Writeback (sampled every 50 ms).
timed_io() {
	local w0 w1
	w0=$(written)
	echo 0 >"$WORK/peak"
	(
		peak=0
		while :; do
			kb=$(awk '/^(Dirty|Writeback):/ {s += $2} END {print s}' /proc/meminfo)
			((kb > peak)) && peak=$kb && echo "$peak" >"$WORK/peak"
			sleep 0.05
		done
	) &
	local sampler=$!
	timed "$@"
	kill "$sampler"
	wait "$sampler" 2>/dev/null || true
	w1=$(written)
	printf '  written back during it %d MiB, peak Dirty+Writeback %d MiB\n' $(((w1 - w0) / 256)) $(($(cat "$WORK/peak") / 1024))
}

# state FILE: what the fetched object looks like on disk and in memory.
state() {
	local f=$1
	printf '  links %s, extents' "$(stat -c %h "$f")"
	printf ' %s' "$(filefrag "$f" | awk '{print $2}')"
	printf ', blocks %s (x512), ' "$(stat -c %b "$f")"
	printf 'cached %s, ' "$(fincore -n -o RES "$f" | tr -d ' ')"
	awk '/^(Dirty|Writeback):/ {printf "%s %d MiB ", $1, $2/1024}' /proc/meminfo
	echo
}

for round in $(seq 1 "$ROUNDS"); do
	# file-dirty: git-lfs's own fetch, then the object replaced by a fresh copy of itself (same
	# bytes, new inode, all of it dirty in the page cache), as any download that writes the file
	# leaves it. *-sync: written back to disk before checkout.
	for mode in "${MODES[@]}"; do
		dst=$WORK/clone-$mode
		rm -rf "$dst"
		sync
		case $mode in
		datalfs* | base) GIT_LFS_SKIP_SMUDGE=1 git clone -q "$WORK/remote-s3.git" "$dst" && git -C "$dst" config lfs.url "$VGW_ENDPOINT/bench/x" ;;
		file*) GIT_LFS_SKIP_SMUDGE=1 git clone -q "$WORK/remote-file.git" "$dst" && git -C "$dst" config lfs.url "file://$WORK/remote-file.git" ;;
		esac
		[ "$mode" = base ] && git -C "$dst" config lfs.customtransfer.datalfs.path "$WORK/bin/datalfs-base"
		echo "round $round, $mode"
		timed_io fetch git -C "$dst" lfs fetch
		obj=$(find "$dst/.git/lfs/objects" -type f | head -1)
		if [ "$mode" = file-dirty ]; then
			cp "$obj" "$obj.copy" && mv "$obj.copy" "$obj"
		fi
		state "$obj"
		[ "$mode" = datalfs-sync ] && sync
		timed_io checkout git -C "$dst" lfs checkout
		cmp -s "$obj" "$dst/big.bin" || die "checkout of $mode differs from the object"
		rm -rf "$dst"
	done
done
