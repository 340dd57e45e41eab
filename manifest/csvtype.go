package manifest

import (
	"encoding/json"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// fieldKind says which JSON types a CSV column's schema allows, and so how
// its cells are typed before validation (see typeCell).
type fieldKind uint8

// The JSON types, as bits of a fieldKind. kindNumber includes integers.
const (
	kindNull fieldKind = 1 << iota
	kindBoolean
	kindInteger
	kindNumber
	kindString
	kindObject
	kindArray

	kindAny = kindNull | kindBoolean | kindInteger | kindNumber | kindString | kindObject | kindArray
)

// The kinds of columns whose schema allows one type.
const (
	fieldString  = kindString               // left as text
	fieldInteger = kindInteger              // "integer"
	fieldNumber  = kindInteger | kindNumber // "number" (integers included)
	fieldBoolean = kindBoolean              // "boolean"
)

// maxTypeDepth bounds the walk through $ref, allOf, anyOf and oneOf, so that
// a recursive schema cannot loop.
const maxTypeDepth = 16

// columnKinds decides, for each CSV column, which JSON types its cells may
// take, from everything the schema says about the property of that name:
// type (and type arrays), const, enum, $ref, allOf, anyOf and oneOf, at the
// top and inside the property; properties, patternProperties and, for a
// name neither names, additionalProperties. A column the schema does not
// constrain stays text.
func (s *Schema) columnKinds(header []string) []fieldKind {
	kinds := make([]fieldKind, len(header))
	for i, h := range header {
		k := propertyKind(s.sch, h, 0)
		switch {
		case k == kindAny || k == 0:
			k = kindString // unconstrained, or nothing allowed: text
		case k&kindString != 0:
			k = kindString | k&kindNull // text, and null for an empty cell
		}
		kinds[i] = k
	}
	return kinds
}

// propertyKind is the set of types the property name of an object valid
// under s may have.
func propertyKind(s *jsonschema.Schema, name string, depth int) fieldKind {
	if s == nil || depth > maxTypeDepth {
		return kindAny
	}
	k := kindAny
	if s.Bool != nil {
		return k
	}
	p, named := s.Properties[name]
	if named {
		k &= valueKind(p, depth+1)
	}
	matched := named
	for re, ps := range s.PatternProperties {
		if re.MatchString(name) {
			k &= valueKind(ps, depth+1)
			matched = true
		}
	}
	if ap, ok := s.AdditionalProperties.(*jsonschema.Schema); ok && !matched {
		k &= valueKind(ap, depth+1)
	}
	if s.Ref != nil {
		k &= propertyKind(s.Ref, name, depth+1)
	}
	for _, sub := range s.AllOf {
		k &= propertyKind(sub, name, depth+1)
	}
	k &= unionKind(s.AnyOf, func(sub *jsonschema.Schema) fieldKind { return propertyKind(sub, name, depth+1) })
	k &= unionKind(s.OneOf, func(sub *jsonschema.Schema) fieldKind { return propertyKind(sub, name, depth+1) })
	return k
}

// valueKind is the set of types a value valid under s may have.
func valueKind(s *jsonschema.Schema, depth int) fieldKind {
	if s == nil || depth > maxTypeDepth {
		return kindAny
	}
	if s.Bool != nil {
		if *s.Bool {
			return kindAny
		}
		return 0
	}
	k := kindAny
	if s.Types != nil {
		var t fieldKind
		for _, name := range s.Types.ToStrings() {
			t |= typeKind(name)
		}
		k &= t
	}
	if s.Const != nil {
		k &= jsonKind(*s.Const)
	}
	if s.Enum != nil {
		var t fieldKind
		for _, v := range s.Enum.Values {
			t |= jsonKind(v)
		}
		k &= t
	}
	if s.Ref != nil {
		k &= valueKind(s.Ref, depth+1)
	}
	for _, sub := range s.AllOf {
		k &= valueKind(sub, depth+1)
	}
	k &= unionKind(s.AnyOf, func(sub *jsonschema.Schema) fieldKind { return valueKind(sub, depth+1) })
	k &= unionKind(s.OneOf, func(sub *jsonschema.Schema) fieldKind { return valueKind(sub, depth+1) })
	return k
}

// unionKind is the union of f over the branches, or kindAny when there are none.
func unionKind(branches []*jsonschema.Schema, f func(*jsonschema.Schema) fieldKind) fieldKind {
	if len(branches) == 0 {
		return kindAny
	}
	var k fieldKind
	for _, b := range branches {
		k |= f(b)
	}
	return k
}

func typeKind(name string) fieldKind {
	switch name {
	case "null":
		return kindNull
	case "boolean":
		return kindBoolean
	case "integer":
		return kindInteger
	case "number":
		return kindInteger | kindNumber
	case "string":
		return kindString
	case "object":
		return kindObject
	case "array":
		return kindArray
	}
	return 0
}

// jsonKind is the type of a decoded JSON value. An integral number is both
// an integer and a number.
func jsonKind(v any) fieldKind {
	switch v := v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBoolean
	case string:
		return kindString
	case map[string]any:
		return kindObject
	case []any:
		return kindArray
	default:
		if isIntegral(v) {
			return kindInteger | kindNumber
		}
		return kindNumber
	}
}

// isIntegral reports whether a number in a schema has no fractional part.
func isIntegral(v any) bool {
	switch n := v.(type) {
	case int, int64:
		return true
	case float64:
		return n == float64(int64(n))
	case json.Number:
		return !strings.ContainsAny(string(n), ".eE")
	}
	return false
}

// NullToken is the cell text, besides an empty cell, that is read as JSON
// null in a CSV column whose schema allows null but not strings. It is
// matched without regard to case.
const NullToken = "null"

// typeCell converts one CSV cell to the JSON value it stands for in a column
// of kind k:
//   - an empty cell is null where the column allows null (it is left out of
//     the record otherwise, by the caller);
//   - in a column that allows strings, any other cell stays text;
//   - otherwise a number where numbers are allowed, true or false where
//     booleans are, and NullToken where null is.
//
// A cell that does not parse is returned unchanged, so that the validator
// reports the type mismatch with the value.
func typeCell(k fieldKind, cell string) any {
	if cell == "" {
		if k&kindNull != 0 {
			return nil
		}
		return cell
	}
	if k&kindString != 0 {
		return cell
	}
	c := strings.TrimSpace(cell)
	if k&(kindInteger|kindNumber) != 0 && c != "" && (c[0] == '-' || (c[0] >= '0' && c[0] <= '9')) {
		if v, err := jsonparse.Parse([]byte(c)); err == nil {
			return v // a number: c starts like one and has no space around it
		}
	}
	if k&kindBoolean != 0 {
		switch strings.ToLower(c) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	if k&kindNull != 0 && strings.EqualFold(c, NullToken) {
		return nil
	}
	return cell
}
