package fastpath

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// typeMask bits, one per JSON type.
const (
	tNull uint8 = 1 << iota
	tBool
	tInteger
	tNumber // any number, integral or not
	tString
	tArray
	tObject
)

// node is one compiled subschema.
type node struct {
	unsure bool  // a keyword the fast path does not implement: always "not sure"
	never  bool  // the false schema
	types  uint8 // allowed types; 0 means any

	enum     []constant // the enum keyword's values
	hasEnum  bool
	konst    constant // the const keyword's value
	hasConst bool

	minLen, maxLen int                // -1: unset
	pattern        int                // 1 + index in Schema.progs; 0: none
	format         *jsonschema.Schema // santhosh's own check, on the string only

	min, max, exMin, exMax *bound

	props        map[string]*node
	required     map[string]int // name -> bit
	nRequired    int
	patternProps []patternProp
	additional   *node // nil: anything allowed
	maxProps     int   // -1: unset

	items              *node
	minItems, maxItems int // -1: unset

	allOf []*node
	anyOf []*node
}

type patternProp struct {
	prog int // index in Schema.progs
	node *node
}

// Schema is a compiled fast path: the root node and the patterns its
// nodes use, which each Checker matches with its own lazily built DFAs. It
// is immutable and shared by all workers.
type Schema struct {
	root  *node
	progs []*asciiProg
}

// constant is a scalar constant: its JSON type and, for strings, the
// decoded text, for numbers the literal text.
type constant struct {
	typ  uint8
	text string
	b    bool
}

// bound is a numeric bound as a float64 and, when it is an integer that
// fits, as an int64 for exact comparison.
type bound struct {
	f     float64
	i     int64
	exact bool // i holds the exact value
}

// compiler turns a schema document into nodes.
type compiler struct {
	progs []*asciiProg
	root  any
	draft int
	memo  map[string]*node // by JSON pointer inside root
	fmts  map[string]*jsonschema.Schema
}

// annotations are keywords that never affect validity here.
var annotations = map[string]bool{
	"$comment": true, "title": true, "description": true, "default": true,
	"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"$defs": true, "definitions": true, "contentEncoding": true, "contentMediaType": true,
	"contentSchema": true, "$vocabulary": true,
	// Anchors name a subschema; references to them are "not sure" here.
	"$anchor": true, "$dynamicAnchor": true, "$recursiveAnchor": true,
}

// Compile compiles the fast path for a schema document as jsonparse.Parse
// returns it, with its patterns in ECMA-262 syntax: they are translated as
// the library's regexp engine translates them (ecmaregex), so both paths
// run the same regular expressions. It returns nil when the document is
// outside what the fast path handles. The product and the tests build the
// fast path through this one function.
func Compile(doc any) *Schema {
	return compileDoc(ecmaDoc(doc))
}

// compileDoc compiles the fast path for a schema document whose patterns
// are in Go syntax, or returns nil when the document is outside what it
// handles.
func compileDoc(doc any) *Schema {
	obj, isObj := doc.(map[string]any)
	draft := 2020
	if isObj {
		if s, ok := obj["$schema"]; ok {
			str, _ := s.(string)
			if draft = draftVersion(str); draft == 0 {
				return nil // a custom meta-schema may add vocabularies
			}
		}
	}
	c := &compiler{root: doc, draft: draft, memo: map[string]*node{}, fmts: map[string]*jsonschema.Schema{}}
	root := c.compile(doc, "", true)
	return &Schema{root: root, progs: c.progs}
}

// pattern compiles a pattern as santhosh-tekuri's validator does (Go's
// regexp) and returns its index.
func (c *compiler) pattern(s string) (int, bool) {
	re, err := regexp.Compile(s)
	if err != nil {
		return 0, false
	}
	c.progs = append(c.progs, newASCIIProg(re))
	return len(c.progs) - 1, true
}

func draftVersion(uri string) int {
	u := strings.TrimSuffix(uri, "#")
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	switch u {
	case "json-schema.org/draft/2020-12/schema", "json-schema.org/schema":
		return 2020
	case "json-schema.org/draft/2019-09/schema":
		return 2019
	case "json-schema.org/draft-07/schema":
		return 7
	case "json-schema.org/draft-06/schema":
		return 6
	case "json-schema.org/draft-04/schema":
		return 4
	}
	return 0
}

var unsureNode = &node{unsure: true}

// compile compiles the subschema v found at ptr (memoised, so recursive
// schemas work).
func (c *compiler) compile(v any, ptr string, isRoot bool) *node {
	if n, ok := c.memo[ptr]; ok {
		return n
	}
	switch v := v.(type) {
	case bool:
		if v {
			return &node{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}
		}
		return &node{never: true}
	case map[string]any:
		n := &node{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}
		c.memo[ptr] = n
		c.fill(n, v, ptr, isRoot)
		return n
	default:
		return unsureNode
	}
}

func (c *compiler) fill(n *node, obj map[string]any, ptr string, isRoot bool) {
	fail := func() { *n = node{unsure: true} }
	// Up to draft 7, $ref makes every sibling keyword ignored, says the
	// specification. santhosh-tekuri/jsonschema v6 ignores only the draft-4
	// ones: it still applies the keywords drafts 6 and 7 added. Those are not
	// sure here.
	if ref, ok := obj["$ref"]; ok && c.draft <= 7 {
		for _, k := range []string{"const", "contains", "propertyNames", "if", "then", "else"} {
			if _, has := obj[k]; has && c.draft >= 6 {
				fail()
				return
			}
		}
		if t := c.ref(ref); t != nil {
			n.allOf = []*node{t}
			return
		}
		fail()
		return
	}
	// Each keyword is compiled on its own, in a fixed order, so that the
	// result cannot depend on how the map is walked.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv := obj[k]
		if annotations[k] {
			continue
		}
		ok := true
		switch k {
		case "$id", "$schema":
			ok = isRoot // a nested resource: references inside mean something else
		case "id":
			ok = c.draft > 4 || isRoot // a keyword only in draft 4
		case "$ref":
			if t := c.ref(kv); t != nil {
				n.allOf = append(n.allOf, t)
			} else {
				ok = false
			}
		case "type":
			ok = n.setTypes(kv)
		case "enum":
			arr, isArr := kv.([]any)
			ok = isArr
			for _, e := range arr {
				fc, isScalar := toConst(e)
				if !isScalar {
					ok = false
				}
				n.enum = append(n.enum, fc)
			}
			n.hasEnum = true
		case "const":
			n.konst, ok = toConst(kv)
			n.hasConst = true
		case "minLength", "maxLength", "minItems", "maxItems", "maxProperties":
			i, isInt := toInt(kv)
			ok = isInt
			switch k {
			case "minLength":
				n.minLen = i
			case "maxLength":
				n.maxLen = i
			case "minItems":
				n.minItems = i
			case "maxItems":
				n.maxItems = i
			case "maxProperties":
				n.maxProps = i
			}
		case "pattern":
			s, isStr := kv.(string)
			i, compiled := c.pattern(s)
			ok = isStr && compiled
			n.pattern = i + 1
		case "format":
			s, isStr := kv.(string)
			ok = isStr && c.setFormat(n, s)
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			if c.draft == 4 && (k == "exclusiveMinimum" || k == "exclusiveMaximum") {
				ok = false // a boolean modifier in draft 4
				break
			}
			b, isNum := toBound(kv)
			ok = isNum
			switch k {
			case "minimum":
				n.min = b
			case "maximum":
				n.max = b
			case "exclusiveMinimum":
				n.exMin = b
			case "exclusiveMaximum":
				n.exMax = b
			}
		case "properties":
			m, isObj := kv.(map[string]any)
			ok = isObj
			n.props = make(map[string]*node, len(m))
			for name, sub := range m {
				n.props[name] = c.compile(sub, ptr+"/properties/"+jsonpointer.Escape(name), false)
			}
		case "required":
			arr, isArr := kv.([]any)
			ok = isArr && len(arr) <= 64
			n.required = make(map[string]int, len(arr))
			for _, e := range arr {
				s, isStr := e.(string)
				if !isStr {
					ok = false
					break
				}
				if _, dup := n.required[s]; !dup {
					n.required[s] = len(n.required)
				}
			}
			n.nRequired = len(n.required)
		case "patternProperties":
			m, isObj := kv.(map[string]any)
			ok = isObj
			for p, sub := range m {
				i, compiled := c.pattern(p)
				if !compiled {
					ok = false
					break
				}
				n.patternProps = append(n.patternProps, patternProp{i, c.compile(sub, ptr+"/patternProperties/"+jsonpointer.Escape(p), false)})
			}
		case "additionalProperties":
			n.additional = c.compile(kv, ptr+"/additionalProperties", false)
		case "items":
			if _, isArr := kv.([]any); isArr {
				ok = false // tuple form (drafts before 2020-12)
				break
			}
			if c.draft >= 2020 {
				if _, has := obj["prefixItems"]; has {
					ok = false
					break
				}
			}
			n.items = c.compile(kv, ptr+"/items", false)
		case "allOf", "anyOf":
			arr, isArr := kv.([]any)
			ok = isArr && len(arr) > 0
			for i, sub := range arr {
				sn := c.compile(sub, ptr+"/"+k+"/"+strconv.Itoa(i), false)
				if k == "allOf" {
					n.allOf = append(n.allOf, sn)
				} else {
					n.anyOf = append(n.anyOf, sn)
				}
			}
		default:
			ok = false // not implemented here, or unknown: be unsure
		}
		if !ok {
			fail()
			return
		}
	}
}

// ref resolves a same-document reference ("#" or "#/json/pointer").
func (c *compiler) ref(v any) *node {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "#") {
		return nil
	}
	frag, err := url.PathUnescape(s[1:])
	if err != nil || (frag != "" && frag[0] != '/') {
		return nil // an anchor, or malformed
	}
	toks, err := jsonpointer.Split(frag)
	if err != nil {
		return nil
	}
	// A target inside an embedded resource (a subschema with its own $id)
	// resolves its own references against that resource: not handled.
	cur := c.root
	for _, t := range toks {
		next, found := jsonpointer.Lookup(cur, []string{t})
		if !found {
			return nil
		}
		if m, isObj := next.(map[string]any); isObj {
			if _, has := m["$id"]; has {
				return nil
			}
			if _, has := m["id"]; has && c.draft == 4 {
				return nil
			}
		}
		cur = next
	}
	return c.compile(cur, frag, frag == "")
}

// setFormat delegates a format check to santhosh-tekuri's own validator, by
// compiling a one-keyword schema of the same draft: exactly its semantics.
func (c *compiler) setFormat(n *node, name string) bool {
	sch, ok := c.fmts[name]
	if !ok {
		comp := jsonschema.NewCompiler()
		comp.AssertFormat()
		doc := map[string]any{"$schema": draftURI(c.draft), "format": name}
		if err := comp.AddResource("urn:datalfs:format", doc); err != nil {
			return false
		}
		var err error
		if sch, err = comp.Compile("urn:datalfs:format"); err != nil {
			sch = nil
		}
		c.fmts[name] = sch
	}
	n.format = sch
	return sch != nil
}

func draftURI(d int) string {
	switch d {
	case 4:
		return "http://json-schema.org/draft-04/schema#"
	case 6:
		return "http://json-schema.org/draft-06/schema#"
	case 7:
		return "http://json-schema.org/draft-07/schema#"
	case 2019:
		return "https://json-schema.org/draft/2019-09/schema"
	}
	return "https://json-schema.org/draft/2020-12/schema"
}

func (n *node) setTypes(v any) bool {
	add := func(s any) bool {
		switch s {
		case "null":
			n.types |= tNull
		case "boolean":
			n.types |= tBool
		case "integer":
			n.types |= tInteger
		case "number":
			n.types |= tNumber | tInteger
		case "string":
			n.types |= tString
		case "array":
			n.types |= tArray
		case "object":
			n.types |= tObject
		default:
			return false
		}
		return true
	}
	switch v := v.(type) {
	case string:
		return add(v)
	case []any:
		if len(v) == 0 {
			return false
		}
		for _, s := range v {
			if !add(s) {
				return false
			}
		}
		return true
	}
	return false
}

func toConst(v any) (constant, bool) {
	switch v := v.(type) {
	case nil:
		return constant{typ: tNull}, true
	case bool:
		return constant{typ: tBool, b: v}, true
	case string:
		return constant{typ: tString, text: v}, true
	case json.Number:
		return constant{typ: tNumber, text: string(v)}, true
	}
	return constant{}, false
}

func toInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil || i < 0 {
		return 0, false
	}
	return int(i), true
}

func toBound(v any) (*bound, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	b := &bound{f: f}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		b.i, b.exact = i, true
	}
	return b, true
}
