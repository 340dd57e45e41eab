package fastpath

import (
	"github.com/datalfs/datalfs/manifest/internal/ecmaregex"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

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
	if depth > jsonparse.MaxDepth {
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
	if g, err := ecmaregex.ToGo(pat); err == nil {
		return g
	}
	return pat
}
