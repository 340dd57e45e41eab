package gc

import (
	"context"
	"time"

	"github.com/datalfs/datalfs/s3store"
)

// Uploads is what StaleUploads needs of the storage: the unfinished
// multipart uploads under the prefix, and a way to abort one.
type Uploads interface {
	PendingUploads(ctx context.Context) ([]s3store.Pending, error)
	AbortUpload(ctx context.Context, p s3store.Pending) error
}

// UploadsReport says what StaleUploads found and did.
type UploadsReport struct {
	// Pending counts every unfinished upload under the prefix.
	Pending int
	// Stale are the uploads started before the cutoff, in the listing's
	// order; with abort, those aborted and, last, the one whose abort
	// failed.
	Stale []s3store.Pending
	// Aborted counts the uploads aborted.
	Aborted int
}

// StaleUploads lists the unfinished multipart uploads started before
// cutoff and, with abort, aborts them in order, stopping at the first that
// cannot be aborted: the error is that one's, and the report still says
// what was done. An upload started at or after cutoff is left alone: it
// may be a push still sending.
func StaleUploads(ctx context.Context, u Uploads, cutoff time.Time, abort bool) (UploadsReport, error) {
	pending, err := u.PendingUploads(ctx)
	if err != nil {
		return UploadsReport{}, err
	}
	rep := UploadsReport{Pending: len(pending)}
	for _, p := range pending {
		if p.Initiated.After(cutoff) {
			continue
		}
		rep.Stale = append(rep.Stale, p)
		if !abort {
			continue
		}
		if err := u.AbortUpload(ctx, p); err != nil {
			return rep, err
		}
		rep.Aborted++
	}
	return rep, nil
}
