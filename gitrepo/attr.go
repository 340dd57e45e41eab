package gitrepo

import (
	"bytes"
	"context"
	"fmt"

	"github.com/datalfs/datalfs/internal/gitcmd"
)

// The manifest-* attributes, read for `datalfs manifest` and the dataset
// commands alike.
const (
	AttrSchema  = "manifest-schema"
	AttrFormat  = "manifest-format"
	AttrRecords = "manifest-records"
	AttrID      = "manifest-id"
	AttrRef     = "manifest-ref"
	AttrMaxBad  = "manifest-max-bad"
	AttrLabel   = "manifest-label"
)

// AttrNames lists every attribute Attributes reads, in the order asked.
var AttrNames = []string{AttrSchema, AttrFormat, AttrRecords, AttrID, AttrRef, AttrMaxBad, AttrLabel}

// Attrs are the manifest-* attributes of one path as git check-attr
// reports them: an attribute's value, or git's words for none
// ("unspecified", "unset") and for an attribute given without a value
// ("set"). Read them with Value.
type Attrs map[string]string

// Value returns the value of attribute name: "" when it is not given (or
// given empty), an error when it is given without a value
// (`manifest-ref` rather than `manifest-ref=/uri`): every manifest-*
// attribute needs one.
func (a Attrs) Value(name string) (string, error) {
	switch v := a[name]; v {
	case "", "unspecified", "unset":
		return "", nil
	case "set":
		return "", fmt.Errorf("attribute %s needs a value, as in %s=VALUE", name, name)
	default:
		return v, nil
	}
}

// Err returns the error of the first attribute given without a value, or nil.
func (a Attrs) Err() error {
	for _, name := range AttrNames {
		if _, err := a.Value(name); err != nil {
			return err
		}
	}
	return nil
}

// Attributes reads the manifest-* attributes of paths (slash paths relative
// to Top) as s has them, in one git check-attr call: from the
// .gitattributes files of the working tree, of the index, or of a commit
// (read through a temporary index; check-attr --source needs Git 2.40).
// Every path has an entry.
func (r *Repo) Attributes(ctx context.Context, s Source, paths []string) (map[string]Attrs, error) {
	res := make(map[string]Attrs, len(paths))
	for _, p := range paths {
		res[p] = Attrs{}
	}
	if len(paths) == 0 {
		return res, nil
	}
	env, cached, done, err := r.index(ctx, s)
	if err != nil {
		return nil, err
	}
	defer done()
	args := []string{"check-attr", "--stdin", "-z"}
	if cached {
		args = append(args, "--cached")
	}
	args = append(args, AttrNames...)
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte(0)
	}
	out, err := gitcmd.Cmd{Dir: r.dir(), Env: env, Stdin: in.Bytes()}.Output(ctx, args...)
	if err != nil {
		return nil, err
	}
	return parseCheckAttr(out, res)
}

// parseCheckAttr reads `git check-attr -z` output (PATH NUL NAME NUL VALUE
// NUL ...) into res.
func parseCheckAttr(out []byte, res map[string]Attrs) (map[string]Attrs, error) {
	f := bytes.Split(out, []byte{0})
	if len(f)%3 != 1 || len(f[len(f)-1]) != 0 {
		return nil, fmt.Errorf("unexpected git check-attr output")
	}
	for i := 0; i+2 < len(f); i += 3 {
		p, name, val := string(f[i]), string(f[i+1]), string(f[i+2])
		a := res[p]
		if a == nil {
			a = Attrs{}
			res[p] = a
		}
		a[name] = val
	}
	return res, nil
}
