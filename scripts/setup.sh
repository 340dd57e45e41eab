# shellcheck shell=bash disable=SC2034 # the variables set here are for the scripts that source it
# scripts/setup.sh: helpers shared by test.sh, demo.sh and benchmarks. Source it, don't run it:
#
#   source scripts/setup.sh
#   ensure_git_lfs; ensure_versitygw          # sets GIT_LFS_BIN, VERSITYGW_BIN
#   start_versitygw "$dir"                    # sets VGW_ENDPOINT, VGW_ACCESS_KEY, VGW_SECRET_KEY, VGW_PID
#
# Tools are built from the Go module proxy into $DATALFS_CACHE/bin (default ~/.cache/datalfs/bin),
# outside the repository. A cached binary is reused only when it reports the pinned version and was
# built by the Go toolchain in use, so a re-run is instant and a version bump rebuilds.
# Cleanups registered with on_exit run in reverse order when the sourcing script exits (also on
# Ctrl-C).

DATALFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATALFS_CACHE=${DATALFS_CACHE:-$HOME/.cache/datalfs}
VERSITYGW_VERSION=v1.8.0
STATICCHECK_VERSION=v0.8.2
S5CMD_VERSION=v2.3.0 # benchmarks only; S5CMD_SUM is its go.sum line, bump both together
S5CMD_SUM='h1:g8KSD2o4pcyzUsAaWsn7TGb+j4w+/mI1B5NmfDR0Bbs='

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

command -v go >/dev/null 2>&1 || die "Go is required (https://go.dev/dl/); it is not on PATH"
command -v git >/dev/null 2>&1 || die "git is required; it is not on PATH"

# ---- cleanup ------------------------------------------------------------------------------------

_DATALFS_EXIT_HOOKS=()

# on_exit CMD...: run CMD (a shell command line) when the script exits, after any hook registered
# later. Ctrl-C and SIGTERM exit the script, so they run the hooks too.
on_exit() {
	_DATALFS_EXIT_HOOKS+=("$*")
	trap _datalfs_run_exit_hooks EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

_datalfs_run_exit_hooks() {
	local i
	for ((i = ${#_DATALFS_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${_DATALFS_EXIT_HOOKS[i]}" || true
	done
	_DATALFS_EXIT_HOOKS=()
}

# ---- pinned tools -------------------------------------------------------------------------------

# module_version BIN MODULE: the version of MODULE compiled into the Go binary BIN (main module or
# dependency), or nothing. Only binaries built by the Go toolchain in use count, so that a Go
# upgrade rebuilds tools such as staticcheck that must match it.
module_version() {
	local info
	info=$(go version -m "$1" 2>/dev/null) || return 0
	[[ ${info%%$'\n'*} == *": $(go env GOVERSION)" ]] || return 0
	awk -v m="$2" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }' <<<"$info"
}

# pinned_git_lfs_version: the git-lfs version go.mod requires, such as v3.8.1.
pinned_git_lfs_version() {
	awk '$1 == "github.com/git-lfs/git-lfs/v3" { print $2; exit }' "$DATALFS_ROOT/go.mod"
}

# _install_tool NAME WANT MODULE BUILD [ARG...]: unless $DATALFS_CACHE/bin/NAME has MODULE at
# version WANT, run `BUILD OUT ARG...`, which must write the binary to the temp path OUT, then move it
# into place and check it.
_install_tool() {
	local name=$1 want=$2 module=$3 build=$4
	shift 4
	local bin=$DATALFS_CACHE/bin/$name
	if [[ -x $bin && $(module_version "$bin" "$module") == "$want" ]]; then
		return 0
	fi
	mkdir -p "$DATALFS_CACHE/bin"
	local out=$bin.tmp.$$ start=$SECONDS
	log "building $name $want into $DATALFS_CACHE/bin (first time only; up to a few minutes)"
	if ! "$build" "$out" "$@"; then
		rm -f "$out"
		die "building $name $want failed"
	fi
	mv -f "$out" "$bin"
	local got
	got=$(module_version "$bin" "$module")
	[[ $got == "$want" ]] || die "$bin reports $module ${got:-(none)}, want $want"
	log "built $name $want in $((SECONDS - start)) s"
}

# _go_install OUT PACKAGE@VERSION: go install into a temp GOBIN, then move the binary to OUT.
_go_install() {
	local gobin name=${2%@*}
	gobin=$(mktemp -d)
	GOBIN=$gobin go install "$2" && mv "$gobin/${name##*/}" "$1"
	local status=$?
	rm -rf "$gobin"
	return $status
}

# _build_git_lfs OUT: git-lfs at the version this module's go.mod requires, with its go.sum.
_build_git_lfs() { (cd "$DATALFS_ROOT" && go build -o "$1" github.com/git-lfs/git-lfs/v3); }

# ensure_git_lfs: git-lfs at the version go.mod pins, built from this module's dependency graph.
# Sets GIT_LFS_BIN.
ensure_git_lfs() {
	local want
	want=$(pinned_git_lfs_version)
	[[ -n $want ]] || die "go.mod does not require github.com/git-lfs/git-lfs/v3"
	_install_tool git-lfs "$want" github.com/git-lfs/git-lfs/v3 _build_git_lfs
	GIT_LFS_BIN=$DATALFS_CACHE/bin/git-lfs
	local v
	v=$("$GIT_LFS_BIN" version) || die "$GIT_LFS_BIN version failed"
	[[ $v == "git-lfs/${want#v} "* ]] || die "$GIT_LFS_BIN reports '$v', want git-lfs/${want#v}"
}

# ensure_versitygw: the versitygw S3 gateway. Sets VERSITYGW_BIN.
ensure_versitygw() {
	_install_tool versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw \
		_go_install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
	VERSITYGW_BIN=$DATALFS_CACHE/bin/versitygw
}

# ensure_staticcheck: staticcheck, built by the Go toolchain in use. Sets STATICCHECK_BIN.
ensure_staticcheck() {
	_install_tool staticcheck "$STATICCHECK_VERSION" honnef.co/go/tools \
		_go_install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	STATICCHECK_BIN=$DATALFS_CACHE/bin/staticcheck
}

# _build_s5cmd OUT: s5cmd from a throwaway module that requires it (the proxy refuses `go install`
# of it: its go.mod has replace directives). The go.sum line pins the module's content.
_build_s5cmd() {
	local mod status
	mod=$(mktemp -d)
	printf 'module s5cmdbuild\n\ngo 1.24\n\nrequire github.com/peak/s5cmd/v2 %s\n' "$S5CMD_VERSION" >"$mod/go.mod"
	echo "github.com/peak/s5cmd/v2 $S5CMD_VERSION $S5CMD_SUM" >"$mod/go.sum"
	(cd "$mod" && GOFLAGS=-mod=mod go build -o "$1" github.com/peak/s5cmd/v2)
	status=$?
	rm -rf "$mod"
	return $status
}

# ensure_s5cmd: the s5cmd S3 copy tool, for benchmarks. Sets S5CMD_BIN.
ensure_s5cmd() {
	_install_tool s5cmd "$S5CMD_VERSION" github.com/peak/s5cmd/v2 _build_s5cmd
	S5CMD_BIN=$DATALFS_CACHE/bin/s5cmd
}

# ensure_pre_commit: the pre-commit framework (Debian's package), for the test of the hook that
# .pre-commit-hooks.yaml publishes. Without root and apt-get it is left missing: that test then
# skips, or fails under CI=true.
ensure_pre_commit() {
	command -v pre-commit >/dev/null 2>&1 && return 0
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing Debian's pre-commit package with apt-get"
		# Bounded: a stuck mirror must not hang CI.
		timeout 300 apt-get update -qq >/dev/null || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends pre-commit >/dev/null ||
			die "apt-get could not install pre-commit"
	else
		log "warning: pre-commit is not installed and this is not root with apt-get: its test will skip"
	fi
}

# ---- a local S3 server --------------------------------------------------------------------------

# random_hex N: N random bytes as hex.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# port_open PORT: whether something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_versitygw DIR: start versitygw (ensure_versitygw first) on a free 127.0.0.1 port with random
# root keys, keeping buckets, object versions and its log under DIR, and wait until it accepts
# connections. Sets VGW_ENDPOINT, VGW_ACCESS_KEY, VGW_SECRET_KEY and VGW_PID; the server is stopped
# when the script exits. The keys reach the server through its environment, not its command line.
# Connections are kept alive between requests, as S3 keeps them (versitygw closes each one after its
# answer unless told otherwise, which would make every tool pay a TCP connect per request).
start_versitygw() {
	local dir=$1 port deadline
	[[ -n ${VERSITYGW_BIN:-} ]] || die "start_versitygw: call ensure_versitygw first"
	mkdir -p "$dir/root" "$dir/versions"
	VGW_ACCESS_KEY=$(random_hex 10)
	VGW_SECRET_KEY=$(random_hex 20)
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_open "$port" && continue
		ROOT_ACCESS_KEY_ID=$VGW_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$VGW_SECRET_KEY \
			"$VERSITYGW_BIN" --quiet --keep-alive --port "127.0.0.1:$port" \
			posix --versioning-dir "$dir/versions" "$dir/root" >>"$dir/versitygw.log" 2>&1 &
		VGW_PID=$!
		deadline=$((SECONDS + 15))
		while ((SECONDS < deadline)) && kill -0 "$VGW_PID" 2>/dev/null; do
			if port_open "$port"; then
				VGW_ENDPOINT=http://127.0.0.1:$port
				on_exit stop_versitygw
				return 0
			fi
			sleep 0.1
		done
		stop_versitygw # it exited (port taken) or hung: try another port
	done
	die "versitygw did not start; its log: $dir/versitygw.log"
}

# stop_versitygw: stop the server start_versitygw started, waiting up to 5 s before SIGKILL.
stop_versitygw() {
	[[ -n ${VGW_PID:-} ]] || return 0
	kill -TERM "$VGW_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$VGW_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$VGW_PID" 2>/dev/null || true
	wait "$VGW_PID" 2>/dev/null || true
	VGW_PID=
}
