package s3store

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server quirks: every workaround for a particular S3 server or SDK
// version lives here, named, with the server and version it is for, what
// it does, and how to tell when it can go. Callers use these names, so
// that removing a workaround means removing its name and fixing what no
// longer compiles. Other packages hold no server knowledge; they use the
// names exported here. The test servers' own quirks (gofakes3 in
// internal/mems3, versitygw's --keep-alive in the integration harness) are
// listed in docs/development.md.

// codeUnknownAccessKey is the error code versitygw (seen up to 1.8.0)
// answers a request signed with an access key it does not know, with HTTP
// 404 rather than AWS's 403 InvalidAccessKeyId. It is classified as
// InvalidAccessKeyId: access denied, never "not found".
// Can go when versitygw answers InvalidAccessKeyId (check: any request with
// AWS_ACCESS_KEY_ID=nobody against `versitygw`).
const codeUnknownAccessKey = "XAdminUserNotFound"

// isUnknownAccessKey reports an error code that means "the server does not
// know this access key": AWS's, or codeUnknownAccessKey.
func isUnknownAccessKey(code string) bool {
	return code == "InvalidAccessKeyId" || code == codeUnknownAccessKey
}

// notFoundMayBeRefusal reports whether an answer with this HTTP status may
// be a refusal in disguise. versitygw (seen up to 1.8.0) answers a HEAD
// (which has no body, hence no error code) signed with an unknown access
// key with a bare 404: taken at its word, every object would look missing.
// So a bodiless 404 is checked once by a request whose answer has a body
// (NotFoundProbe: a one-byte GET; CheckBucket: a one-key listing) before
// it is believed. Can go with codeUnknownAccessKey, when versitygw answers
// 403 to such a HEAD; the extra request is made once per process.
func notFoundMayBeRefusal(status int) bool { return status == 404 }

// DateTrails is how far an HTTP Date header may trail the clock that dates
// objects: versitygw (1.8.0, through fasthttp) refreshes its Date once a
// second, and Date has whole seconds, so an object written just before a
// request can look newer than the answer's Date. gc compares ages with this
// slack. Can go (become 1s, Date's resolution) when versitygw dates answers
// with the current second.
const DateTrails = 2 * time.Second

// whenRequiredChecksums turns off the checksum headers the SDK adds to
// every request by default since service/s3 v1.73.0 (CRC32 on uploads,
// validation of downloads), for endpoints other than AWS: older MinIO,
// Backblaze B2, Cloudflare R2 (for CRC64NVME), Hetzner and Linode reject
// them. The checksums datalfs sends itself (a part's CRC32C, a PUT's
// SHA-256) are set explicitly and still go. Can go per server once it
// accepts the SDK's defaults; AWS never needs it.
func whenRequiredChecksums(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

// repeatedKeys drops a key a listing repeats: versitygw 1.8.0 repeats the
// last key of a ListObjectVersions page at the top of the next one. The
// zero value is ready. Listings are in key order, so a key not after the
// last one given is a repeat. Can go when versitygw's pages stop
// overlapping (check: list 1,001 versioned keys with a page size of 1,000).
// Its companion needs no code: versitygw 1.8.0 may date a delete marker
// before the version it hides, so listings trust IsLatest, never times.
type repeatedKeys struct {
	last string
	seen bool
}

// repeat reports whether key was given already, and remembers it if not.
func (r *repeatedKeys) repeat(key string) bool {
	if r.seen && key <= r.last {
		return true
	}
	r.last, r.seen = key, true
	return false
}

// QuirkEmptiedDirsRemoved documents that versitygw's posix backend (seen
// in 1.8.0) removes a directory once a delete empties it, so a write under
// the same prefix running at that moment can fail with
// ExistingObjectIsDirectory. A
// caller that writes and deletes probe objects under one prefix from
// several goroutines (doctor's checks) runs them one at a time. Can go
// when concurrent PUT and DELETE under one prefix of versitygw stop
// failing.
const QuirkEmptiedDirsRemoved = true
