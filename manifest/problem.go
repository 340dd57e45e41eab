package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with a manifest, located by line and JSON pointer.
type Problem struct {
	// Line is the 1-based line where the record starts (for CSV, the CSV
	// line; for malformed JSON, the line of the error).
	Line int `json:"line"`
	// Column is the 1-based column of a syntax error, 0 otherwise.
	Column int `json:"column,omitempty"`
	// Pointer is the JSON pointer of the offending value inside the record
	// ("" for the record itself); for CSV it names the column.
	Pointer string `json:"pointer"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Value is the offending scalar value as JSON, shortened; "" if none.
	Value string `json:"value,omitempty"`
}

// String formats p as "LINE[:COL]: POINTER: MESSAGE (VALUE)" without the file name.
func (p Problem) String() string {
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(p.Line))
	if p.Column > 0 {
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(p.Column))
	}
	sb.WriteString(": ")
	if p.Pointer != "" || p.Column == 0 {
		ptr := p.Pointer
		if ptr == "" {
			ptr = "(record)"
		}
		sb.WriteString(ptr)
		sb.WriteString(": ")
	}
	sb.WriteString(p.Message)
	if p.Value != "" {
		sb.WriteString(" (value ")
		sb.WriteString(p.Value)
		sb.WriteByte(')')
	}
	return sb.String()
}

// maxValueLen is how many characters of an offending value are shown.
const maxValueLen = 40

// shortValue renders a scalar v as JSON, cut to maxValueLen characters.
// Objects and arrays give "".
func shortValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return shorten(string(v))
	case string:
		if utf8.RuneCountInString(v) > maxValueLen {
			r := []rune(v)
			return strconv.Quote(string(r[:maxValueLen-1])) + "…"
		}
		return strconv.Quote(v)
	case float64, int, int64:
		return fmt.Sprint(v)
	default:
		return ""
	}
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxValueLen {
		return s
	}
	r := []rune(s)
	return string(r[:maxValueLen-1]) + "…"
}
