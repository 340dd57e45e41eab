package manifest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/manifest/internal/fastpath"
	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// The differential test of the fast path.
//
// genCase builds a schema from the whole grammar of keywords the fast path
// compiles (and a few it must refuse), nested and combined, and records made
// to sit on both sides of each constraint of that schema. runCase checks, for
// every record, that the fast path certifies it only when the library path
// finds no problem, that it reads the same id and reference values, that
// its verdict does not depend on how the schema was compiled (map order),
// and that Validate reports exactly the same with and without it.

// choices is the generator's source of decisions: the fuzzer's bytes first,
// then a PRNG seeded from them, so every input gives one case.
type choices struct {
	b []byte
	r *rand.Rand
}

func newChoices(b []byte) *choices {
	h := fnv.New64a()
	h.Write(b)
	return &choices{b: b, r: rand.New(rand.NewPCG(h.Sum64(), uint64(len(b))))}
}

// intn returns a choice in [0, n).
func (c *choices) intn(n int) int {
	if n <= 1 {
		return 0
	}
	if len(c.b) > 0 {
		x := int(c.b[0])
		c.b = c.b[1:]
		return x % n
	}
	return c.r.IntN(n)
}

// chance is true with probability 1/n.
func (c *choices) chance(n int) bool { return c.intn(n) == 0 }

func pick[T any](c *choices, xs ...T) T { return xs[c.intn(len(xs))] }

// A generated JSON value: nil, bool, jnum, string, []any or jobj (which
// keeps its keys in order and may repeat them).
type (
	jnum string
	jkv  struct {
		k string
		v any
	}
	jobj []jkv
)

func (o jobj) get(k string) (any, bool) {
	var v any
	found := false
	for _, kv := range o {
		if kv.k == k {
			v, found = kv.v, true // the last one, as JSON parsers do
		}
	}
	return v, found
}

// writeJSON writes v, spelling strings plainly or with \u escapes.
func writeJSON(c *choices, sb *strings.Builder, v any) {
	space := func() {
		if c.chance(6) {
			sb.WriteString(pick(c, " ", "\t", "  ", "\r"))
		}
	}
	switch v := v.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(v))
	case jnum:
		sb.WriteString(string(v))
	case string:
		writeString(c, sb, v)
	case []any:
		sb.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				sb.WriteByte(',')
			}
			space()
			writeJSON(c, sb, x)
			space()
		}
		sb.WriteByte(']')
	case jobj:
		sb.WriteByte('{')
		for i, kv := range v {
			if i > 0 {
				sb.WriteByte(',')
			}
			space()
			writeString(c, sb, kv.k)
			space()
			sb.WriteByte(':')
			space()
			writeJSON(c, sb, kv.v)
		}
		space()
		sb.WriteByte('}')
	default:
		panic(fmt.Sprintf("writeJSON: %T", v))
	}
}

// writeString writes s as a JSON string: raw, fully \u-escaped, or escaped
// only here and there.
func writeString(c *choices, sb *strings.Builder, s string) {
	mode := c.intn(6) // 0-1, 4-5: raw; 2: all escaped; 3: some escaped
	sb.WriteByte('"')
	for _, r := range s {
		esc := r < 0x20 || r == '"' || r == '\\' || mode == 2 || (mode == 3 && c.chance(3))
		if !esc {
			sb.WriteRune(r)
			continue
		}
		if r == '/' && c.chance(2) {
			sb.WriteString(`\/`)
			continue
		}
		if r > 0xffff {
			r -= 0x10000
			fmt.Fprintf(sb, `\u%04x\u%04X`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			continue
		}
		if c.chance(2) {
			fmt.Fprintf(sb, `\u%04x`, r)
		} else {
			fmt.Fprintf(sb, `\u%04X`, r)
		}
	}
	sb.WriteByte('"')
}

// Vocabulary shared by schemas and records, so that they meet.
var (
	genNames    = []string{"a", "b", "id", "ref", "é", "名前", "x-y", "x-é", "a/b", "t~0", "ab", "aé", "\u0001"}
	genPatterns = []string{"^a", "^x-", "é", "^[a-z]+$", "b$", "^.{2}$", "名", "^$",
		`^\S+$`, `^\s*a`, `\d`, `^\w+$`, `(?i)^A`} // where ECMA-262 and Go differ too
	genStrings = []string{"", "a", "ab", "abc", "é", "éé", "名前", "😀", "a😀", "x-y", "2026-11-26", "2026-02-30",
		"2026-11-26T10:00:00Z", "a@b.co", "1.2.3.4", "300.1.1.1", "s3://bucket/key", "http://x/y", "a\"b", "tab\t", "\u0000",
		"\u00a0", "\u00a0a", " a", "٣", "\u2028", "A"}
	genNums = []string{"0", "-0", "1", "-1", "2", "3", "2.5", "1.5", "-1.5", "100", "1e2", "1E+2", "100.0", "0.1",
		"9007199254740992", "9007199254740993", "-9007199254740993", "12345678901234567890", "1e400", "-1e400",
		"1e-400", "0.30000000000000004", "1.0", "5e-324", "1e-1000001"}
	genFormats = []string{"date", "date-time", "email", "ipv4", "uri"}
	genTypes   = []string{"null", "boolean", "integer", "number", "string", "array", "object"}
)

// schemaGen builds one schema document.
type schemaGen struct {
	c     *choices
	draft int
	defs  []string // names of the root's definitions
}

func (g *schemaGen) scalar() any {
	switch g.c.intn(5) {
	case 0:
		return pick(g.c, genStrings...)
	case 1:
		return pick(g.c, genNames...)
	case 2, 3:
		return jnum(pick(g.c, genNums...))
	}
	return pick[any](g.c, nil, true, false)
}

func (g *schemaGen) num() jnum { return jnum(pick(g.c, genNums...)) }

func (g *schemaGen) small() jnum { return jnum(strconv.Itoa(g.c.intn(4))) }

// node returns a subschema of a common shape (a typed leaf, an enum, an
// object, an array, a combinator, a reference) with, now and then, keywords
// of another shape mixed in; depth limits nesting.
func (g *schemaGen) node(depth int) any {
	c := g.c
	if c.chance(15) {
		return c.chance(4) // true, mostly
	}
	var o jobj
	add := func(k string, v any) { o = append(o, jkv{k, v}) }
	kinds := 3
	if depth > 0 {
		kinds = 8
	}
	switch c.intn(kinds) {
	case 0:
		if c.intn(4) > 0 {
			add("type", pick[any](c, "string", "string", []any{"string", "null"}))
		}
		for _, k := range []string{"minLength", "maxLength", "pattern", "format"} {
			if c.chance(3) {
				g.keyword(k, depth, add)
			}
		}
	case 1:
		if c.intn(4) > 0 {
			add("type", pick[any](c, "integer", "number", []any{"integer", "null"}, []any{"number", "string"}))
		}
		for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
			if c.chance(3) {
				g.keyword(k, depth, add)
			}
		}
	case 2:
		switch c.intn(3) {
		case 0:
			g.keyword("enum", depth, add)
		case 1:
			g.keyword("const", depth, add)
		default:
			g.keyword("enum", depth, add)
			g.keyword("const", depth, add)
			if c.chance(2) { // a const that is also in the enum
				e, _ := o.get("enum")
				if arr, ok := e.([]any); ok && len(arr) > 0 {
					o[len(o)-1].v = pick(c, arr...)
				}
			}
		}
	case 3, 4:
		if c.intn(4) > 0 {
			add("type", "object")
		}
		g.keyword("properties", depth, add)
		for _, k := range []string{"required", "patternProperties", "additionalProperties", "maxProperties"} {
			if c.chance(2) {
				g.keyword(k, depth, add)
			}
		}
	case 5:
		if c.intn(4) > 0 {
			add("type", "array")
		}
		for _, k := range []string{"items", "minItems", "maxItems"} {
			if c.intn(3) > 0 {
				g.keyword(k, depth, add)
			}
		}
	case 6:
		g.keyword(pick(c, "allOf", "anyOf"), depth, add)
	case 7:
		g.keyword("$ref", depth, add)
	}
	for range c.intn(3) / 2 {
		g.keyword(pick(c, genKeywords...), depth, add)
	}
	c.r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

// genKeywords are the keywords keyword knows: those the fast path compiles
// and some it must refuse.
var genKeywords = []string{"type", "enum", "const", "minLength", "maxLength", "pattern", "format",
	"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "properties", "required",
	"patternProperties", "additionalProperties", "maxProperties", "items", "minItems", "maxItems",
	"allOf", "anyOf", "$ref", "title", "$comment",
	"multipleOf", "uniqueItems", "minProperties", "not", "oneOf", "prefixItems", "dependentRequired"}

// keyword adds keyword k with a generated value.
func (g *schemaGen) keyword(k string, depth int, add func(string, any)) {
	c := g.c
	sub := func() any {
		if depth == 0 {
			return c.chance(3)
		}
		return g.node(depth - 1)
	}
	switch k {
	case "type":
		if c.chance(3) {
			var ts []any
			for range 1 + c.intn(3) {
				ts = append(ts, pick(c, genTypes...))
			}
			add(k, ts)
		} else {
			add(k, pick(c, genTypes...))
		}
	case "enum":
		var e []any
		for range 1 + c.intn(4) {
			e = append(e, g.scalar())
		}
		add(k, e)
	case "const":
		add(k, g.scalar())
	case "minLength", "maxLength", "maxProperties", "minItems", "maxItems", "minProperties":
		add(k, g.small())
	case "pattern":
		add(k, pick(c, genPatterns...))
	case "format":
		add(k, pick(c, genFormats...))
	case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
		add(k, g.num())
	case "properties":
		var p jobj
		for range 1 + c.intn(3) {
			p = append(p, jkv{pick(c, genNames...), sub()})
		}
		add(k, p)
	case "required":
		var r []any
		for range 1 + c.intn(3) {
			r = append(r, pick(c, genNames...))
		}
		add(k, r)
	case "patternProperties":
		var p jobj
		for range 1 + c.intn(2) {
			p = append(p, jkv{pick(c, genPatterns...), sub()})
		}
		add(k, p)
	case "additionalProperties", "items", "not":
		add(k, sub())
	case "allOf", "anyOf", "oneOf", "prefixItems":
		var subs []any
		for range 1 + c.intn(3) {
			subs = append(subs, sub())
		}
		add(k, subs)
	case "$ref":
		switch {
		case len(g.defs) == 0:
			add(k, "#")
		case c.chance(4):
			add(k, "#")
		default:
			add(k, g.defPointer(pick(c, g.defs...)))
		}
	case "title", "$comment":
		add(k, pick(c, genStrings...))
	case "multipleOf":
		add(k, jnum(pick(c, "2", "0.5", "3")))
	case "uniqueItems":
		add(k, true)
	case "dependentRequired":
		add(k, jobj{{pick(c, genNames...), []any{pick(c, genNames...)}}})
	}
}

func (g *schemaGen) defsKey() string {
	if g.draft < 2019 {
		return "definitions"
	}
	return "$defs"
}

func (g *schemaGen) defPointer(name string) string {
	return "#/" + g.defsKey() + "/" + jsonpointer.Escape(name)
}

// genSchema returns a schema document.
func genSchema(c *choices) jobj {
	g := &schemaGen{c: c, draft: pick(c, 2020, 2020, 2020, 2019, 7, 7, 6, 4)}
	for i := range c.intn(3) {
		g.defs = append(g.defs, pick(c, "d"+strconv.Itoa(i), "dé"+strconv.Itoa(i)))
	}
	var root jobj
	add := func(k string, v any) { root = append(root, jkv{k, v}) }
	if c.intn(5) > 0 { // the usual manifest schema: an object with properties
		add("type", "object")
		g.keyword("properties", 3, add)
		for _, k := range []string{"required", "patternProperties", "additionalProperties", "maxProperties", pick(c, genKeywords...)} {
			if c.chance(2) {
				g.keyword(k, 3, add)
			}
		}
	} else {
		root, _ = g.node(3).(jobj)
	}
	if len(g.defs) > 0 {
		var defs jobj
		for _, d := range g.defs {
			defs = append(defs, jkv{d, g.node(2)})
		}
		root = append(root, jkv{g.defsKey(), defs})
	}
	if g.draft != 2020 || c.chance(3) {
		root = append(root, jkv{"$schema", draftURIs[g.draft]})
	}
	c.r.Shuffle(len(root), func(i, j int) { root[i], root[j] = root[j], root[i] })
	return root
}

// recordGen builds records near the constraints of a schema.
type recordGen struct {
	c    *choices
	root jobj
}

// resolve follows a "$ref" of the generated schema.
func (g *recordGen) resolve(ref string) any {
	if ref == "#" {
		return g.root
	}
	toks, err := jsonpointer.Split(strings.TrimPrefix(ref, "#"))
	if err != nil || len(toks) != 2 {
		return true
	}
	defs, _ := g.root.get(toks[0])
	d, _ := defs.(jobj)
	v, ok := d.get(toks[1])
	if !ok {
		return true
	}
	return v
}

// near returns numbers equal to, just below and just above x, spelled in
// several ways.
func near(c *choices, x string) jnum {
	r, ok := new(big.Rat).SetString(x)
	if !ok {
		return jnum(x)
	}
	tiny := big.NewRat(1, 1_000_000_000_000)
	switch c.intn(8) {
	case 0:
		return jnum(x)
	case 1:
		return jnum(new(big.Rat).Add(r, tiny).FloatString(13))
	case 2:
		return jnum(new(big.Rat).Sub(r, tiny).FloatString(13))
	case 3:
		return jnum(new(big.Rat).Add(r, big.NewRat(1, 1)).FloatString(0))
	case 4:
		return jnum(new(big.Rat).Sub(r, big.NewRat(1, 1)).FloatString(0))
	case 5:
		return jnum(r.FloatString(2)) // 1 spelled 1.00
	case 6:
		if r.IsInt() {
			return jnum(r.FloatString(0) + "e0")
		}
	}
	return jnum(pick(c, genNums...))
}

// value returns a record value for the subschema s.
func (g *recordGen) value(s any, depth int) any {
	c := g.c
	o, isObj := s.(jobj)
	if !isObj || depth > 6 || c.chance(15) {
		return g.anyValue(depth)
	}
	if ref, ok := o.get("$ref"); ok && c.intn(3) > 0 {
		if r, isStr := ref.(string); isStr {
			return g.value(g.resolve(r), depth+1)
		}
	}
	for _, k := range []string{"allOf", "anyOf"} {
		if subs, ok := o.get(k); ok && c.chance(2) {
			if arr, isArr := subs.([]any); isArr && len(arr) > 0 {
				return g.value(pick(c, arr...), depth+1)
			}
		}
	}
	for _, k := range []string{"const", "enum"} {
		if e, ok := o.get(k); ok && c.intn(3) > 0 {
			v := e
			if arr, isArr := e.([]any); isArr && len(arr) > 0 {
				v = pick(c, arr...)
			}
			if n, isNum := v.(jnum); isNum && c.chance(3) {
				return near(c, string(n))
			}
			return v
		}
	}
	typ := ""
	if t, ok := o.get("type"); ok && c.intn(5) > 0 {
		switch t := t.(type) {
		case string:
			typ = t
		case []any:
			typ, _ = pick(c, t...).(string)
		}
	}
	if typ == "" {
		_, hasProps := o.get("properties")
		_, hasItems := o.get("items")
		switch {
		case hasProps && c.intn(3) > 0:
			typ = "object"
		case hasItems && c.intn(3) > 0:
			typ = "array"
		default:
			typ = pick(c, genTypes...)
		}
	}
	intOf := func(k string) (int, bool) {
		v, ok := o.get(k)
		n, isNum := v.(jnum)
		if !ok || !isNum {
			return 0, false
		}
		i, err := strconv.Atoi(string(n))
		return i, err == nil
	}
	switch typ {
	case "null":
		return nil
	case "boolean":
		return c.chance(2)
	case "integer", "number":
		for _, k := range []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
			if b, ok := o.get(k); ok && c.intn(3) > 0 {
				if n, isNum := b.(jnum); isNum {
					return near(c, string(n))
				}
			}
		}
		return jnum(pick(c, genNums...))
	case "string":
		if c.chance(2) {
			return pick(c, append(genStrings, genNames...)...)
		}
		l := c.intn(5)
		for _, k := range []string{"minLength", "maxLength"} {
			if n, ok := intOf(k); ok && c.chance(2) {
				l = max(0, n-1+c.intn(3))
			}
		}
		var sb strings.Builder
		for range l {
			sb.WriteString(pick(c, "a", "b", "é", "名", "😀", "-"))
		}
		return sb.String()
	case "array":
		n := c.intn(4)
		for _, k := range []string{"minItems", "maxItems"} {
			if m, ok := intOf(k); ok && c.chance(2) {
				n = max(0, m-1+c.intn(3))
			}
		}
		items, _ := o.get("items")
		arr := make([]any, 0, n)
		for range n {
			arr = append(arr, g.value(items, depth+1))
		}
		return arr
	}
	// an object
	var out jobj
	props, _ := o.get("properties")
	po, _ := props.(jobj)
	for _, kv := range po {
		if c.intn(4) > 0 {
			out = append(out, jkv{kv.k, g.value(kv.v, depth+1)})
		}
	}
	if req, ok := o.get("required"); ok {
		arr, _ := req.([]any)
		for _, r := range arr {
			if name, isStr := r.(string); isStr && c.intn(5) > 0 {
				if _, has := out.get(name); !has {
					sub, _ := po.get(name)
					out = append(out, jkv{name, g.value(sub, depth+1)})
				}
			}
		}
	}
	pp, _ := o.get("patternProperties")
	ppo, _ := pp.(jobj)
	for range c.intn(3) {
		var sub any = true
		if len(ppo) > 0 {
			sub = pick(c, ppo...).v
		}
		out = append(out, jkv{pick(c, genNames...), g.value(sub, depth+1)})
	}
	// Repeat a key: the last occurrence is the one that counts.
	if len(out) > 0 && c.chance(4) {
		kv := pick(c, out...)
		sub, _ := po.get(kv.k)
		dup := jkv{kv.k, g.value(sub, depth+1)}
		if c.chance(2) {
			out = append(out, dup)
		} else {
			out = append(jobj{dup}, out...)
		}
	}
	c.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// anyValue returns an arbitrary value from the vocabulary.
func (g *recordGen) anyValue(depth int) any {
	c := g.c
	k := c.intn(8)
	if depth > 4 {
		k = 3 + c.intn(5)
	}
	switch k {
	case 0:
		var o jobj
		for range c.intn(3) {
			o = append(o, jkv{pick(c, genNames...), g.anyValue(depth + 1)})
		}
		return o
	case 1:
		var a []any
		for range c.intn(3) {
			a = append(a, g.anyValue(depth+1))
		}
		return a
	case 2, 3:
		return pick(c, genStrings...)
	case 4, 5:
		return jnum(pick(c, genNums...))
	case 6:
		return c.chance(2)
	}
	return nil
}

// genRecord returns one record for the schema, with id and reference fields
// for the cross-record checks, sometimes repeated.
func (g *recordGen) record() any {
	c := g.c
	v := g.value(g.root, 0)
	o, isObj := v.(jobj)
	if !isObj {
		return v
	}
	ids := []any{jnum("1"), jnum("2"), "1", "a", "é", jnum("1.0"), true, nil, []any{jnum("1")}, "x\"]}"}
	refs := []any{"s3://bucket/key", "s3://bucket/ké", "s3://b", "bad", "", jnum("5"), nil,
		jobj{{"k", `]}"{[\`}}, []any{"[", jnum("-1.5e3"), jobj{}}, true}
	for range c.intn(3) {
		o = append(o, jkv{"id", pick(c, ids...)})
	}
	for range c.intn(3) {
		o = append(o, jkv{"ref", pick(c, refs...)})
	}
	if c.chance(4) {
		var tags []any
		for range c.intn(4) {
			tags = append(tags, pick(c, refs...))
		}
		o = append(o, jkv{"tags", tags})
	}
	if c.chance(3) {
		m := jobj{{"r", pick(c, refs...)}}
		if c.chance(2) {
			m = append(m, jkv{"r", pick(c, refs...)})
		}
		o = append(o, jkv{"m", m})
	}
	c.r.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

// diffCase is one generated schema and its records.
type diffCase struct {
	schema  string
	records []string
	values  []any // the records as generated
}

// genCase returns the case the choices in b select.
func genCase(b []byte) diffCase {
	c := newChoices(b)
	root := genSchema(c)
	var sb strings.Builder
	writeJSON(c, &sb, root)
	dc := diffCase{schema: sb.String()}
	rg := &recordGen{c: c, root: root}
	for range 20 + c.intn(20) {
		sb.Reset()
		rec := rg.record()
		writeJSON(c, &sb, rec)
		dc.records = append(dc.records, sb.String())
		dc.values = append(dc.values, rec)
	}
	return dc
}

// diffPointers are the id and reference fields the cross-record checks read.
var diffPointers = []string{"/id", "/ref", "/m/r", "/tags/1"}

// diffStats counts what the fast path certified, so that a test can insist
// it was not vacuous.
type diffStats struct {
	cases, fastCases, records, libValid, certified int
}

// runCase compares the fast path with the library path on one case.
func runCase(t *testing.T, dc diffCase, st *diffStats) {
	t.Helper()
	st.cases++
	read := func(string) ([]byte, error) { return []byte(dc.schema), nil }
	sch, err := CompileSchema("gen.json", read)
	if err != nil {
		return // not a valid schema, or one the library refuses
	}
	doc, err := jsonparse.Parse([]byte(dc.schema))
	if err != nil {
		t.Fatalf("schema %s: %v", dc.schema, err)
	}
	// Compile the fast path a few times: a verdict that depends on the
	// order in which a map was walked shows up as a disagreement.
	top := (&checker{id: []string{"id"}, refs: [][]string{{"ref"}, {"m", "r"}, {"tags", "1"}}}).topNames()
	var fvs []*fastpath.Checker
	for range 3 {
		if fs := fastpath.Compile(doc); fs != nil {
			fvs = append(fvs, fs.NewChecker(top))
		}
	}
	if len(fvs) == 0 {
		return
	}
	st.fastCases++
	for _, rec := range dc.records {
		st.records++
		data := []byte(rec)
		v, perr := jsonparse.Parse(data)
		var probs []Problem
		if perr == nil {
			probs = sch.validate(1, v)
		}
		if perr == nil && len(probs) == 0 {
			st.libValid++
		}
		var verdicts []bool
		for _, fv := range fvs {
			verdicts = append(verdicts, fv.CertainlyValid(data))
		}
		for i := range verdicts {
			if verdicts[i] != verdicts[0] {
				t.Errorf("fast path verdict depends on how the schema was compiled (%v)\nschema: %s\nrecord: %s", verdicts, dc.schema, rec)
				break
			}
		}
		if verdicts[0] {
			st.certified++
			if perr != nil {
				t.Errorf("fast path accepts a record that does not parse (%v)\nschema: %s\nrecord: %s", perr, dc.schema, rec)
				continue
			}
			if len(probs) > 0 {
				t.Errorf("fast path says valid, library says %v\nschema: %s\nrecord: %s", probs, dc.schema, rec)
			}
		}
		if perr != nil {
			continue
		}
		for _, ptr := range diffPointers {
			toks, _ := jsonpointer.Split(ptr)
			want, wantOK := jsonpointer.Lookup(v, toks)
			raw, gotOK := fvs[0].Lookup(data, toks)
			if verdicts[0] {
				fvs[0].CertainlyValid(data)
				raw, gotOK = fvs[0].CertifiedLookup(data, toks)
			}
			var got any
			if gotOK {
				got, err = jsonparse.Parse(raw)
				gotOK = err == nil
			}
			if gotOK != wantOK || !cmp.Equal(got, want) {
				t.Errorf("%s: fast path reads %v (%v), the parsed record holds %v (%v)\nrecord: %s", ptr, got, gotOK, want, wantOK, rec)
			}
		}
	}
	// End to end: the report, problems and cross-record checks included,
	// must not depend on the fast path.
	input := []byte(strings.Join(dc.records, "\n") + "\n")
	cfg := Config{Format: FormatJSONL, ID: "/id", Refs: diffPointers[1:]}
	fast, err := Validate(context.Background(), bytes.NewReader(input), "gen.jsonl", sch, cfg, Options{Jobs: 1, MaxProblems: 1000})
	if err != nil {
		t.Fatal(err)
	}
	full, err := Validate(context.Background(), bytes.NewReader(input), "gen.jsonl", sch, cfg, Options{Jobs: 1, MaxProblems: 1000, NoFastPath: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reportSummary(full), reportSummary(fast)); diff != "" {
		t.Errorf("the fast path changes the report (-full +fast):\n%s\nschema: %s\nrecords:\n%s", diff, dc.schema, input)
	}
	// The same records as CSV rows, where they are flat.
	if csvText := caseCSV(dc.values); csvText != "" {
		cfg := Config{Format: FormatCSV, ID: "/id", Refs: []string{"/ref"}}
		var reps [][]string
		for _, noFast := range []bool{false, true} {
			rep, err := Validate(context.Background(), strings.NewReader(csvText), "gen.csv", sch, cfg, Options{Jobs: 1, MaxProblems: 1000, NoFastPath: noFast})
			if err != nil {
				t.Fatal(err)
			}
			reps = append(reps, reportSummary(rep))
		}
		if diff := cmp.Diff(reps[1], reps[0]); diff != "" {
			t.Errorf("the fast path changes the report on CSV (-full +fast):\n%s\nschema: %s\nCSV:\n%s", diff, dc.schema, csvText)
		}
	}
}

// caseCSV renders the flat objects among values as CSV: a column for each
// name, a row for each object, null and absent as an empty cell.
func caseCSV(values []any) string {
	var rows []jobj
	cols := map[string]bool{}
	for _, v := range values {
		o, ok := v.(jobj)
		if !ok {
			continue
		}
		flat := true
		for _, kv := range o {
			switch kv.v.(type) {
			case jobj, []any:
				flat = false
			}
			cols[kv.k] = true
		}
		if flat {
			rows = append(rows, o)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	header := make([]string, 0, len(cols))
	for k := range cols {
		header = append(header, k)
	}
	sort.Strings(header)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(header)
	for _, o := range rows {
		rec := make([]string, len(header))
		for i, h := range header {
			switch v, _ := o.get(h); v := v.(type) {
			case string:
				rec[i] = v
			case jnum:
				rec[i] = string(v)
			case bool:
				rec[i] = strconv.FormatBool(v)
			}
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.String()
}

// crossCheckMessages begin the messages of the id and reference checks.
var crossCheckMessages = []string{"missing id", "duplicate id", "id must", "reference must", "not a reference", "S3 "}

// reportSummary is what the fast path decides in a report: which records
// are bad, and the problems of the id and reference checks. (The wording of
// a schema problem can vary from run to run with the library's map walks;
// it comes from the library path either way.)
func reportSummary(r *Report) []string {
	out := []string{fmt.Sprintf("records %d, bad %d, malformed %v", r.Records, r.BadRecords, r.Malformed)}
	lines := map[int]bool{}
	for _, p := range r.Shown {
		if !lines[p.Line] {
			lines[p.Line] = true
			out = append(out, fmt.Sprintf("line %d is bad", p.Line))
		}
		for _, prefix := range crossCheckMessages {
			if strings.HasPrefix(p.Message, prefix) {
				out = append(out, fmt.Sprintf("line %d: %s %s (%s)", p.Line, p.Pointer, p.Message, p.Value))
			}
		}
	}
	return out
}

// draftURIs are the meta-schema URIs the generator writes in "$schema".
var draftURIs = map[int]string{
	4:    "http://json-schema.org/draft-04/schema#",
	6:    "http://json-schema.org/draft-06/schema#",
	7:    "http://json-schema.org/draft-07/schema#",
	2019: "https://json-schema.org/draft/2019-09/schema",
	2020: "https://json-schema.org/draft/2020-12/schema",
}

// caseSeed is the generator input of deterministic case i.
func caseSeed(i int) []byte {
	return binary.LittleEndian.AppendUint64(nil, rand.New(rand.NewPCG(uint64(i), 20261206)).Uint64())
}

// TestFastPathGenerated runs the differential test on a fixed series of
// generated cases (FASTGEN_N sets how many).
func TestFastPathGenerated(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	if s := getenvInt("FASTGEN_N"); s > 0 {
		n = s
	}
	var st diffStats
	for i := range n {
		runCase(t, genCase(caseSeed(i)), &st)
		if t.Failed() {
			t.Fatalf("case %d failed (reproduce: genCase(caseSeed(%d)))", i, i)
		}
	}
	t.Logf("%d cases, %d with a fast path, %d records, %d valid, %d certified by the fast path", st.cases, st.fastCases, st.records, st.libValid, st.certified)
	if st.fastCases < st.cases/4 || st.certified < st.records/20 {
		t.Fatalf("the generator hardly exercises the fast path: %+v", st)
	}
}

// FuzzFastPathDifferential runs the differential test on the case each
// input selects: the input drives the generator's choices.
func FuzzFastPathDifferential(f *testing.F) {
	for i := range 8 {
		f.Add(caseSeed(i))
	}
	f.Add([]byte("const+enum"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dc := genCase(b)
		if !utf8.ValidString(dc.schema) {
			t.Fatalf("generator made invalid UTF-8")
		}
		runCase(t, dc, &diffStats{})
	})
}

func getenvInt(name string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(os.Getenv(name)))
	return n
}
