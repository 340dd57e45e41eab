package verify

import (
	"context"
	"fmt"

	"github.com/datalfs/datalfs/lfsscan"
)

// Store is what History needs of the bucket: Head for each object and,
// when some are missing, CheckBucket, since a HEAD answers 404 for a
// missing bucket too, and some servers for an unknown access key.
type Store interface {
	Bucket
	// CheckBucket returns an error when the bucket cannot be used: it does
	// not exist, or the credentials are refused.
	CheckBucket(ctx context.Context) error
}

// HistoryOptions says which history History reads and how it reports.
type HistoryOptions struct {
	// Dir is a directory inside the repository; empty means the current one.
	Dir string
	// Revs and Mode select the history, as lfsscan.Options do.
	Revs []string
	Mode lfsscan.Mode
	// Jobs is how many HEAD requests are in flight at most.
	Jobs int
	// Scanned, when set, is called with the count of git objects read so far.
	Scanned func(objects int)
	// Checked, when set, is called as Check's progress is.
	Checked func(done, total int)
}

// History checks every LFS object the pointers in the selected history
// refer to: it reads the pointers from git, asks the bucket about each
// (Check) and, when some are not intact, makes sure the bucket itself is
// usable, so that a wrong bucket name or refused keys are an error rather
// than every object "missing". It then names the commit that added each
// problem's pointer (Result.Origin); that is best effort, and when it fails
// Summary.OriginErr says why and the problems keep their paths.
func History(ctx context.Context, s Store, o HistoryOptions) (Summary, error) {
	ptrs, err := lfsscan.Scan(ctx, lfsscan.Options{Dir: o.Dir, Revs: o.Revs, Mode: o.Mode, Progress: o.Scanned})
	if err != nil {
		return Summary{}, fmt.Errorf("scan the history: %w (check that each REF names a branch, tag or commit)", err)
	}
	sum, err := Check(ctx, s, ptrs, o.Jobs, o.Checked)
	if err != nil {
		return Summary{}, fmt.Errorf("could not check the bucket: %w", err)
	}
	if len(sum.Problems) == 0 {
		return sum, nil
	}
	if err := s.CheckBucket(ctx); err != nil {
		return Summary{}, fmt.Errorf("could not check the bucket: %w", err)
	}
	blobs := make(map[string]bool, len(sum.Problems))
	for _, p := range sum.Problems {
		blobs[p.Blob] = true
	}
	origins, err := lfsscan.Origins(ctx, o.Dir, o.Revs, blobs)
	if err != nil {
		sum.OriginErr = fmt.Errorf("could not name the commits that added the objects: %w", err)
		return sum, nil
	}
	for i := range sum.Problems {
		sum.Problems[i].Origin = origins[sum.Problems[i].Blob]
	}
	return sum, nil
}
