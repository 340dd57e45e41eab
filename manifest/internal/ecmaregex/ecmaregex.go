// Package ecmaregex runs JSON Schema's regular expressions, which are
// ECMA-262's, with Go's regexp (RE2). ToGo rewrites the constructs whose
// meaning differs so that a pattern matches what it matches in JavaScript,
// and refuses, with a message saying what to write instead, those RE2 cannot
// run (lookaround, backreferences). Both validation paths of the manifest
// code translate patterns here, so they run the same regular expressions.
// See docs/manifest-schemas.md.
package ecmaregex

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// space is ECMA-262's WhiteSpace and LineTerminator: what \s matches
// there. Go's \s is only [\t\n\f\r ].
const space = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// dot is what `.` matches in ECMA-262 without the s flag: anything but a
// line terminator. Go's `.` only leaves out \n.
const dot = `[^\n\r\x{2028}\x{2029}]`

// ErrUnsupported is wrapped by the error for a pattern that uses an
// ECMA-262 construct Go's regexp cannot run.
var ErrUnsupported = errors.New("not supported by Go's regular expressions (RE2)")

// ToGo translates an ECMA-262 pattern to Go regexp syntax.
func ToGo(pat string) (string, error) {
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
				out.WriteString(space)
			case e == 's':
				out.WriteString("[" + space + "]")
			case e == 'S' && inClass && negated:
				return "", fmt.Errorf("\\S inside a negated character class is %w; write the class without it", ErrUnsupported)
			case e == 'S' && inClass:
				nonSpace = true // [a\S] is (?:[a]|\S), written when the class ends
			case e == 'S':
				out.WriteString("[^" + space + "]")
			case e == 'c' && i+1 < len(pat) && isASCIILetter(pat[i+1]):
				fmt.Fprintf(out, `\x%02x`, pat[i+1]%32) // a control character
				i++
			case e == 'u' && i+4 < len(pat) && isHex(pat[i+1:i+5]):
				out.WriteString(`\x{` + pat[i+1:i+5] + `}`)
				i += 4
			case e >= '1' && e <= '9' && !inClass:
				return "", fmt.Errorf("the backreference \\%c is %w; match the text itself or check it outside the schema", e, ErrUnsupported)
			case e == 'k' && i+1 < len(pat) && pat[i+1] == '<':
				return "", fmt.Errorf("the backreference \\k<...> is %w", ErrUnsupported)
			default:
				out.WriteByte('\\')
				out.WriteByte(e)
			}
		case inClass && c == ']':
			inClass, out = false, &sb
			body := cls.String()
			switch {
			case nonSpace && body == "":
				sb.WriteString("[^" + space + "]")
			case nonSpace:
				sb.WriteString("(?:[" + body + "]|[^" + space + "])")
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
			sb.WriteString(dot)
		case c == '(' && strings.HasPrefix(pat[i:], "(?="), c == '(' && strings.HasPrefix(pat[i:], "(?!"):
			return "", fmt.Errorf("lookahead %s...) is %w; write the condition as a separate schema keyword (not, allOf) or spell out what may follow", pat[i:i+3], ErrUnsupported)
		case c == '(' && (strings.HasPrefix(pat[i:], "(?<=") || strings.HasPrefix(pat[i:], "(?<!")):
			return "", fmt.Errorf("lookbehind %s...) is %w; write the condition as a separate schema keyword (not, allOf) or spell out what may precede", pat[i:i+4], ErrUnsupported)
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

// Compile compiles an ECMA-262 pattern to the Go regexp that runs it.
func Compile(pat string) (*regexp.Regexp, error) {
	goPat, err := ToGo(pat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	return re, nil
}

// isHex reports whether s is all hexadecimal digits, of either case.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}
