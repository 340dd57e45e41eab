// Package mems3 runs an in-process S3 server (gofakes3 with its memory
// backend) for fast unit tests, and counts the requests it serves so tests
// can assert what a client sent.
package mems3

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Credentials the server accepts (gofakes3 does not check them).
const (
	AccessKey = "mems3-access"
	SecretKey = "mems3-secret"
)

// UploadPart counts the PUT requests that upload a multipart part, for Requests.
const UploadPart = "UPLOADPART"

// Server is a running in-memory S3 server.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:PORT.
	URL string
	// Client is an SDK client for the server, for arranging and checking
	// the bucket from outside the code under test.
	Client *s3.Client

	mu        sync.Mutex
	requests  map[string]int
	ranges    []string
	intercept func(w http.ResponseWriter, r *http.Request) bool
	clock     clock
}

// clock is the server's time: the local clock plus an offset that tests
// advance. It dates the objects (LastModified) and the answers (Date).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Advance moves the server's clock d ahead: objects written earlier look
// d older, as they would after d passed.
func (s *Server) Advance(d time.Duration) {
	s.clock.mu.Lock()
	defer s.clock.mu.Unlock()
	s.clock.off += d
}

// Start runs a server on loopback until the test ends, with the given
// buckets created, and sets the AWS environment for clients built from the
// default chain.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	s := &Server{requests: map[string]int{}}
	backend := s3mem.New(s3mem.WithTimeSource(&s.clock))
	// No skew check: the SDK signs by the clock it learns from Date,
	// which Advance moves.
	faker := gofakes3.New(backend, gofakes3.WithIntegrityCheck(true), gofakes3.WithTimeSource(&s.clock), gofakes3.WithTimeSkewLimit(0))
	h := faker.Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method]++
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
			s.requests[UploadPart]++
		}
		if r.Method == http.MethodGet && r.Header.Get("Range") != "" {
			s.ranges = append(s.ranges, r.Header.Get("Range"))
		}
		intercept := s.intercept
		s.mu.Unlock()
		w.Header().Set("Date", s.clock.Now().UTC().Format(http.TimeFormat))
		if intercept != nil && intercept(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	// Per-user caches (the conditional-write verdict) stay in the test.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	s.Client = s3.New(s3.Options{
		BaseEndpoint: aws.String(ts.URL),
		UsePathStyle: true,
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	for _, b := range buckets {
		if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	return s
}

// Requests returns how many requests with method (GET, PUT, HEAD, POST, or
// UploadPart) the server has served.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[strings.ToUpper(method)]
}

// Intercept has f see every request (after it is counted) before the
// server does; a request for which f returns true is taken as answered by f
// and never reaches the backend. Tests use it to stop a request at a chosen
// point without timing races.
func (s *Server) Intercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intercept = f
}

// Ranges returns the Range headers of the GET requests served so far.
func (s *Server) Ranges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// Put stores body under key, bypassing the code under test.
func (s *Server) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.Client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(string(body)),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// Keys lists every key in bucket under prefix.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}
