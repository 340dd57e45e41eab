package s3store_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
)

// TestNotFoundProbe: a HEAD's bodiless 404 stands when a GET confirms the
// object is missing (and later 404s are then trusted without a GET), but
// gives way to the GET's error when the server meant something else, as
// versitygw does for an unknown access key.
func TestNotFoundProbe(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	ctx := context.Background()
	head := func(key string) error {
		_, err := srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
		if code, status := s3store.APIError(err); status != 404 {
			t.Fatalf("HEAD of a missing key: %v (%s, %d), want a 404", err, code, status)
		}
		return err
	}

	// A server that answers every GET "unknown access key" with a 404.
	refuse := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>XAdminUserNotFound</Code><Message>No such user</Message></Error>`))
		return true
	}
	var p s3store.NotFoundProbe
	srv.Intercept(refuse)
	headErr := head("missing")
	err := p.Check(ctx, srv.Client, "bucket", "missing", "", headErr)
	if code, _ := s3store.APIError(err); code != "XAdminUserNotFound" {
		t.Fatalf("probe over a refusing server = %v, want the GET's XAdminUserNotFound", err)
	}

	srv.Intercept(nil)
	gets := srv.Requests("GET")
	if err := p.Check(ctx, srv.Client, "bucket", "missing", "", headErr); err != headErr {
		t.Fatalf("probe of a missing object = %v, want the HEAD's own error", err)
	}
	if n := srv.Requests("GET") - gets; n != 1 {
		t.Errorf("the probe sent %d GETs, want 1", n)
	}
	// Trusted from now on: no more GETs, even if the server would refuse.
	srv.Intercept(refuse)
	if err := p.Check(ctx, srv.Client, "bucket", "other", "", head("other")); s3store.APIErrorString(err) != "NotFound, HTTP 404" {
		t.Errorf("a trusted probe = %v, want the HEAD's 404", err)
	}
	if n := srv.Requests("GET") - gets; n != 1 {
		t.Errorf("a trusted probe sent %d more GETs, want none", n-1)
	}
}
