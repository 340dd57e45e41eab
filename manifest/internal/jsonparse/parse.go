// Package jsonparse is manifest's JSON parser: it turns one JSON value into
// the map[string]any, []any, json.Number, string, bool and nil values the
// JSON Schema library validates, and reports malformed input with its byte
// offset. It is about three times faster than encoding/json into an any.
// FuzzParseJSON checks it against encoding/json.
//
// The fast path (manifest/internal/fastpath) reads records in place and
// uses ReadString, ScanNumber and ExponentInRange, so that both paths
// decode strings and accept numbers by the very same code.
package jsonparse

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds nesting so that hostile input cannot exhaust the stack.
const MaxDepth = 10000

// SyntaxError is malformed JSON at a byte offset of the parsed text.
type SyntaxError struct {
	Offset int // byte offset of the offending byte
	Msg    string
}

// Error returns the message without the position, which callers add.
func (e *SyntaxError) Error() string { return e.Msg }

// Parse parses one JSON value that must fill data (surrounding white
// space aside). Objects become map[string]any, arrays []any, numbers
// json.Number (no precision is lost), as the validator expects.
//
// It is a small hand-written parser: about three times faster than
// encoding/json into an any, and it reports the exact offset of an error.
func Parse(data []byte) (any, error) {
	p := parser{data: data}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return nil, p.errorf("unexpected %s after the JSON value", p.describe())
	}
	return v, nil
}

type parser struct {
	data []byte
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

// describe names the byte at pos for an error message.
func (p *parser) describe() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	return DescribeByte(p.data[p.pos])
}

// DescribeByte names a byte for an error message: a printable ASCII
// character quoted, anything else in hex.
func DescribeByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return strconv.QuoteRune(rune(c))
}

func (p *parser) skipSpace() { p.pos = SkipSpace(p.data, p.pos) }

// SkipSpace returns the offset of the first byte at or after pos that is
// not JSON white space.
func SkipSpace(data []byte, pos int) int {
	for pos < len(data) {
		switch data[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
		default:
			return pos
		}
	}
	return pos
}

// Separator reads what follows a member of an object or an element of an
// array, from pos: white space, then ',' or the closing byte close. It
// returns the offset after them (and after the white space that follows a
// ','), and more, true for a ','. ok is false when neither is there; end is
// then the offset of the offending byte (len(data) at the end).
func Separator(data []byte, pos int, close byte) (end int, more, ok bool) {
	pos = SkipSpace(data, pos)
	if pos >= len(data) {
		return pos, false, false
	}
	switch data[pos] {
	case ',':
		return SkipSpace(data, pos+1), true, true
	case close:
		return pos + 1, false, true
	}
	return pos, false, false
}

func (p *parser) value(depth int) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input, want a JSON value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	default:
		return nil, p.errorf("unexpected %s, want a JSON value", p.describe())
	}
}

func (p *parser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.data) || p.data[p.pos] != word[i] {
			return p.errorf("unexpected %s in literal %q", p.describe(), word)
		}
		p.pos++
	}
	return nil
}

func (p *parser) object(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.pos++ // {
	obj := make(map[string]any, 8)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return obj, nil
	}
	for {
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("unexpected %s, want a quoted property name", p.describe())
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("unexpected %s after property name, want ':'", p.describe())
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		var more, ok bool
		if p.pos, more, ok = Separator(p.data, p.pos, '}'); !ok {
			return nil, p.errorf("unexpected %s in object, want ',' or '}'", p.describe())
		}
		if !more {
			return obj, nil
		}
	}
}

func (p *parser) array(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.pos++ // [
	arr := make([]any, 0, 4)
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return arr, nil
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		var more, ok bool
		if p.pos, more, ok = Separator(p.data, p.pos, ']'); !ok {
			return nil, p.errorf("unexpected %s in array, want ',' or ']'", p.describe())
		}
		if !more {
			return arr, nil
		}
	}
}

// ReadString decodes the quoted string that starts at data[pos] (its
// opening quote) and returns it with the offset just past its closing
// quote.
func ReadString(data []byte, pos int) (string, int, error) {
	p := parser{data: data, pos: pos}
	s, err := p.string()
	return s, p.pos, err
}

// ScanNumber moves past the JSON number that starts at data[pos] and
// returns the offset after it; ok is false when no number starts there.
// It does not check the exponent's range (ExponentInRange does).
func ScanNumber(data []byte, pos int) (end int, ok bool) {
	p := parser{data: data, pos: pos}
	ok = p.scanNumber()
	return p.pos, ok
}

// string parses a quoted string at pos.
func (p *parser) string() (string, error) {
	start := p.pos + 1
	i := start
	// Fast path: no escapes, plain ASCII or valid UTF-8.
	ascii := true
	for i < len(p.data) {
		c := p.data[i]
		if c == '"' {
			s := p.data[start:i]
			if !ascii && !utf8.Valid(s) {
				break
			}
			p.pos = i + 1
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= 0x80 {
			ascii = false
		}
		i++
	}
	return p.slowString(start)
}

func (p *parser) slowString(start int) (string, error) {
	buf := make([]byte, 0, 32)
	i := start
	for {
		if i >= len(p.data) {
			p.pos = i
			return "", p.errorf("unexpected end of input in string")
		}
		c := p.data[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			p.pos = i
			return "", p.errorf("unexpected %s in string (control characters must be escaped)", p.describe())
		case c == '\\':
			if i+1 >= len(p.data) {
				p.pos = i + 1
				return "", p.errorf("unexpected end of input in string escape")
			}
			e := p.data[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(p.data, i)
				if !ok {
					p.pos = i
					return "", p.errorf("invalid \\u escape in string, want 4 hex digits")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+6 <= len(p.data) && p.data[i] == '\\' && p.data[i+1] == 'u' {
						r2, ok = hex4(p.data, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.pos = i - 1
				return "", p.errorf("invalid escape %s in string", p.describe())
			}
		case c < 0x80:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(p.data[i:])
			if r == utf8.RuneError && size <= 1 {
				p.pos = i
				return "", p.errorf("invalid UTF-8 %s in string", p.describe())
			}
			buf = append(buf, p.data[i:i+size]...)
			i += size
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number parses a JSON number at pos, following the grammar exactly.
func (p *parser) number() (any, error) {
	start := p.pos
	if !p.scanNumber() {
		return nil, p.errorf("unexpected %s in number, want a digit", p.describe())
	}
	if !ExponentInRange(p.data[start:p.pos]) {
		p.pos = start
		return nil, p.errorf("number out of range: its decimal exponent is beyond ±%d", maxExponent)
	}
	return json.Number(p.data[start:p.pos]), nil
}

// maxExponent bounds a number's decimal exponent, as math/big's
// Rat.SetString does: the validator compares numbers exactly as big.Rat, and
// panics on a number it cannot represent.
const maxExponent = 1_000_000

// ExponentInRange reports whether the number text (valid JSON) has a decimal
// exponent, net of its fraction digits, within ±maxExponent.
func ExponentInRange(text []byte) bool {
	frac, exp, neg := 0, 0, false
	i := 0
	for i < len(text) && text[i] != '.' && text[i] != 'e' && text[i] != 'E' {
		i++
	}
	if i < len(text) && text[i] == '.' {
		i++
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			frac++
			i++
		}
	}
	if i < len(text) {
		i++ // e or E
		if text[i] == '+' || text[i] == '-' {
			neg = text[i] == '-'
			i++
		}
		for ; i < len(text); i++ {
			if exp < 1<<40 { // saturate: beyond, no fraction can bring it back
				exp = exp*10 + int(text[i]-'0')
			}
		}
	}
	if neg {
		exp = -exp
	}
	e := exp - frac
	return e >= -maxExponent && e <= maxExponent
}

// scanNumber moves past a JSON number at pos. On failure pos is left at the
// offending byte.
func (p *parser) scanNumber() bool {
	i := p.pos
	d := p.data
	if i < len(d) && d[i] == '-' {
		i++
	}
	ok := true
	if i < len(d) && d[i] == '0' {
		i++
	} else if i, ok = digits(d, i); !ok {
		p.pos = i
		return false
	}
	if i < len(d) && d[i] == '.' {
		if i, ok = digits(d, i+1); !ok {
			p.pos = i
			return false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i, ok = digits(d, i); !ok {
			p.pos = i
			return false
		}
	}
	p.pos = i
	return true
}

// digits moves past one or more decimal digits at d[i]; ok is false when
// there is none.
func digits(d []byte, i int) (end int, ok bool) {
	if i >= len(d) || d[i] < '0' || d[i] > '9' {
		return i, false
	}
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i, true
}

// LineCol turns a byte offset in data into a 1-based line and column
// (the column counts characters, not bytes).
func LineCol(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	line, lineStart := 1, 0
	for i := 0; i < offset; i++ {
		if data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCount(data[lineStart:offset]) + 1
}
