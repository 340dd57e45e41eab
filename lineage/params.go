package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
	"go.yaml.in/yaml/v3"
)

// ParamSpec is one --param FILE[:KEY] argument.
type ParamSpec struct {
	File string // relative to the top
	Key  string // dotted path into the document, "" for all of it
}

// ParseParam splits FILE[:KEY]. The key is a dotted path (train.lr); a
// number selects a list element (layers.0).
func ParseParam(s string) (file, key string) {
	if i := strings.LastIndex(s, ":"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// paramValue reads the value at key of file in src, as canonical JSON.
// FILE is YAML (.yaml, .yml) or JSON (anything else; JSON is YAML too).
func (r *Repo) paramValue(ctx context.Context, src gitrepo.Source, p ParamSpec) (json.RawMessage, error) {
	data, err := r.ReadFile(ctx, src, p.File)
	if err != nil {
		return nil, err
	}
	var doc any
	switch strings.ToLower(path.Ext(p.File)) {
	case ".yaml", ".yml":
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: not YAML: %v", p.File, err)
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: not JSON (name YAML files *.yaml or *.yml): %v", p.File, err)
		}
	}
	v := doc
	if p.Key != "" {
		for _, k := range strings.Split(p.Key, ".") {
			switch c := v.(type) {
			case map[string]any:
				x, ok := c[k]
				if !ok {
					return nil, fmt.Errorf("%s has no key %q", p.File, p.Key)
				}
				v = x
			case []any:
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(c) {
					return nil, fmt.Errorf("%s has no key %q", p.File, p.Key)
				}
				v = c[i]
			default:
				return nil, fmt.Errorf("%s has no key %q", p.File, p.Key)
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: the value at %q cannot be written as JSON: %v", p.File, p.Key, err)
	}
	return json.RawMessage(compact(b)), nil
}
