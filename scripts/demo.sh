#!/usr/bin/env bash
# scripts/demo.sh: datalfs end to end on this machine, in about a minute once the tools are cached.
#
#   scripts/demo.sh          # run the demo and clean up
#   KEEP=1 scripts/demo.sh   # keep the demo directory (repositories, bucket data, logs) to look around
#
# It builds datalfs, starts a local S3 server (versitygw, on 127.0.0.1 only) with throwaway keys,
# creates a bucket and a small dataset repository (binary "images" and a JSON Lines manifest, both
# tracked with Git LFS), pushes it with plain `git push`, lists what landed in the bucket, clones the
# repository fresh with plain `git clone` and checks that every file is byte-identical (SHA-256).
# Git runs with the demo's own HOME, so your git config and AWS settings are neither read nor changed.
# Exits non-zero if any step fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

KEEP=${KEEP:-0}
BUCKET=demo-datasets
bold='' plain=''
if [[ -t 1 ]]; then
	bold=$'\033[1m' plain=$'\033[0m'
fi
n=0
step() {
	n=$((n + 1))
	printf '\n%s[%d] %s%s\n' "$bold" "$n" "$*" "$plain"
}
# run CMD...: show a command, then run it.
run() {
	printf '  $ %s\n' "$*"
	"$@" 2>&1 | sed 's/^/    /'
}

step "Tools: the pinned git-lfs and the versitygw S3 server (built once into $DATALFS_CACHE)"
ensure_git_lfs
ensure_versitygw
echo "  git-lfs:   $GIT_LFS_BIN ($("$GIT_LFS_BIN" version | cut -d' ' -f1))"
echo "  versitygw: $VERSITYGW_BIN"

DEMO=$(mktemp -d "${TMPDIR:-/tmp}/datalfs-demo.XXXXXX")
if [[ $KEEP == 1 ]]; then
	on_exit "echo; echo 'KEEP=1: the demo directory stays at $DEMO'"
else
	on_exit "rm -rf '$DEMO'"
fi

step "Build datalfs (and s3tool, a tiny S3 client for this script) into $DEMO/bin"
mkdir -p "$DEMO/bin"
go build -o "$DEMO/bin/datalfs" ./cmd/datalfs
go build -o "$DEMO/bin/s3tool" ./integration/cmd/s3tool
ln -s "$GIT_LFS_BIN" "$DEMO/bin/git-lfs"
export PATH=$DEMO/bin:$PATH

# A sealed git and AWS environment: nothing of the user's is read or written.
export HOME=$DEMO/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
unset XDG_CONFIG_HOME GIT_DIR GIT_WORK_TREE
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
mkdir -p "$HOME"
git config --global user.name "Demo User"
git config --global user.email demo@datalfs.invalid
git config --global init.defaultBranch main
git lfs install >/dev/null

step "Start a local S3 server on 127.0.0.1 with random keys"
start_versitygw "$DEMO/s3"
export AWS_ACCESS_KEY_ID=$VGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$VGW_SECRET_KEY
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
echo "  endpoint: $VGW_ENDPOINT (credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
S3="s3tool -endpoint $VGW_ENDPOINT"

step "Create the bucket '$BUCKET' (versioning on, so overwritten or deleted objects stay recoverable)"
run $S3 -versioning mb "$BUCKET"

LFSURL=$VGW_ENDPOINT/$BUCKET/pets
step "Create a dataset repository: images and a JSON Lines manifest, tracked with Git LFS"
git init -q --bare "$DEMO/remote.git"
git init -q "$DEMO/pets"
cd "$DEMO/pets"
mkdir images
i=0
for name in cat-001 cat-002 dog-001 dog-002 bird-001; do
	i=$((i + 1))
	head -c $((i * 150 * 1024)) /dev/urandom >"images/$name.png" # stand-ins for real images
	printf '{"source-ref": "images/%s.png", "class": "%s", "annotator": "demo"}\n' "$name" "${name%-*}" >>manifest.jsonl
done
run git lfs track 'images/*.png' '*.jsonl'
run git config -f .lfsconfig lfs.url "$LFSURL"
echo "  (.lfsconfig is committed: it tells every clone where the objects live)"
run ls -l images manifest.jsonl

step "Install datalfs for the bucket (once per machine): git-lfs will move objects for it through datalfs"
run datalfs install --global --url "$VGW_ENDPOINT/$BUCKET"
run git config --global --get-regexp '^lfs\.'
run datalfs env

step "Commit and push with plain git"
git remote add origin "$DEMO/remote.git"
git add .
git commit -q -m "pets dataset v1"
run git push origin main
echo "  what git stores for images/cat-001.png is a pointer:"
run git cat-file -p HEAD:images/cat-001.png

step "The objects are in the bucket, at PREFIX/lfs/objects/OID[0:2]/OID[2:4]/OID"
run $S3 ls "$BUCKET"
count=$($S3 ls "$BUCKET" pets/lfs/objects/ | wc -l)
want=$(git lfs ls-files | wc -l)
[[ $count == "$want" ]] || die "the bucket holds $count objects, the repository tracks $want LFS files"

step "Clone fresh with plain git clone: LFS files arrive from the bucket through datalfs"
cd "$DEMO"
run git clone "$DEMO/remote.git" pets-clone

step "Check every file, byte for byte (SHA-256)"
sums() { (cd "$1" && git ls-files -z | xargs -0 sha256sum); }
sums "$DEMO/pets" >"$DEMO/sums-original.txt"
sums "$DEMO/pets-clone" >"$DEMO/sums-clone.txt"
sed 's/^/    /' "$DEMO/sums-clone.txt"
if ! diff -u "$DEMO/sums-original.txt" "$DEMO/sums-clone.txt"; then
	die "the clone differs from the original"
fi
if grep -l '^version https://git-lfs' "$DEMO"/pets-clone/images/*.png "$DEMO/pets-clone/manifest.jsonl"; then
	die "the files above are still LFS pointers in the clone"
fi
echo "  all $(wc -l <"$DEMO/sums-clone.txt") files are identical"

step "Guard the manifest: a JSON Schema, mapped in .gitattributes, checked at every commit"
cd "$DEMO/pets"
mkdir -p schemas
cat >schemas/pets.json <<'JSON'
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["source-ref", "class"],
  "properties": {
    "source-ref": {"type": "string", "pattern": "^images/[a-z]+-[0-9]{3}\\.png$"},
    "class": {"enum": ["cat", "dog", "bird"]},
    "annotator": {"type": "string"}
  }
}
JSON
# A line of its own: `git lfs track` rewrites lines with its pattern.
echo 'manifest.jsonl manifest-schema=schemas/pets.json manifest-id=/source-ref' >>.gitattributes
run cat .gitattributes
run datalfs install
run datalfs manifest validate
git add schemas .gitattributes
git commit -q -m "schema for the pets manifest"
echo "  now a bad record: an unknown class and a duplicate id"
printf '{"source-ref": "images/cat-001.png", "class": "fish"}\n' >>manifest.jsonl
git add manifest.jsonl
printf '  $ git commit -m "add a fish"\n'
if git commit -q -m "add a fish" >"$DEMO/commit.log" 2>&1; then
	die "the pre-commit hook let a bad manifest through"
fi
sed 's/^/    /' "$DEMO/commit.log"
echo "  the commit was refused; the manifest in HEAD is unchanged"
git reset -q --hard

step "Dataset versions: raw assets stay in S3; a manifest in Git pins their versions"
cd "$DEMO/pets"
for f in images/*.png; do
	$S3 put "$BUCKET" "raw/${f#images/}" "$f"
done
printf 'key,label\n' >"$DEMO/labels.csv"
for f in images/*.png; do
	b=${f#images/}
	printf '%s,%s\n' "$b" "${b%-*}" >>"$DEMO/labels.csv"
done
echo 'data/*.jsonl manifest-id=/id manifest-ref=/source-ref manifest-label=/label diff=datalfs-manifest' >>.gitattributes
run datalfs manifest build --labels "$DEMO/labels.csv" -o data/train.jsonl "s3://$BUCKET/raw/"
run head -c 300 data/train.jsonl
echo
git add .gitattributes data
git commit -q -m "dataset A"
run datalfs manifest fetch -o "$DEMO/train-A"
echo "  (train model A on $DEMO/train-A)"
run datalfs manifest lock -o "$DEMO/dataset-A.lock.json"

step "The data changes behind the manifest: one image overwritten, one deleted"
head -c 1000 /dev/urandom >"$DEMO/new-cat.png"
run $S3 put "$BUCKET" raw/cat-001.png "$DEMO/new-cat.png"
run $S3 rm "$BUCKET" raw/dog-002.png
run datalfs manifest verify || true
run datalfs manifest build --labels "$DEMO/labels.csv" -o data/train.jsonl "s3://$BUCKET/raw/"
git add data
git commit -q -m "dataset B"
run datalfs manifest diff HEAD~1 HEAD

step "Roll back: rebuild exactly model A's training data from its lock"
run datalfs manifest fetch --lock "$DEMO/dataset-A.lock.json" -o "$DEMO/train-A-again"
if ! diff -r "$DEMO/train-A" "$DEMO/train-A-again" >/dev/null; then
	die "the rebuilt dataset differs from the one model A was trained on"
fi
for f in images/*.png; do
	cmp -s "$f" "$DEMO/train-A-again/${f#images/}" || die "$f differs from its rebuilt copy"
done
echo "  all $(find "$DEMO/train-A-again" -type f | wc -l) assets of dataset A are back, byte for byte, though S3 changed since"

step "Lineage: record how a manifest was made, explain it, catch a hand edit (docs/lineage.md)"
mkdir -p "$DEMO/lineage/data" "$DEMO/lineage/scripts"
cd "$DEMO/lineage"
git init -q
printf '<annotations>\n  <image file="a.jpg" label="cat"/>\n  <image file="b.jpg" label="dog"/>\n</annotations>\n' >data/export.xml
# shellcheck disable=SC2016 # the scripts are written, not run, here
printf '%s\n' 'echo file,label >"$2"' 'sed -n '\''s/.*file="\([^"]*\)" label="\([^"]*\)".*/\1,\2/p'\'' "$1" >>"$2"' >scripts/to_csv.sh
# shellcheck disable=SC2016
printf '%s\n' 'awk -F, -v want="$3" '\''NR > 1 && $2 == want { printf "{\"id\":\"%s\",\"label\":\"%s\"}\n", $1, $2 }'\'' "$1" >"$2"' >scripts/filter.sh
git add -A
git commit -q -m "labelling export and scripts"
run datalfs run --step to-csv --input data/export.xml --output data/train.csv -- sh scripts/to_csv.sh data/export.xml data/train.csv
git commit -q -m "to-csv"
run datalfs run --step filter --input data/train.csv --output data/train.jsonl -- sh scripts/filter.sh data/train.csv data/train.jsonl cat
git commit -q -m "filter"
run datalfs why data/train.jsonl
sed -i 's/b.jpg" label="dog/b.jpg" label="cat/' data/export.xml
git commit -q -a -m "relabelled export"
run datalfs lineage status || true
echo "  a hand edit of the derived CSV, staged: the pre-commit check refuses it"
echo "x.jpg,cat" >>data/train.csv
git add data/train.csv
if run datalfs lineage verify --staged; then
	die "lineage verify let a hand-edited output through"
fi
git reset -q --hard
run datalfs lineage repro to-csv

printf '\n%sDemo passed.%s The server stops now%s.\n' "$bold" "$plain" "$([[ $KEEP == 1 ]] || echo " and $DEMO is removed")"
