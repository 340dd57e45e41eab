package s3store

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NotFoundProbe tells a missing object from a refused request when a HEAD
// answers 404. A HEAD answer has no body, so its 404 cannot say why, and
// a refusal may come as a 404 (see notFoundMayBeRefusal): taken at its word, every object would look
// missing, `forget` would believe there is nothing to delete and `verify`
// would report a whole dataset gone. The first bodiless 404 a probe sees is
// checked with a one-byte GET of the same object, whose answer carries the
// error code; once a 404 has proved to mean "no such object", later ones
// are trusted. The zero value is ready; it is safe for concurrent use.
type NotFoundProbe struct {
	trusted atomic.Bool
}

// Check returns headErr when it is not a bodiless 404, or when such a 404
// really means that bucket/key (at version, when not empty) does not exist.
// Otherwise it returns the error the GET revealed (such as an unknown
// access key), for the caller to explain instead.
func (p *NotFoundProbe) Check(ctx context.Context, cl *s3.Client, bucket, key, version string, headErr error) error {
	if code, status := APIError(headErr); p.trusted.Load() || !notFoundMayBeRefusal(status) || (code != "NotFound" && code != "") {
		return headErr
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := cl.GetObject(ctx, in)
	if err == nil {
		out.Body.Close()
		return headErr // it exists after all (a race with a writer): the HEAD's answer stands
	}
	switch code, status := APIError(err); {
	case code == "NoSuchKey" || code == "NoSuchVersion" || (status == 404 && (code == "" || code == "NotFound")):
		p.trusted.Store(true)
		return headErr
	case code == "InvalidRange" || status == 416:
		return headErr // an empty object exists: the HEAD's answer stands
	}
	return err
}
