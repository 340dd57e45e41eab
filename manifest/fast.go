package manifest

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The fast path.
//
// Most records of a manifest are valid, and proving that is all the work
// there is for them. fastSchema is a second, much cheaper validator for the
// common part of JSON Schema that checks a record straight from its bytes,
// without building a map[string]any. It only ever answers "certainly valid"
// or "not sure": a record it is not sure about (because it is invalid, or
// uses a keyword the fast path does not implement, or a number sits exactly
// on a bound) goes through the full path (parseJSON + santhosh-tekuri's
// validator), which alone produces problems. So the fast path can make
// validation faster but never change a verdict, provided it never calls an
// invalid record valid. It is kept to that by construction (every keyword it
// does not implement makes its subschema "not sure"; anything it cannot
// decide exactly is "not sure") and by tests: the official test suite and a
// differential fuzz test against the full path.

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

// fastNode is one compiled subschema.
type fastNode struct {
	unsure bool  // a keyword the fast path does not implement: always "not sure"
	never  bool  // the false schema
	types  uint8 // allowed types; 0 means any

	enum    []fastConst // nil: no enum
	hasEnum bool

	minLen, maxLen int                // -1: unset
	pattern        int                // 1 + index in fastSchema.progs; 0: none
	format         *jsonschema.Schema // santhosh's own check, on the string only

	min, max, exMin, exMax *fastBound

	props        map[string]*fastNode
	required     map[string]int // name -> bit
	nRequired    int
	patternProps []fastPattern
	additional   *fastNode // nil: anything allowed
	maxProps     int       // -1: unset

	items              *fastNode
	minItems, maxItems int // -1: unset

	allOf []*fastNode
	anyOf []*fastNode
}

type fastPattern struct {
	prog int // index in fastSchema.progs
	node *fastNode
}

// fastSchema is a compiled fast path: the root node and the patterns its
// nodes use, which each worker matches with its own lazily built DFAs.
type fastSchema struct {
	root  *fastNode
	progs []*asciiProg
}

// fastConst is a scalar constant: its JSON type and, for strings, the
// decoded text, for numbers the literal text.
type fastConst struct {
	typ  uint8
	text string
	b    bool
}

// fastBound is a numeric bound as a float64 and, when it is an integer that
// fits, as an int64 for exact comparison.
type fastBound struct {
	f     float64
	i     int64
	exact bool // i holds the exact value
}

// fastCompiler turns a schema document into fastNodes.
type fastCompiler struct {
	progs []*asciiProg
	root  any
	draft int
	memo  map[string]*fastNode // by JSON pointer inside root
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

// newFastSchema compiles the fast path for the schema document doc, or
// returns nil when the document is outside what it handles.
func newFastSchema(doc any) *fastSchema {
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
	c := &fastCompiler{root: doc, draft: draft, memo: map[string]*fastNode{}, fmts: map[string]*jsonschema.Schema{}}
	root := c.compile(doc, "", true)
	return &fastSchema{root: root, progs: c.progs}
}

// pattern compiles a pattern as santhosh-tekuri's validator does (Go's
// regexp) and returns its index.
func (c *fastCompiler) pattern(s string) (int, bool) {
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

var unsureNode = &fastNode{unsure: true}

// compile compiles the subschema v found at ptr (memoised, so recursive
// schemas work).
func (c *fastCompiler) compile(v any, ptr string, isRoot bool) *fastNode {
	if n, ok := c.memo[ptr]; ok {
		return n
	}
	switch v := v.(type) {
	case bool:
		if v {
			return &fastNode{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}
		}
		return &fastNode{never: true}
	case map[string]any:
		n := &fastNode{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}
		c.memo[ptr] = n
		c.fill(n, v, ptr, isRoot)
		return n
	default:
		return unsureNode
	}
}

func (c *fastCompiler) fill(n *fastNode, obj map[string]any, ptr string, isRoot bool) {
	fail := func() { *n = fastNode{unsure: true} }
	// Up to draft 7, $ref makes every sibling keyword ignored.
	if ref, ok := obj["$ref"]; ok && c.draft <= 7 {
		if t := c.ref(ref); t != nil {
			n.allOf = []*fastNode{t}
			return
		}
		fail()
		return
	}
	for k, kv := range obj {
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
			fc, isScalar := toConst(kv)
			ok = isScalar
			if n.hasEnum {
				ok = false // both: keep it simple
			}
			n.enum, n.hasEnum = []fastConst{fc}, true
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
			n.props = make(map[string]*fastNode, len(m))
			for name, sub := range m {
				n.props[name] = c.compile(sub, ptr+"/properties/"+escapeToken(name), false)
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
				n.patternProps = append(n.patternProps, fastPattern{i, c.compile(sub, ptr+"/patternProperties/"+escapeToken(p), false)})
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
func (c *fastCompiler) ref(v any) *fastNode {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "#") {
		return nil
	}
	frag, err := url.PathUnescape(s[1:])
	if err != nil || (frag != "" && frag[0] != '/') {
		return nil // an anchor, or malformed
	}
	toks, err := splitPointer(frag)
	if err != nil {
		return nil
	}
	// A target inside an embedded resource (a subschema with its own $id)
	// resolves its own references against that resource: not handled.
	cur := c.root
	for _, t := range toks {
		next, found := lookup(cur, []string{t})
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

func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// setFormat delegates a format check to santhosh-tekuri's own validator, by
// compiling a one-keyword schema of the same draft: exactly its semantics.
func (c *fastCompiler) setFormat(n *fastNode, name string) bool {
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

func (n *fastNode) setTypes(v any) bool {
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

func toConst(v any) (fastConst, bool) {
	switch v := v.(type) {
	case nil:
		return fastConst{typ: tNull}, true
	case bool:
		return fastConst{typ: tBool, b: v}, true
	case string:
		return fastConst{typ: tString, text: v}, true
	case json.Number:
		return fastConst{typ: tNumber, text: string(v)}, true
	}
	return fastConst{}, false
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

func toBound(v any) (*fastBound, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	b := &fastBound{f: f}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		b.i, b.exact = i, true
	}
	return b, true
}

// --- validation ---

// fastValidator checks one record; it is not safe for concurrent use (each
// worker has its own).
type fastValidator struct {
	root    *fastNode
	schema  *fastSchema
	dfas    []*dfa // by pattern index, built on first use
	row     []byte // a CSV row as JSON text
	data    []byte
	pos     int
	scratch []byte
}

func newFastValidator(s *fastSchema) *fastValidator {
	return &fastValidator{root: s.root, schema: s, dfas: make([]*dfa, len(s.progs))}
}

// match reports whether pattern i matches s, as regexp.Match would.
func (v *fastValidator) match(i int, s []byte) bool {
	d := v.dfas[i]
	if d == nil {
		d = newDFA(v.schema.progs[i])
		v.dfas[i] = d
	}
	return d.matchBytes(s)
}

// valid reports whether data is certainly one valid JSON value that
// satisfies the schema. false means "not sure".
func (v *fastValidator) valid(data []byte) bool {
	v.data, v.pos = data, 0
	v.space()
	if !v.value(v.root, 0, 0) {
		return false
	}
	v.space()
	return v.pos == len(v.data)
}

func (v *fastValidator) space() {
	for v.pos < len(v.data) {
		switch v.data[v.pos] {
		case ' ', '\t', '\n', '\r':
			v.pos++
		default:
			return
		}
	}
}

// maxHops bounds how often one value is re-checked through $ref/allOf/anyOf,
// so a reference cycle cannot loop.
const maxHops = 32

// value checks the value at pos against n and leaves pos after it.
func (v *fastValidator) value(n *fastNode, depth, hops int) bool {
	if n.unsure || n.never || depth > maxDepth || hops > maxHops || v.pos >= len(v.data) {
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
		return !n.hasEnum || v.inEnum(n, fastConst{typ: tBool, b: b})
	case c == 'n':
		return v.allows(n, tNull) && v.literal("null") && (!n.hasEnum || v.inEnum(n, fastConst{typ: tNull}))
	}
	return false
}

func (v *fastValidator) allows(n *fastNode, t uint8) bool {
	if n.types != 0 && n.types&t == 0 {
		return false
	}
	if n.hasEnum && (t == tObject || t == tArray) {
		return false // enums here hold scalars only
	}
	return true
}

func (v *fastValidator) literal(word string) bool {
	if len(v.data)-v.pos < len(word) || string(v.data[v.pos:v.pos+len(word)]) != word {
		return false
	}
	v.pos += len(word)
	return true
}

func (v *fastValidator) inEnum(n *fastNode, got fastConst) bool {
	for _, e := range n.enum {
		if e.typ == got.typ && e.text == got.text && e.b == got.b {
			return true
		}
	}
	return false
}

func (v *fastValidator) object(n *fastNode, depth int) bool {
	v.pos++ // {
	var seen uint64
	count := 0
	v.space()
	if v.pos < len(v.data) && v.data[v.pos] == '}' {
		v.pos++
		return n.nRequired == 0
	}
	for {
		if v.pos >= len(v.data) || v.data[v.pos] != '"' {
			return false
		}
		key, ok := v.readString()
		if !ok {
			return false
		}
		v.space()
		if v.pos >= len(v.data) || v.data[v.pos] != ':' {
			return false
		}
		v.pos++
		v.space()
		count++
		if bit, ok := n.required[unsafeString(key)]; ok {
			seen |= 1 << bit
		}
		valStart := v.pos
		handled := false
		if sub, ok := n.props[unsafeString(key)]; ok {
			if !v.value(sub, depth, 0) {
				return false
			}
			handled = true
		}
		if len(n.patternProps) > 0 {
			k := []byte(string(key)) // key may point into scratch, which value() reuses
			for _, pp := range n.patternProps {
				if v.match(pp.prog, k) {
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
		v.space()
		if v.pos >= len(v.data) {
			return false
		}
		switch v.data[v.pos] {
		case ',':
			v.pos++
			v.space()
		case '}':
			v.pos++
			if n.maxProps >= 0 && count > n.maxProps {
				return false // duplicate keys may make this too strict: fine
			}
			return seen == (uint64(1)<<n.nRequired)-1 // 1<<64 is 0 in Go, so 64 works too
		default:
			return false
		}
	}
}

func (v *fastValidator) array(n *fastNode, depth int) bool {
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
		v.space()
		if v.pos >= len(v.data) {
			return false
		}
		switch v.data[v.pos] {
		case ',':
			v.pos++
			v.space()
		case ']':
			v.pos++
			return (n.minItems < 0 || count >= n.minItems) && (n.maxItems < 0 || count <= n.maxItems)
		default:
			return false
		}
	}
}

// str checks a string value against n.
func (v *fastValidator) str(n *fastNode) bool {
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
	if n.hasEnum && !v.inEnum(n, fastConst{typ: tString, text: unsafeString(s)}) {
		return false
	}
	if n.format != nil && n.format.Validate(string(s)) != nil {
		return false
	}
	return true
}

// readString reads a quoted string at pos and returns its decoded bytes
// (pointing into data or into the scratch buffer, valid until the next call).
func (v *fastValidator) readString() ([]byte, bool) {
	start := v.pos + 1
	for i := start; i < len(v.data); i++ {
		c := v.data[i]
		if c == '"' {
			s := v.data[start:i]
			v.pos = i + 1
			return s, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	// Escapes or non-ASCII: let the full parser's string decoder do it.
	p := parser{data: v.data, pos: v.pos}
	s, err := p.string()
	if err != nil {
		return nil, false
	}
	v.pos = p.pos
	v.scratch = append(v.scratch[:0], s...)
	return v.scratch, true
}

func (v *fastValidator) number(n *fastNode) bool {
	start := v.pos
	p := parser{data: v.data, pos: v.pos}
	if !p.scanNumber() {
		return false
	}
	v.pos = p.pos
	text := v.data[start:v.pos]
	integral := true
	for _, c := range text {
		if c == '.' || c == 'e' || c == 'E' {
			integral = false
			break
		}
	}
	switch {
	case n.types == 0:
	case integral && n.types&tInteger != 0:
	case !integral && n.types&tNumber != 0:
	default:
		return false // includes 1.0 for "integer": not sure
	}
	if n.hasEnum && !v.inEnum(n, fastConst{typ: tNumber, text: unsafeString(text)}) {
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
	cmp := func(b *fastBound) int {
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
func (v *fastValidator) skip(depth int) bool {
	return v.value(anyNode, depth, 0)
}

// anyNode is the empty schema.
var anyNode = &fastNode{minLen: -1, maxLen: -1, maxProps: -1, minItems: -1, maxItems: -1}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// rawLookup finds the value at the pointer tokens in data, which must be
// valid JSON, and returns its text.
func (v *fastValidator) rawLookup(data []byte, toks []string) ([]byte, bool) {
	v.data, v.pos = data, 0
	for _, tok := range toks {
		v.space()
		if v.pos >= len(v.data) {
			return nil, false
		}
		switch v.data[v.pos] {
		case '{':
			v.pos++
			found := false
			for !found {
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] != '"' {
					return nil, false // '}' or malformed
				}
				key, ok := v.readString()
				if !ok {
					return nil, false
				}
				found = string(key) == tok
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] != ':' {
					return nil, false
				}
				v.pos++
				v.space()
				if found {
					break
				}
				if !v.skip(0) {
					return nil, false
				}
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] != ',' {
					return nil, false
				}
				v.pos++
			}
		case '[':
			idx, ok := arrayIndex(tok)
			if !ok {
				return nil, false
			}
			v.pos++
			for i := 0; i < idx; i++ {
				v.space()
				if !v.skip(0) {
					return nil, false
				}
				v.space()
				if v.pos >= len(v.data) || v.data[v.pos] != ',' {
					return nil, false
				}
				v.pos++
			}
			v.space()
			if v.pos < len(v.data) && v.data[v.pos] == ']' {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	v.space()
	start := v.pos
	if !v.skip(0) {
		return nil, false
	}
	return v.data[start:v.pos], true
}
