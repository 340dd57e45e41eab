package export_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/export"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want export.Shard
		bad  bool
	}{
		{in: "1/1", want: export.Shard{K: 1, N: 1}},
		{in: "3/8", want: export.Shard{K: 3, N: 8}},
		{in: "0/2", bad: true},
		{in: "3/2", bad: true},
		{in: "1/0", bad: true},
		{in: "1", bad: true},
		{in: "a/b", bad: true},
	} {
		got, err := export.ParseShard(tt.in)
		if tt.bad != (err != nil) || (err == nil && got != tt.want) || (err != nil && !errors.Is(err, export.ErrUsage)) {
			t.Errorf("ParseShard(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// TestShardsPartition: every path is in exactly one of N shards, and the
// split is not lopsided.
func TestShardsPartition(t *testing.T) {
	const n = 4
	counts := make([]int, n)
	for i := range 4000 {
		p := fmt.Sprintf("data/part-%05d.bin", i)
		in := 0
		for k := 1; k <= n; k++ {
			if (export.Shard{K: k, N: n}).Holds(p) {
				in++
				counts[k-1]++
			}
		}
		if in != 1 {
			t.Fatalf("%s is in %d shards of %d, want 1", p, in, n)
		}
	}
	for k, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("shard %d/%d holds %d of 4000 paths, want about 1000", k+1, n, c)
		}
	}
}

func TestSplitPatterns(t *testing.T) {
	got := export.SplitPatterns([]string{"a/*,b/**", " c ", ",", ""})
	if diff := cmp.Diff([]string{"a/*", "b/**", "c"}, got); diff != "" {
		t.Errorf("SplitPatterns (-want +got):\n%s", diff)
	}
}
