package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSON Schema's `pattern` and `patternProperties` are ECMA-262 regular
// expressions; datalfs runs them with Go's regexp (RE2). ecmaToGo rewrites
// the constructs whose meaning differs so that a pattern matches what it
// matches in JavaScript, and refuses, with a message saying what to write
// instead, those RE2 cannot run (lookaround, backreferences). See
// docs/manifest-schemas.md.

// ecmaSpace is ECMA-262's WhiteSpace and LineTerminator: what \s matches
// there. Go's \s is only [\t\n\f\r ].
const ecmaSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// ecmaDot is what `.` matches in ECMA-262 without the s flag: anything but a
// line terminator. Go's `.` only leaves out \n.
const ecmaDot = `[^\n\r\x{2028}\x{2029}]`

// ErrUnsupportedRegexp is wrapped by the error for a pattern that uses an
// ECMA-262 construct Go's regexp cannot run.
var ErrUnsupportedRegexp = errors.New("not supported by Go's regular expressions (RE2)")

// ecmaToGo translates an ECMA-262 pattern to Go regexp syntax.
func ecmaToGo(pat string) (string, error) {
	var sb, cls strings.Builder // the pattern; the character class being read
	out := &sb
	inClass, negated, nonSpace := false, false, false
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c == '\\' && i+1 < len(pat):
			e := pat[i+1]
			i++
			switch {
			case e == 's' && inClass:
				out.WriteString(ecmaSpace)
			case e == 's':
				out.WriteString("[" + ecmaSpace + "]")
			case e == 'S' && inClass && negated:
				return "", fmt.Errorf("\\S inside a negated character class is %w; write the class without it", ErrUnsupportedRegexp)
			case e == 'S' && inClass:
				nonSpace = true // [a\S] is (?:[a]|\S), written when the class ends
			case e == 'S':
				out.WriteString("[^" + ecmaSpace + "]")
			case e == 'c' && i+1 < len(pat) && isASCIILetter(pat[i+1]):
				fmt.Fprintf(out, `\x%02x`, pat[i+1]%32) // a control character
				i++
			case e == 'u' && i+4 < len(pat) && isHex(pat[i+1:i+5]):
				out.WriteString(`\x{` + pat[i+1:i+5] + `}`)
				i += 4
			case e >= '1' && e <= '9' && !inClass:
				return "", fmt.Errorf("the backreference \\%c is %w; match the text itself or check it outside the schema", e, ErrUnsupportedRegexp)
			case e == 'k' && i+1 < len(pat) && pat[i+1] == '<':
				return "", fmt.Errorf("the backreference \\k<...> is %w", ErrUnsupportedRegexp)
			default:
				out.WriteByte('\\')
				out.WriteByte(e)
			}
		case inClass && c == ']':
			inClass, out = false, &sb
			body := cls.String()
			switch {
			case nonSpace && body == "":
				sb.WriteString("[^" + ecmaSpace + "]")
			case nonSpace:
				sb.WriteString("(?:[" + body + "]|[^" + ecmaSpace + "])")
			case negated:
				sb.WriteString("[^" + body + "]")
			default:
				sb.WriteString("[" + body + "]")
			}
		case inClass:
			out.WriteByte(c)
		case c == '[':
			negated = i+1 < len(pat) && pat[i+1] == '^'
			if negated {
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' {
				// ECMA-262's empty classes: [] matches nothing, [^] anything.
				if negated {
					sb.WriteString(`(?s:.)`)
				} else {
					sb.WriteString(`[^\x00-\x{10FFFF}]`)
				}
				i++
				continue
			}
			inClass, nonSpace, out = true, false, &cls
			cls.Reset()
		case c == '.':
			sb.WriteString(ecmaDot)
		case c == '(' && strings.HasPrefix(pat[i:], "(?="), c == '(' && strings.HasPrefix(pat[i:], "(?!"):
			return "", fmt.Errorf("lookahead %s...) is %w; write the condition as a separate schema keyword (not, allOf) or spell out what may follow", pat[i:i+3], ErrUnsupportedRegexp)
		case c == '(' && (strings.HasPrefix(pat[i:], "(?<=") || strings.HasPrefix(pat[i:], "(?<!")):
			return "", fmt.Errorf("lookbehind %s...) is %w; write the condition as a separate schema keyword (not, allOf) or spell out what may precede", pat[i:i+4], ErrUnsupportedRegexp)
		default:
			sb.WriteByte(c)
		}
	}
	if inClass {
		// Unterminated: hand Go the text as written, for its own error.
		sb.WriteByte('[')
		if negated {
			sb.WriteByte('^')
		}
		sb.WriteString(cls.String())
	}
	return sb.String(), nil
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// ecmaRegexp is a pattern compiled from its ECMA-262 source; it prints as
// the source, so that messages quote the schema.
type ecmaRegexp struct {
	*regexp.Regexp
	src string
}

// String returns the pattern as the schema wrote it.
func (r ecmaRegexp) String() string { return r.src }

// compileECMA compiles an ECMA-262 pattern for the schema library.
func compileECMA(pat string) (jsonschema.Regexp, error) {
	re, err := compilePattern(pat)
	if err != nil {
		return nil, err
	}
	return ecmaRegexp{re, pat}, nil
}

// compilePattern compiles an ECMA-262 pattern to the Go regexp that runs it.
func compilePattern(pat string) (*regexp.Regexp, error) {
	goPat, err := ecmaToGo(pat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	return re, nil
}

// dataKeywords hold instance data, not schemas: a "pattern" inside them is
// not a regular expression.
var dataKeywords = map[string]bool{"const": true, "enum": true, "examples": true, "default": true}

// nameKeywords map names (of properties, definitions, ...) to schemas.
var nameKeywords = map[string]bool{
	"properties": true, "patternProperties": true, "$defs": true, "definitions": true,
	"dependentSchemas": true, "dependencies": true,
}

// ecmaDoc returns a copy of a schema document with every pattern and
// patternProperties key rewritten to the Go syntax the library compiles it
// to, for the fast path, which compiles patterns with regexp.Compile: so
// both paths run the same regular expressions. It descends into every
// keyword but the data ones, so that a $ref into an unknown keyword finds
// rewritten patterns too. A pattern that does not translate is left as it
// is (the library has refused the schema then).
func ecmaDoc(doc any) any {
	return ecmaSchema(doc, 0)
}

func ecmaSchema(v any, depth int) any {
	if depth > maxDepth {
		return v
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = ecmaSchema(s, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			switch {
			case dataKeywords[k]:
			case k == "pattern":
				if s, ok := val.(string); ok {
					val = ecmaPattern(s)
				} else {
					val = ecmaSchema(val, depth+1)
				}
			case nameKeywords[k]:
				if m, ok := val.(map[string]any); ok {
					nm := make(map[string]any, len(m))
					for name, sub := range m {
						if k == "patternProperties" {
							name = ecmaPattern(name)
						}
						nm[name] = ecmaSchema(sub, depth+1)
					}
					val = nm
				}
			default:
				val = ecmaSchema(val, depth+1)
			}
			out[k] = val
		}
		return out
	}
	return v
}

// ecmaPattern is pat in Go syntax, or pat itself when it does not translate.
func ecmaPattern(pat string) string {
	if g, err := ecmaToGo(pat); err == nil {
		return g
	}
	return pat
}
