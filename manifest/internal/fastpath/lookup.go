package fastpath

import (
	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// Reading the id and reference fields of a record the fast path certified,
// without parsing the record: the value the library path would read, which
// for a repeated name is its last occurrence.

// Lookup finds the value at the pointer tokens in data, which must be valid
// JSON (certified, or parsed), and returns its text. Where an object
// repeats a name, the last occurrence counts, as in the parsed record the
// library path reads.
func (v *Checker) Lookup(data []byte, toks []string) ([]byte, bool) {
	return v.lookupAt(data, 0, toks)
}

// CertifiedLookup is Lookup for the record CertainlyValid has just
// certified: it starts from where CertainlyValid saw the first name, when
// the checker watches it.
func (v *Checker) CertifiedLookup(data []byte, toks []string) ([]byte, bool) {
	if len(toks) > 0 && v.rootObject {
		for i, w := range v.want {
			if w == toks[0] {
				if v.at[i] < 0 {
					return nil, false
				}
				return v.lookupAt(data, v.at[i], toks[1:])
			}
		}
	}
	return v.Lookup(data, toks)
}

// lookupAt is Lookup for the value at offset start of data.
func (v *Checker) lookupAt(data []byte, start int, toks []string) ([]byte, bool) {
	v.data, v.pos = data, start
	for _, tok := range toks {
		v.space()
		if v.pos >= len(v.data) {
			return nil, false
		}
		switch v.data[v.pos] {
		case '{':
			at, ok := v.lastMember(tok)
			if !ok {
				return nil, false
			}
			v.pos = at
		case '[':
			idx, ok := jsonpointer.ArrayIndex(tok)
			if !ok {
				return nil, false
			}
			v.pos++
			for i := 0; i < idx; i++ {
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] == ']' {
					return nil, false
				}
				v.skipRaw()
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] != ',' {
					return nil, false
				}
				v.pos++
			}
			v.space()
			if v.pos >= len(v.data) || v.data[v.pos] == ']' {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	v.space()
	from := v.pos
	v.skipRaw()
	if v.pos == from {
		return nil, false
	}
	return v.data[from:v.pos], true
}

// lastMember scans the object at pos (in valid JSON) to its end and returns
// the offset of the value of its last member named name.
func (v *Checker) lastMember(name string) (int, bool) {
	v.pos++ // {
	at, found := 0, false
	for {
		v.space()
		key, ok := v.memberName()
		if !ok {
			return 0, false // '}' of an empty object, or malformed
		}
		if unsafeString(key) == name {
			at, found = v.pos, true
		}
		v.skipRaw()
		var more bool
		if v.pos, more, ok = jsonparse.Separator(v.data, v.pos, '}'); !ok {
			return 0, false
		}
		if !more {
			return at, found
		}
	}
}

// skipRaw moves past the value at pos in text known to be valid JSON,
// without checking or decoding it. On malformed text it stops somewhere
// within the text, never beyond.
func (v *Checker) skipRaw() {
	d := v.data
	depth := 0
	for v.pos < len(d) {
		switch c := d[v.pos]; {
		case c == '"':
			v.pos++
			for v.pos < len(d) && d[v.pos] != '"' {
				if d[v.pos] == '\\' {
					v.pos++
				}
				v.pos++
			}
			v.pos++
		case c == '{' || c == '[':
			depth++
			v.pos++
			continue
		case c == '}' || c == ']':
			if depth == 0 {
				return
			}
			depth--
			v.pos++
		case depth > 0:
			v.pos++
			continue
		default: // a number or a literal
			for v.pos < len(d) && !isDelimiter(d[v.pos]) {
				v.pos++
			}
		}
		if depth == 0 {
			break
		}
	}
	v.pos = min(v.pos, len(d))
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}
