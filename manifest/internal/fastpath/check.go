package fastpath

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// Checker checks records against one Schema. It is not safe for
// concurrent use: each worker has its own.
type Checker struct {
	root   *node
	schema *Schema
	dfas   []*dfa // by pattern index, built on first use
	data   []byte
	pos    int
	budget int // value calls left for this record

	// The top-level names the id and reference checks read, and where
	// CertainlyValid last saw the value of each (-1: absent), so that they
	// need not scan the record again.
	want       []string
	at         []int
	rootObject bool
}

// NewChecker returns a checker for s. watch names the top-level members
// whose values CertifiedLookup will be asked for: CertainlyValid notes
// where they lie as it passes them.
func (s *Schema) NewChecker(watch []string) *Checker {
	return &Checker{root: s.root, schema: s, dfas: make([]*dfa, len(s.progs)),
		want: watch, at: make([]int, len(watch))}
}

// match reports whether pattern i matches s, as regexp.Match would.
func (v *Checker) match(i int, s []byte) bool {
	d := v.dfas[i]
	if d == nil {
		d = newDFA(v.schema.progs[i])
		v.dfas[i] = d
	}
	return d.matchBytes(s)
}

// CertainlyValid reports whether data is certainly one JSON value that the
// schema accepts: the library path would find no problem in it. false means
// "not sure" (invalid, or beyond what the fast path decides), never
// "invalid".
func (v *Checker) CertainlyValid(data []byte) bool {
	v.data, v.pos = data, 0
	v.budget = baseBudget + 8*len(data)
	for i := range v.at {
		v.at[i] = -1
	}
	v.space()
	v.rootObject = v.pos < len(v.data) && v.data[v.pos] == '{'
	if !v.value(v.root, 0, 0) {
		return false
	}
	v.space()
	return v.pos == len(v.data)
}

func (v *Checker) space() { v.pos = jsonparse.SkipSpace(v.data, v.pos) }

// baseBudget and 8 per byte of a record bound the subschema checks the
// fast path makes for it: references that fan out through anyOf without
// consuming input would otherwise take exponential time. A record that
// needs more is "not sure".
const baseBudget = 4096

// maxHops bounds how often one value is re-checked through $ref/allOf/anyOf,
// so a reference cycle cannot loop.
const maxHops = 32

// value checks the value at pos against n and leaves pos after it.
func (v *Checker) value(n *node, depth, hops int) bool {
	if v.budget--; v.budget < 0 {
		return false
	}
	if n.unsure || n.never || depth > jsonparse.MaxDepth || hops > maxHops || v.pos >= len(v.data) {
		return false
	}
	start := v.pos
	for _, sub := range n.allOf {
		v.pos = start
		if !v.value(sub, depth, hops+1) {
			return false
		}
	}
	if len(n.anyOf) > 0 {
		matched := false
		for _, sub := range n.anyOf {
			v.pos = start
			if v.value(sub, depth, hops+1) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	v.pos = start
	switch c := v.data[v.pos]; {
	case c == '{':
		return v.allows(n, tObject) && v.object(n, depth+1)
	case c == '[':
		return v.allows(n, tArray) && v.array(n, depth+1)
	case c == '"':
		return v.allows(n, tString) && v.str(n)
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number(n)
	case c == 't' || c == 'f':
		if !v.allows(n, tBool) {
			return false
		}
		b := c == 't'
		word := "false"
		if b {
			word = "true"
		}
		if !v.literal(word) {
			return false
		}
		return n.scalarOK(constant{typ: tBool, b: b})
	case c == 'n':
		return v.allows(n, tNull) && v.literal("null") && n.scalarOK(constant{typ: tNull})
	}
	return false
}

func (v *Checker) allows(n *node, t uint8) bool {
	if n.types != 0 && n.types&t == 0 {
		return false
	}
	if (n.hasEnum || n.hasConst) && (t == tObject || t == tArray) {
		return false // enum and const here hold scalars only
	}
	return true
}

func (v *Checker) literal(word string) bool {
	if len(v.data)-v.pos < len(word) || string(v.data[v.pos:v.pos+len(word)]) != word {
		return false
	}
	v.pos += len(word)
	return true
}

// scalarOK reports whether the scalar got certainly satisfies both n's enum
// and its const (each when present). Numbers are compared by their text, so
// another spelling of an equal number is "not sure".
func (n *node) scalarOK(got constant) bool {
	if n.hasConst && n.konst != got {
		return false
	}
	if !n.hasEnum {
		return true
	}
	for _, e := range n.enum {
		if e == got {
			return true
		}
	}
	return false
}

func (v *Checker) object(n *node, depth int) bool {
	v.pos++ // {
	var seen uint64
	count := 0
	v.space()
	if v.pos < len(v.data) && v.data[v.pos] == '}' {
		v.pos++
		return n.nRequired == 0
	}
	for {
		key, ok := v.memberName()
		if !ok {
			return false
		}
		count++
		if bit, ok := n.required[unsafeString(key)]; ok {
			seen |= 1 << bit
		}
		valStart := v.pos
		if depth == 1 {
			// The record itself (a nested object has depth 2 or more). Its
			// last walk is a complete one when it is certified, and each
			// walk meets the members in order: the last occurrence wins.
			for i, w := range v.want {
				if w == unsafeString(key) {
					v.at[i] = valStart
				}
			}
		}
		handled := false
		if sub, ok := n.props[unsafeString(key)]; ok {
			if !v.value(sub, depth, 0) {
				return false
			}
			handled = true
		}
		if len(n.patternProps) > 0 {
			for _, pp := range n.patternProps {
				if v.match(pp.prog, key) {
					v.pos = valStart
					if !v.value(pp.node, depth, 0) {
						return false
					}
					handled = true
				}
			}
		}
		if !handled {
			if n.additional != nil {
				if !v.value(n.additional, depth, 0) {
					return false
				}
			} else if !v.skip(depth) {
				return false
			}
		}
		var more bool
		if v.pos, more, ok = jsonparse.Separator(v.data, v.pos, '}'); !ok {
			return false
		}
		if !more {
			if n.maxProps >= 0 && count > n.maxProps {
				return false // duplicate keys may make this too strict: fine
			}
			return seen == (uint64(1)<<n.nRequired)-1 // 1<<64 is 0 in Go, so 64 works too
		}
	}
}

func (v *Checker) array(n *node, depth int) bool {
	v.pos++ // [
	count := 0
	v.space()
	if v.pos < len(v.data) && v.data[v.pos] == ']' {
		v.pos++
		return n.minItems <= 0
	}
	for {
		if n.items != nil {
			if !v.value(n.items, depth, 0) {
				return false
			}
		} else if !v.skip(depth) {
			return false
		}
		count++
		var more, ok bool
		if v.pos, more, ok = jsonparse.Separator(v.data, v.pos, ']'); !ok {
			return false
		}
		if !more {
			return (n.minItems < 0 || count >= n.minItems) && (n.maxItems < 0 || count <= n.maxItems)
		}
	}
}

// str checks a string value against n.
func (v *Checker) str(n *node) bool {
	s, ok := v.readString()
	if !ok {
		return false
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(s)
		if (n.minLen >= 0 && l < n.minLen) || (n.maxLen >= 0 && l > n.maxLen) {
			return false
		}
	}
	if n.pattern != 0 && !v.match(n.pattern-1, s) {
		return false
	}
	if (n.hasEnum || n.hasConst) && !n.scalarOK(constant{typ: tString, text: unsafeString(s)}) {
		return false
	}
	if n.format != nil && n.format.Validate(string(s)) != nil {
		return false
	}
	return true
}

// memberName reads the name of an object member at pos, and the ':' after
// it, and leaves pos at the value. The name is as readString returns it.
func (v *Checker) memberName() ([]byte, bool) {
	if v.pos >= len(v.data) || v.data[v.pos] != '"' {
		return nil, false
	}
	key, ok := v.readString()
	if !ok {
		return nil, false
	}
	v.space()
	if v.pos >= len(v.data) || v.data[v.pos] != ':' {
		return nil, false
	}
	v.pos++
	v.space()
	return key, true
}

// readString reads a quoted string at pos and returns its decoded bytes,
// which the caller must not modify. They point into data, or, when the
// string needed decoding, into a string of their own: never into a buffer
// that a later call reuses, so a property name stays intact while its value
// is checked.
func (v *Checker) readString() ([]byte, bool) {
	start := v.pos + 1
	for i := start; i < len(v.data); i++ {
		c := v.data[i]
		if c == '"' {
			v.pos = i + 1
			return v.data[start:i], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	// Escapes or non-ASCII: let the full parser's string decoder do it.
	str, end, err := jsonparse.ReadString(v.data, v.pos)
	if err != nil {
		return nil, false
	}
	v.pos = end
	return unsafe.Slice(unsafe.StringData(str), len(str)), true
}

func (v *Checker) number(n *node) bool {
	start := v.pos
	end, ok := jsonparse.ScanNumber(v.data, v.pos)
	if !ok {
		return false
	}
	v.pos = end
	text := v.data[start:v.pos]
	integral := true
	for _, c := range text {
		if c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	if !integral && !jsonparse.ExponentInRange(text) {
		return false // the full parser refuses it
	}
	switch {
	case n.types == 0:
	case integral && n.types&tInteger != 0:
	case !integral && n.types&tNumber != 0:
	default:
		return false // includes 1.0 for "integer": not sure
	}
	if (n.hasEnum || n.hasConst) && !n.scalarOK(constant{typ: tNumber, text: unsafeString(text)}) {
		return false // a different spelling of an equal number is possible: not sure
	}
	if n.min == nil && n.max == nil && n.exMin == nil && n.exMax == nil {
		return true
	}
	var iv int64
	exact := false
	if integral && len(text) <= 18 {
		if x, err := strconv.ParseInt(unsafeString(text), 10, 64); err == nil {
			iv, exact = x, true
		}
	}
	f, err := strconv.ParseFloat(unsafeString(text), 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	// cmp returns -1, 0, 1 comparing the value with b, or 2 if not sure.
	cmp := func(b *bound) int {
		if exact && b.exact {
			switch {
			case iv < b.i:
				return -1
			case iv > b.i:
				return 1
			}
			return 0
		}
		// Rounding to float64 is monotonic, so a strict float inequality
		// holds for the exact values too; equality proves nothing.
		switch {
		case f < b.f:
			return -1
		case f > b.f:
			return 1
		}
		return 2
	}
	if n.min != nil {
		if c := cmp(n.min); c != 1 && c != 0 {
			return false
		}
	}
	if n.max != nil {
		if c := cmp(n.max); c != -1 && c != 0 {
			return false
		}
	}
	if n.exMin != nil && cmp(n.exMin) != 1 {
		return false
	}
	if n.exMax != nil && cmp(n.exMax) != -1 {
		return false
	}
	return true
}

// skip checks and passes over any JSON value.
func (v *Checker) skip(depth int) bool {
	return v.value(anyNode, depth, 0)
}

// anyNode is the empty schema.
var anyNode = &node{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
