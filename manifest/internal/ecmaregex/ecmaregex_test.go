package ecmaregex

import (
	"errors"
	"testing"
)

func TestECMAToGo(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`^\d+$`, `^\d+$`},
		{`^\s$`, `^[` + space + `]$`},
		{`^\S$`, `^[^` + space + `]$`},
		{`[a\s]`, `[a` + space + `]`},
		{`a.b`, `a` + dot + `b`},
		{`[.]\.`, `[.]\.`},
		{`\u00e9`, `\x{00e9}`},
		{`(?<year>\d{4})`, `(?<year>\d{4})`},
		{`[\]s]`, `[\]s]`},
		{`^\cC$`, `^\x03$`},
		{`[\s\S]`, `(?:[` + space + `]|[^` + space + `])`},
		{`[\S]+`, `[^` + space + `]+`},
		{`[^]`, `(?s:.)`},
		{`a[]`, `a[^\x00-\x{10FFFF}]`},
		{`[^a-c]`, `[^a-c]`},
	} {
		got, err := ToGo(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ToGo(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestUnsupported(t *testing.T) {
	for _, pat := range []string{"(?=x)", "(?!x)", "(?<=a)b", "(?<!a)b", `(a)\1`, `(?<n>a)\k<n>`, `[^\S]`} {
		if _, err := ToGo(pat); !errors.Is(err, ErrUnsupported) {
			t.Errorf("ToGo(%q) = %v, want ErrUnsupported", pat, err)
		}
	}
}
