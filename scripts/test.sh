#!/usr/bin/env bash
# scripts/test.sh: every check CI runs, on a fresh machine that has only Go, git and apt.
#
#   scripts/test.sh                 # tools, gofmt, go vet, staticcheck, fuzz smoke runs, go test ./...
#   GO_TEST_FLAGS=-v scripts/test.sh
#   DATALFS_TEST_RACE=1 scripts/test.sh   # also run the end-to-end tests (and the agent they start) with -race (slow)
#
# It installs what it needs: Debian's git-lfs (3.3.0, the old client the end-to-end tests also run a
# few scripts with; needs root and apt-get, skipped when /usr/bin/git-lfs exists), and into
# ~/.cache/datalfs (DATALFS_CACHE) the git-lfs version go.mod pins, versitygw and staticcheck.
# With CI=true the end-to-end tests fail instead of skipping when a tool is missing.
# The last thing it prints is go test's own output; it exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

# Short fuzz runs, one "PACKAGE:FuzzName" per entry, for example "./transfer:FuzzDecodeRequest".
# Package owners add their targets here; each runs for FUZZ_TIME.
FUZZ_TARGETS=(
	"./transfer:FuzzServe"
	"./manifest:FuzzJSONL"
	"./manifest:FuzzCSV"
	"./manifest:FuzzJSONDoc"
	"./manifest/internal/jsonparse:FuzzParseJSON"
	"./manifest:FuzzFastPath"
	"./manifest:FuzzFastPathDifferential"
	"./manifest/internal/fastpath:FuzzDFA"
	"./s3ref:FuzzParse"
)
FUZZ_TIME=${FUZZ_TIME:-8s}

# The race detector needs cgo and a C compiler.
race=()
if [[ $(go env CGO_ENABLED) == 1 ]] && command -v "$(go env CC)" >/dev/null 2>&1; then
	race=(-race)
fi

start=$SECONDS
step() { printf '\n==> [%4d s] %s\n' $((SECONDS - start)) "$*" >&2; }

# ensure_old_git_lfs: Debian's git-lfs package, the old client. Sets OLD_GIT_LFS_BIN (empty when it
# cannot be installed here; the old-client tests then skip, or fail under CI=true).
ensure_old_git_lfs() {
	OLD_GIT_LFS_BIN=/usr/bin/git-lfs
	[[ -x $OLD_GIT_LFS_BIN ]] && return 0
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing Debian's git-lfs package (the old client) with apt-get"
		# Bounded: a stuck mirror must not hang CI.
		if ! timeout 300 apt-get update -qq >/dev/null; then
			die "apt-get update failed"
		fi
		if ! DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends git-lfs >/dev/null; then
			die "apt-get could not install git-lfs"
		fi
		[[ -x $OLD_GIT_LFS_BIN ]] || die "apt-get installed git-lfs but $OLD_GIT_LFS_BIN is missing"
	else
		log "warning: Debian's git-lfs is not installed and this is not root with apt-get: old-client tests will skip"
		OLD_GIT_LFS_BIN=
	fi
}

step "tools"
ensure_old_git_lfs
ensure_git_lfs
ensure_versitygw
ensure_staticcheck
ensure_pre_commit
log "git-lfs: $("$GIT_LFS_BIN" version)"
if [[ -n $OLD_GIT_LFS_BIN ]]; then
	log "old git-lfs: $("$OLD_GIT_LFS_BIN" version)"
fi
log "$(go version)${race:+, race detector on}"

step "gofmt -l"
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	printf 'gofmt would change these files:\n%s\n' "$unformatted" >&2
	exit 1
fi

step "go vet ./..."
go vet ./...

step "staticcheck ./..."
"$STATICCHECK_BIN" ./...

# Go before 1.27 can fail a fuzz run that found nothing with a bare "context deadline exceeded" just as
# -fuzztime ends: a race in its fuzz coordinator (golang/go#75804). A real finding always prints
# "Failing input written to", so only that exact signature is run again, at most twice.
FUZZ_OUT=$(mktemp "${TMPDIR:-/tmp}/datalfs-fuzz.XXXXXX")
on_exit rm -f "$FUZZ_OUT"
for target in "${FUZZ_TARGETS[@]}"; do
	pkg=${target%%:*} name=${target#*:}
	step "fuzz $pkg $name for $FUZZ_TIME"
	for attempt in 1 2 3; do
		# Minimising a new input can otherwise run far past -fuzztime.
		if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZ_TIME" -fuzzminimizetime=5s "$pkg" 2>&1 | tee "$FUZZ_OUT"; then
			break
		fi
		if ((attempt < 3)) && grep -q 'context deadline exceeded' "$FUZZ_OUT" && ! grep -q 'Failing input written to' "$FUZZ_OUT"; then
			log "fuzz $name ended with Go's coordinator race (golang/go#75804), not a finding: running it again"
			continue
		fi
		die "fuzz $pkg $name failed"
	done
done

export DATALFS_TEST_GIT_LFS=$GIT_LFS_BIN
export DATALFS_TEST_GIT_LFS_OLD=$OLD_GIT_LFS_BIN
export DATALFS_TEST_VERSITYGW=$VERSITYGW_BIN
# -count=1: every run really runs the tests (no cached results). The race detector covers every package
# but the end-to-end suite: that suite runs the CLI in-process (its test binary is the agent git-lfs
# starts), so -race there makes every datalfs process race-enabled, several times slower (past 12
# minutes on 2 cores). DATALFS_TEST_RACE=1 runs it with -race too.
integration_race=()
if [[ -n ${DATALFS_TEST_RACE:-} ]]; then
	integration_race=("${race[@]}")
fi
mapfile -t unit_pkgs < <(go list ./... | grep -v '/integration$')
step "go test ${race[*]} (all but ./integration) (CI=${CI:-})"
# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
go test "${race[@]}" -count=1 -timeout 12m ${GO_TEST_FLAGS:-} "${unit_pkgs[@]}"
step "go test ${integration_race[*]} ./integration (CI=${CI:-})"
# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
go test "${integration_race[@]}" -count=1 -timeout 20m ${GO_TEST_FLAGS:-} ./integration
