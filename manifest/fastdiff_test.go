package manifest

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/datalfs/datalfs/manifest/internal/jsonparse"
)

// vocabulary gathers the strings and numbers a schema document mentions, so
// that random instances hit its properties, enums and bounds.
func vocabulary(doc any) (words []string, nums []string) {
	seenW, seenN := map[string]bool{}, map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !seenW[k] {
					seenW[k] = true
					words = append(words, k)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if !seenW[v] {
				seenW[v] = true
				words = append(words, v)
			}
		case json.Number:
			f, _ := strconv.ParseFloat(string(v), 64)
			for _, n := range []string{string(v), fmtNum(f - 1), fmtNum(f + 1), fmtNum(f - 0.5), fmtNum(f + 0.5), string(v) + ".0", fmtNum(f) + "e0"} {
				if !seenN[n] {
					seenN[n] = true
					nums = append(nums, n)
				}
			}
		}
	}
	walk(doc)
	sort.Strings(words)
	sort.Strings(nums)
	return words, append(nums, "0", "-1", "1.5", "1e400", "12345678901234567890")
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// randomJSON writes a random JSON value built from the vocabulary.
func randomJSON(r *rand.Rand, sb *strings.Builder, words, nums []string, depth int) {
	word := func() string {
		if len(words) > 0 && r.Intn(5) > 0 {
			return words[r.Intn(len(words))]
		}
		return []string{"", "x", "s3://bucket/key", "2026-11-26T10:00:00Z", "é", "ab"}[r.Intn(6)]
	}
	k := r.Intn(10)
	if depth > 3 {
		k = 4 + r.Intn(6)
	}
	switch {
	case k < 3:
		sb.WriteByte('{')
		for i, n := 0, r.Intn(5); i < n; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			b, _ := json.Marshal(word())
			sb.Write(b)
			sb.WriteByte(':')
			randomJSON(r, sb, words, nums, depth+1)
		}
		sb.WriteByte('}')
	case k < 4:
		sb.WriteByte('[')
		for i, n := 0, r.Intn(5); i < n; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			randomJSON(r, sb, words, nums, depth+1)
		}
		sb.WriteByte(']')
	case k < 6:
		b, _ := json.Marshal(word())
		sb.Write(b)
	case k < 8:
		sb.WriteString(nums[r.Intn(len(nums))])
	case k < 9:
		sb.WriteString([]string{"true", "false"}[r.Intn(2)])
	default:
		sb.WriteString("null")
	}
}

// TestFastPathDifferential checks the fast path against the full validator
// on random instances built from each schema's own vocabulary, for the
// schemas in testdata and every schema of the JSON-Schema-Test-Suite: an
// instance the fast path certifies must pass the full validator.
func TestFastPathDifferential(t *testing.T) {
	var docs []string
	paths, _ := filepath.Glob("testdata/schemas/*.json")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		docs = append(docs, string(b))
	}
	docs = append(docs, fastSchemas...)
	if root := suiteDir(t); root != "" {
		for _, draft := range []string{"draft2020-12", "draft7"} {
			files, _ := filepath.Glob(filepath.Join(root, "tests", draft, "*.json"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					continue
				}
				var groups []struct {
					Schema json.RawMessage `json:"schema"`
				}
				if json.Unmarshal(b, &groups) != nil {
					continue
				}
				for _, g := range groups {
					s := string(g.Schema)
					if draft == "draft7" && strings.HasPrefix(strings.TrimSpace(s), "{") && !strings.Contains(s, `"$schema"`) {
						s = `{"$schema": "http://json-schema.org/draft-07/schema#", ` + strings.TrimPrefix(strings.TrimSpace(s), "{")
						s = strings.Replace(s, `#", }`, `#"}`, 1)
					}
					docs = append(docs, s)
				}
			}
		}
	}
	n := 300
	if s := os.Getenv("FASTDIFF_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 30
	}
	r := rand.New(rand.NewSource(20261126))
	var compiled, certified int
	for i, text := range docs {
		sch, err := CompileSchema("diff.json", func(string) ([]byte, error) { return []byte(text), nil })
		if err != nil || sch.fast == nil {
			continue // remote references, other files, or beyond the fast path
		}
		compiled++
		doc, _ := jsonparse.Parse([]byte(text))
		words, nums := vocabulary(doc)
		fv := sch.fast.NewChecker(nil)
		for j := 0; j < n; j++ {
			var sb strings.Builder
			randomJSON(r, &sb, words, nums, 0)
			data := []byte(sb.String())
			if !fv.CertainlyValid(data) {
				continue
			}
			certified++
			v, err := jsonparse.Parse(data)
			if err != nil {
				t.Fatalf("schema %d: fast path accepts %s, which does not parse: %v", i, data, err)
			}
			if probs := sch.validate(1, v); len(probs) > 0 {
				t.Errorf("schema %d %s:\nfast path accepts %s; the full validator says %v", i, text, data, probs)
			}
		}
	}
	t.Logf("%d schemas with a fast path, %d random instances certified valid and confirmed", compiled, certified)
}
