package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/datalfs/datalfs/transfer"
)

// errDigest is the cause of every content mismatch.
var errDigest = transfer.ErrDigestMismatch

// explain turns an SDK error into one a user can act on, keeping the cause
// for errors.Is. op is what was being done: check, upload or download.
func (s *Store) explain(err error, op, oid string) error {
	if err == nil {
		return nil
	}
	uri := s.Locate(oid)
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s %s: cancelled: %w", op, uri, err)
	case IsNoCredentials(err):
		return s.credentialError(context.Background(), err)
	case code == "NoSuchBucket":
		return fmt.Errorf("bucket %q does not exist%s: create it, or fix the LFS URL (lfs.url in .lfsconfig): %w",
			s.loc.Bucket, s.at(), fs.ErrNotExist)
	case isUnknownAccessKey(code):
		return fmt.Errorf("access denied to %s (%s): the AWS access key from %s is unknown to the server; check AWS_ACCESS_KEY_ID or your profile: %w",
			uri, code, s.sourceOr(), fs.ErrPermission)
	case code == "NoSuchKey" || code == "NotFound" || status == 404:
		return fmt.Errorf("object %s not found at %s: push it from a clone that has it, or run `datalfs verify`: %w",
			oid, uri, fs.ErrNotExist)
	case IsAccessDenied(err):
		return fmt.Errorf("access denied to %s (%s): check that the AWS credentials from %s are right and may %s objects under s3://%s/%s: %w",
			uri, codeOr(code, status), s.sourceOr(), verb(op), s.loc.Bucket, s.loc.Prefix, fs.ErrPermission)
	case code == "BadDigest" || code == "XAmzContentSHA256Mismatch" || code == "InvalidDigest":
		return fmt.Errorf("the bucket refused the bytes of %s because they do not match its SHA-256 (%s); the local copy or the network damaged them: %w",
			oid, code, errDigest)
	case code == "PreconditionFailed" || status == 412:
		return fmt.Errorf("%s changed while it was being downloaded; run the command again: %w", uri, err)
	case isUnreachable(err):
		return transfer.Transient(err, fmt.Sprintf("cannot reach the S3 endpoint%s to %s %s: check the LFS URL, your network and that the server is running (%v)",
			s.at(), op, uri, unwrapNet(err)))
	case IsTransient(err):
		return transfer.Transient(err, fmt.Sprintf("%s %s: the server or the network kept failing after %d attempts (%s); run the command again later, it resumes",
			op, uri, s.opts.MaxAttempts, shortCause(err, code, status)))
	}
	if code != "" {
		return fmt.Errorf("%s %s: %s: %w", op, uri, codeOr(code, status), err)
	}
	return fmt.Errorf("%s %s: %w", op, uri, err)
}

// IsAccessDenied reports a request the server refused for its credentials
// or their permissions, including an access key it does not know (see
// codeUnknownAccessKey).
func IsAccessDenied(err error) bool {
	code, status := APIError(err)
	switch code {
	case "AccessDenied", "AllPermissionsDenied", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
		return true
	}
	return isUnknownAccessKey(code) || status == 403
}

// IsTransient reports a failure that may pass if tried again later: a 5xx
// answer, throttling, or a connection that broke.
func IsTransient(err error) bool {
	_, status := APIError(err)
	return status >= 500 || status == 429 || isNetwork(err) || errors.Is(err, io.ErrUnexpectedEOF)
}

// shortCause names what failed: the S3 error code and status, or the
// innermost network error, without the SDK's request ids.
func shortCause(err error, code string, status int) string {
	if code != "" || status != 0 {
		return codeOr(code, status)
	}
	return unwrapNet(err).Error()
}

func (s *Store) at() string {
	if s.loc.Endpoint != "" {
		return " at " + s.loc.Endpoint
	}
	return " in region " + s.region
}

func codeOr(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", status)
}

func verb(op string) string {
	switch op {
	case "upload":
		return "write"
	case "download":
		return "read"
	}
	return "read"
}

func isUnreachable(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// unwrapNet returns the innermost network error, which reads better than the
// SDK's layered message.
func unwrapNet(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// apiCode returns the S3 error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	c := apiCode(err)
	return c == "NoSuchUpload" || c == "NotFound" || c == "NoSuchKey"
}

// resumable reports whether an upload that failed with err may succeed when
// resumed later: the run was interrupted, or the network or server failed
// for longer than the retries lasted. Refused content and refused access
// will not get better.
func resumable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, errDigest) || errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		return false
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429
	}
	return isUnreachable(err) || isNetwork(err)
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
