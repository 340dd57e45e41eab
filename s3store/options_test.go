package s3store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPartSizeFor(t *testing.T) {
	tests := []struct {
		size, preferred, want int64
	}{
		{100 * mib, 16 * mib, 16 * mib},
		{100 * mib, 1 * mib, MinPartSize},         // never below S3's minimum
		{MaxParts * 16 * mib, 16 * mib, 16 * mib}, // exactly fits
		{MaxParts*16*mib + 1, 16 * mib, 17 * mib}, // one byte more needs bigger parts
		{MaxObjectSize, 16 * mib, 525 * mib},      // 5 TiB in 10,000 parts
		{MaxObjectSize, 6 << 30, MaxPartSize},     // capped at S3's maximum part
		{48 * 1024 * mib, 5 * mib, 5 * mib},       // 48 GiB at 5 MiB: 9,831 parts
		{60 * 1024 * mib, 5 * mib, 7 * mib},       // 60 GiB would need 12,288 parts of 5 MiB
	}
	for _, tt := range tests {
		got := PartSizeFor(tt.size, tt.preferred)
		if got != tt.want {
			t.Errorf("PartSizeFor(%d, %d) = %d, want %d", tt.size, tt.preferred, got, tt.want)
		}
		if parts := (tt.size + got - 1) / got; parts > MaxParts {
			t.Errorf("PartSizeFor(%d, %d) = %d gives %d parts, more than %d", tt.size, tt.preferred, got, parts, MaxParts)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20}, {"64MiB", 64 << 20}, {"1GiB", 1 << 30}, {"512KiB", 512 << 10},
		{"10MB", 10e6}, {"8M", 8 << 20}, {" 5 MiB ", 5 << 20},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-1", "ten", "1.5GiB", "99999999999999999999"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded, want an error", bad)
		}
	}
}

func TestLoadOptions(t *testing.T) {
	env := map[string]string{"DATALFS_PART_SIZE": "32MiB", "DATALFS_MAX_ATTEMPTS": "3"}
	git := map[string]string{
		"datalfs.partsize":     "8MiB", // the environment wins
		"datalfs.storageclass": "standard_ia",
		"datalfs.sse":          "aws:kms",
		"datalfs.idletimeout":  "30s",
	}
	got, err := LoadOptions(lookup(env), lookup(git))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultOptions()
	want.PartSize = 32 * mib
	want.MaxAttempts = 3
	want.StorageClass = "STANDARD_IA"
	want.SSE = "aws:kms"
	want.IdleTimeout = 30 * time.Second
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadOptions mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadOptionsErrors(t *testing.T) {
	tests := []struct {
		git  map[string]string
		want string
	}{
		{map[string]string{"datalfs.partsize": "1MiB"}, `datalfs.partsize = "1MiB": want between 5MiB and 5GiB`},
		{map[string]string{"datalfs.sse": "rot13"}, `datalfs.sse = "rot13": want AES256`},
		{map[string]string{"datalfs.concurrency": "0"}, `datalfs.concurrency = "0": want a whole number from 1 to 64`},
		{map[string]string{"datalfs.idletimeout": "soon"}, `datalfs.idletimeout = "soon"`},
	}
	for _, tt := range tests {
		_, err := LoadOptions(lookup(nil), lookup(tt.git))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadOptions(%v) error = %v, want it to contain %q", tt.git, err, tt.want)
		}
	}
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
