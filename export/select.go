package export

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/git-lfs/git-lfs/v3/filepathfilter"
)

// Shard is one part of a deterministic split of a commit's files: part K of
// N (1 <= K <= N). A file belongs to part K when the FNV-1a 64-bit hash of
// its path (slash-separated, relative to the top of the tree), modulo N, is
// K-1. The zero Shard means every file.
type Shard struct{ K, N int }

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return Shard{}, usagef("--shard %q: want K/N with 1 <= K <= N, such as 1/4", s)
	}
	return Shard{K: k, N: n}, nil
}

// Holds reports whether path belongs to the shard.
func (s Shard) Holds(path string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	return h.Sum64()%uint64(s.N) == uint64(s.K-1)
}

// String returns "K/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// SplitPatterns splits comma-separated patterns the way git-lfs reads
// --include and --exclude, dropping empty ones.
func SplitPatterns(args []string) []string {
	var out []string
	for _, a := range args {
		for _, p := range strings.Split(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// selector decides which files of the tree are exported.
type selector struct {
	filter *filepathfilter.Filter
	shard  Shard
}

func newSelector(include, exclude []string, shard Shard) *selector {
	return &selector{
		filter: filepathfilter.New(include, exclude, filepathfilter.GitIgnore, nil),
		shard:  shard,
	}
}

func (s *selector) selects(path string) bool {
	return s.filter.Allows(path) && s.shard.Holds(path)
}
