package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3store"
	"github.com/datalfs/datalfs/transfer/storetest"
)

// sentPart is what the server saw of one UploadPart or PutObject.
type sentPart struct {
	num                     int
	payload, crc32c, sha256 string
	wantPayload, wantCRC32C string
	body                    []byte
}

// recordParts has srv note the integrity headers and the body of every
// PUT it serves.
func recordParts(srv *mems3.Server) func() []sentPart {
	var mu sync.Mutex
	var got []sentPart
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		n, _ := strconv.Atoi(r.URL.Query().Get("partNumber"))
		mu.Lock()
		got = append(got, sentPart{num: n, payload: r.Header.Get("X-Amz-Content-Sha256"),
			crc32c: r.Header.Get("X-Amz-Checksum-Crc32c"), sha256: r.Header.Get("X-Amz-Checksum-Sha256"),
			wantPayload: hex.EncodeToString(sum[:]), wantCRC32C: base64.StdEncoding.EncodeToString(c[:]), body: body})
		mu.Unlock()
		return false
	})
	return func() []sentPart {
		mu.Lock()
		defer mu.Unlock()
		return append([]sentPart(nil), got...)
	}
}

// TestPartIntegrityOverHTTP: over plain HTTP each part is signed with its
// SHA-256 (nothing else protects the bytes on the way) and carries a
// CRC32C checksum, not a second SHA-256 the server would have to compute.
func TestPartIntegrityOverHTTP(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	parts := recordParts(srv)
	const size = 2*5<<20 + 3
	data, oid := storetest.Object(size, 21)
	s := newPartStore(t, srv, 2)
	if err := s.Upload(context.Background(), oid, size, bytes.NewReader(data), func(int64) {}); err != nil {
		t.Fatal(err)
	}
	got := parts()
	if len(got) != 3 {
		t.Fatalf("server saw %d PUTs, want 3 parts", len(got))
	}
	for _, p := range got {
		if p.payload != p.wantPayload {
			t.Errorf("part %d: x-amz-content-sha256 = %q, want the part's SHA-256 %s", p.num, p.payload, p.wantPayload)
		}
		if p.crc32c != p.wantCRC32C {
			t.Errorf("part %d: x-amz-checksum-crc32c = %q, want %s", p.num, p.crc32c, p.wantCRC32C)
		}
		if p.sha256 != "" {
			t.Errorf("part %d: x-amz-checksum-sha256 = %q: the signed payload hash already proves it", p.num, p.sha256)
		}
	}
}

// TestUnsignedPayloadOverTLS: over HTTPS, where TLS protects the bytes on
// the way, nothing is hashed for the signature (UNSIGNED-PAYLOAD, as the
// SDK and the aws CLI do by default); the server still verifies each part
// by its CRC32C and a single PUT by its SHA-256, the oid.
func TestUnsignedPayloadOverTLS(t *testing.T) {
	srv := mems3.Start(t, "bucket")
	parts := recordParts(srv)
	target, _ := url.Parse(srv.URL)
	tls := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(tls.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", ca)
	loc, err := s3store.ParseURL(tls.URL + "/bucket/repo")
	if err != nil {
		t.Fatal(err)
	}
	opts := s3store.DefaultOptions()
	opts.MultipartThreshold, opts.PartSize = 5<<20, 5<<20
	s, err := s3store.New(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.KeepUploadsIn(t.TempDir())

	big, bigOid := storetest.Object(2*5<<20+3, 22)
	small, smallOid := storetest.Object(1000, 23)
	for _, o := range []struct {
		data []byte
		oid  string
	}{{big, bigOid}, {small, smallOid}} {
		if err := s.Upload(context.Background(), o.oid, int64(len(o.data)), bytes.NewReader(o.data), func(int64) {}); err != nil {
			t.Fatal(err)
		}
	}
	got := parts()
	if len(got) != 4 {
		t.Fatalf("server saw %d PUTs, want 3 parts and 1 object", len(got))
	}
	for _, p := range got {
		if p.payload != "UNSIGNED-PAYLOAD" {
			t.Errorf("PUT %d over TLS: x-amz-content-sha256 = %q, want UNSIGNED-PAYLOAD", p.num, p.payload)
		}
		if p.num > 0 && p.crc32c != p.wantCRC32C {
			t.Errorf("part %d: x-amz-checksum-crc32c = %q, want %s", p.num, p.crc32c, p.wantCRC32C)
		}
		if p.num == 0 {
			sum, _ := hex.DecodeString(smallOid)
			if want := base64.StdEncoding.EncodeToString(sum); p.sha256 != want {
				t.Errorf("single PUT: x-amz-checksum-sha256 = %q, want the oid %s", p.sha256, want)
			}
		}
	}
}
