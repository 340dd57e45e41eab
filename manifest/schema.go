package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/ecmaregex"
	"github.com/datalfs/datalfs/manifest/internal/fastpath"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// ReadFunc reads a file by its path on disk. The staged mode passes one that
// reads the index instead of the working tree.
type ReadFunc func(path string) ([]byte, error)

// Schema is a compiled JSON Schema together with what the validator needs to
// know about where it came from.
type Schema struct {
	// Path is the schema file as it was named.
	Path string
	// Digest is the SHA-256 of the schema files read to compile it, in
	// order, so that a change to any referenced file changes it.
	Digest string

	sch  *jsonschema.Schema
	fast *fastpath.Schema // nil when the fast path does not apply
}

// CompileSchema reads and compiles the JSON Schema at path, following `$ref`s
// to other local files with read. Schemas without "$schema" are taken as
// draft 2020-12; formats ("date-time", "uri", ...) are asserted, as
// check-jsonschema does. Remote references are refused.
func CompileSchema(path string, read ReadFunc) (*Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return compileSchema(abs, func(string) string { return path }, read)
}

// compileSchema compiles the schema at the absolute path abs; name turns an
// absolute path into the name shown in messages.
func compileSchema(abs string, name func(abs string) string, read ReadFunc) (*Schema, error) {
	path := name(abs)
	h := sha256.New()
	var rootDoc any
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseRegexpEngine(compileECMA)
	c.UseLoader(loaderFunc(func(u string) (any, error) {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		if pu.Scheme != "file" {
			return nil, fmt.Errorf("remote references are not supported (%s); copy the schema into the repository and refer to it by a relative path", u)
		}
		data, err := read(filepath.FromSlash(pu.Path))
		if err != nil {
			return nil, err
		}
		h.Write(data)
		doc, err := jsonparse.Parse(data)
		if err != nil {
			line, col := 0, 0
			var se *jsonparse.SyntaxError
			if errors.As(err, &se) {
				line, col = jsonparse.LineCol(data, se.Offset)
			}
			return nil, fmt.Errorf("%s:%d:%d: malformed JSON: %v", name(filepath.FromSlash(pu.Path)), line, col, err)
		}
		if filepath.FromSlash(pu.Path) == abs {
			rootDoc = doc
		}
		return doc, nil
	}))
	sch, err := c.Compile(abs)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %s", path, schemaErrorText(err, name))
	}
	s := &Schema{Path: path, Digest: hex.EncodeToString(h.Sum(nil)), sch: sch}
	if rootDoc != nil {
		s.fast = fastpath.Compile(rootDoc)
	}
	return s, nil
}

// schemaErrorText flattens the library's nested errors into one line.
func schemaErrorText(err error, name func(string) string) string {
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		msg := le.Err.Error()
		if errors.Is(le.Err, fs.ErrNotExist) {
			msg = "no such file"
		}
		if u, err := url.Parse(le.URL); err == nil && u.Scheme == "file" {
			return "cannot load " + name(filepath.FromSlash(u.Path)) + ": " + msg
		}
		return msg
	}
	var ve *jsonschema.SchemaValidationError
	if errors.As(err, &ve) {
		var verr *jsonschema.ValidationError
		if errors.As(ve.Err, &verr) {
			if at, msg := badRegexp(verr); msg != "" {
				return "not a valid schema: at " + at + ": " + msg
			}
		}
		return "not a valid schema: " + strings.ReplaceAll(ve.Err.Error(), "\n", "; ")
	}
	var re *jsonschema.InvalidRegexError
	if errors.As(err, &re) {
		return "not a valid schema: " + re.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// badRegexp finds, in the metaschema's verdict on a schema, a pattern that
// does not compile, and returns where it is and why.
func badRegexp(e *jsonschema.ValidationError) (at, msg string) {
	if f, ok := e.ErrorKind.(*kind.Format); ok && f.Want == "regex" && f.Err != nil {
		return "/" + strings.Join(e.InstanceLocation, "/"), f.Err.Error()
	}
	for _, c := range e.Causes {
		if at, msg := badRegexp(c); msg != "" {
			return at, msg
		}
	}
	return "", ""
}

type loaderFunc func(url string) (any, error)

// Load calls f.
func (f loaderFunc) Load(url string) (any, error) { return f(url) }

var printer = message.NewPrinter(language.English)

// validate checks one record and returns its problems, sorted by pointer.
func (s *Schema) validate(line int, v any) []Problem {
	err := s.sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Line: line, Message: err.Error()}}
	}
	var out []Problem
	collectProblems(ve, line, v, &out)
	return out
}

// sortProblems orders one record's problems by pointer and message and drops
// repeats (the same failure can be reached through allOf or $ref twice).
func sortProblems(out []Problem) []Problem {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pointer != out[j].Pointer {
			return out[i].Pointer < out[j].Pointer
		}
		return out[i].Message < out[j].Message
	})
	uniq := out[:0]
	for i, p := range out {
		if i == 0 || p != out[i-1] {
			uniq = append(uniq, p)
		}
	}
	return uniq
}

// collectProblems turns the leaves of a validation error tree into problems.
func collectProblems(e *jsonschema.ValidationError, line int, record any, out *[]Problem) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		*out = append(*out, newProblem(e, line, record, alternatives(e)))
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectProblems(c, line, record, out)
		}
		return
	}
	*out = append(*out, newProblem(e, line, record, ""))
}

// alternatives summarises why each branch of an anyOf/oneOf failed.
func alternatives(e *jsonschema.ValidationError) string {
	var parts []string
	for _, c := range e.Causes {
		var leaves []Problem
		collectProblems(c, 0, nil, &leaves)
		if len(leaves) > 0 {
			l := leaves[0]
			parts = append(parts, l.Pointer+": "+l.Message)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func newProblem(e *jsonschema.ValidationError, line int, record any, suffix string) Problem {
	ptr := jsonpointer.Format(e.InstanceLocation...)
	p := Problem{Line: line, Pointer: ptr}
	var value any
	var found bool
	if record != nil {
		value, found = jsonpointer.Lookup(record, e.InstanceLocation)
	}
	switch k := e.ErrorKind.(type) {
	case *kind.Pattern:
		p.Message = fmt.Sprintf("does not match pattern %q", k.Want)
	case *kind.Format:
		p.Message = fmt.Sprintf("is not a valid %s", k.Want)
		if k.Err != nil {
			p.Message += ": " + k.Err.Error()
		}
	case *kind.FalseSchema:
		p.Message = "not allowed here"
	default:
		p.Message = e.ErrorKind.LocalizedString(printer)
	}
	p.Message += suffix
	if found {
		switch e.ErrorKind.(type) {
		case *kind.Required, *kind.AdditionalProperties, *kind.DependentRequired, *kind.Dependency:
		default:
			p.Value = shortValue(value)
		}
	}
	return p
}

// ErrUnsupportedRegexp is wrapped by the error for a pattern that uses an
// ECMA-262 construct Go's regexp cannot run.
var ErrUnsupportedRegexp = ecmaregex.ErrUnsupported

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
	re, err := ecmaregex.Compile(pat)
	if err != nil {
		return nil, err
	}
	return ecmaRegexp{re, pat}, nil
}
