// Package jsonpointer reads and writes RFC 6901 JSON pointers and follows
// them through parsed JSON values: the one pointer walker of the manifest
// code, for the manifest-* attributes, the problems of a report and the
// fast path's references alike.
package jsonpointer

import (
	"fmt"
	"strings"
)

// Split splits a JSON pointer into unescaped tokens. The empty pointer (the
// whole document) has no tokens.
func Split(ptr string) ([]string, error) {
	if ptr == "" {
		return nil, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with '/'", ptr)
	}
	toks := strings.Split(ptr[1:], "/")
	for i, t := range toks {
		if strings.Contains(t, "~") {
			for j := 0; j < len(t); j++ {
				if t[j] == '~' && (j+1 >= len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
					return nil, fmt.Errorf("JSON pointer %q: '~' must be followed by 0 or 1", ptr)
				}
			}
			t = strings.ReplaceAll(t, "~1", "/")
			toks[i] = strings.ReplaceAll(t, "~0", "~")
		}
	}
	return toks, nil
}

// Escape escapes one token for a pointer ("~" as "~0", "/" as "~1").
func Escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// Format returns the pointer made of tokens.
func Format(tokens ...string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(Escape(t))
	}
	return sb.String()
}

// Lookup returns the value at the pointer tokens inside v, a value as
// jsonparse.Parse returns it.
func Lookup(v any, toks []string) (any, bool) {
	for _, t := range toks {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[t]; !ok {
				return nil, false
			}
		case []any:
			i, ok := ArrayIndex(t)
			if !ok || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// ArrayIndex reads a token as an array index: decimal digits without a
// leading zero, small enough for an int.
func ArrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
