package gc

import (
	"context"
	"fmt"

	"github.com/datalfs/datalfs/lfsscan"
)

// Clone is one repository clone whose refs protect objects.
type Clone struct {
	// Dir is the clone's directory; "" is the current directory's.
	Dir string
	// Name names it in messages and progress.
	Name string
}

// ScanRefs collects what the clones' refs refer to: the published history
// (branches, tags, remote-tracking branches, HEAD) as needed, every other
// ref (stash, notes, ...) as kept. progress, if not nil, is called with the
// clone's name and the count of git objects scanned so far.
func ScanRefs(ctx context.Context, clones []Clone, progress func(name string, n int)) (Refs, error) {
	var refs Refs
	for _, c := range clones {
		show := func(n int) {
			if progress != nil {
				progress(c.Name, n)
			}
		}
		needed, err := lfsscan.Scan(ctx, lfsscan.Options{Dir: c.Dir, Revs: append(append([]string{}, lfsscan.Published...), "HEAD"), Progress: show})
		if err != nil {
			return refs, fmt.Errorf("scan %s: %w", c.Name, err)
		}
		kept, err := lfsscan.Scan(ctx, lfsscan.Options{Dir: c.Dir, Revs: lfsscan.Unpublished, Progress: show})
		if err != nil {
			return refs, fmt.Errorf("scan %s: %w", c.Name, err)
		}
		refs.Needed = append(refs.Needed, needed...)
		refs.Kept = append(refs.Kept, kept...)
	}
	return refs, nil
}
