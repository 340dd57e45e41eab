package transfer

import (
	"context"
	"io"
)

// IfAbsentUploader is a Store that can store an object unless it already
// holds it in one request, where Stat then Upload take two. The agent uses
// it, when the store offers it, before falling back to Stat and Upload.
type IfAbsentUploader interface {
	// UploadIfAbsent stores oid as Upload does, unless the store holds it
	// already. It answers IfAbsentUndecided, having done nothing, when it
	// cannot decide in one request for this object; the caller then uses
	// Stat and Upload.
	UploadIfAbsent(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) (IfAbsent, error)
}

// IfAbsent is the outcome of UploadIfAbsent.
type IfAbsent int

// The outcomes of UploadIfAbsent.
const (
	IfAbsentUndecided IfAbsent = iota // nothing done: use Stat and Upload
	IfAbsentStored                    // stored by this request
	IfAbsentPresent                   // already stored: the push relies on it (see Keeper)
)
