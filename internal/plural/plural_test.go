package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n          int
		count, one string
	}{
		{0, "0 objects", "objects"},
		{1, "1 object", "object"},
		{2, "2 objects", "objects"},
		{-1, "-1 objects", "objects"},
	} {
		if got := Count(tt.n, "object"); got != tt.count {
			t.Errorf("Count(%d) = %q, want %q", tt.n, got, tt.count)
		}
		if got := Word(tt.n, "object"); got != tt.one {
			t.Errorf("Word(%d) = %q, want %q", tt.n, got, tt.one)
		}
	}
}
