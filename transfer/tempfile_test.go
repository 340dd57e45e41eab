package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifierOutOfOrder writes chunks in a random order, as parallel ranged
// downloads do, and checks the hash of the whole and the file's content.
func TestVerifierOutOfOrder(t *testing.T) {
	data := make([]byte, 3<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := sha256.Sum256(data)
	for _, chunk := range []int{1 << 10, 64 << 10, 1 << 20} {
		tf, err := openTemp(t.TempDir(), hex.EncodeToString(want[:]), int64(len(data)), false, lockFile, true)
		if err != nil {
			t.Fatal(err)
		}
		v := newVerifier(tf, int64(len(data)))
		var offs []int
		for off := 0; off < len(data); off += chunk {
			offs = append(offs, off)
		}
		r.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
		for _, off := range offs {
			end := min(off+chunk, len(data))
			if _, err := v.WriteAt(data[off:end], int64(off)); err != nil {
				t.Fatal(err)
			}
		}
		n, sum, err := v.result()
		if err != nil || n != int64(len(data)) || sum != hex.EncodeToString(want[:]) {
			t.Errorf("chunk %d: result = %d, %s; want %d, %x", chunk, n, sum, len(data), want)
		}
		if _, err := v.WriteAt(data[:1], 0); err == nil {
			t.Errorf("writing a byte twice was accepted")
		}
		tf.fail(false, 0)
		if entries, _ := os.ReadDir(filepath.Dir(tf.f.Name())); len(entries) != 0 {
			t.Errorf("close of a failed download left %d files", len(entries))
		}
	}
}

// TestVerifierGap reports a download with a hole as incomplete.
func TestVerifierGap(t *testing.T) {
	tf, err := openTemp(t.TempDir(), "ab", 30, false, lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.fail(false, 0)
	v := newVerifier(tf, 30)
	v.WriteAt(make([]byte, 10), 0)
	v.WriteAt(make([]byte, 10), 20)
	if n, _, _ := v.result(); n != -1 {
		t.Errorf("result with a hole = %d, want -1", n)
	}
}

// TestOpenTempBusy: when a live agent holds OID.datalfs, another download of
// the same object writes a file of its own and leaves the busy one alone.
func TestOpenTempBusy(t *testing.T) {
	dir := t.TempDir()
	oid := strings.Repeat("c", 64)
	busy, err := openTemp(dir, oid, 10, true, lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	busy.f.WriteString("in flight")
	other, err := openTemp(dir, oid, 10, true, lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if other.f.Name() == busy.f.Name() || other.resumeFrom != 0 {
		t.Errorf("second download got %s (resume %d), want its own file", other.f.Name(), other.resumeFrom)
	}
	if b, _ := os.ReadFile(busy.f.Name()); string(b) != "in flight" {
		t.Errorf("the busy file was changed to %q", b)
	}
	other.fail(false, 0)
	busy.fail(false, 0)
}

// TestOwnFileNotKept: a download in a file of its own (the shared name was
// busy) cannot be resumed by anyone, so an interrupted one leaves nothing,
// while the shared file keeps its written part and a sidecar.
func TestOwnFileNotKept(t *testing.T) {
	dir := t.TempDir()
	oid := strings.Repeat("d", 64)
	shared, err := openTemp(dir, oid, 10, true, lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	own, err := openTemp(dir, oid, 10, true, lockFile, true)
	if err != nil {
		t.Fatal(err)
	}
	if !shared.shared || own.shared {
		t.Fatalf("shared = %v, own = %v; want the first on the shared name, the second not", shared.shared, own.shared)
	}
	for _, tf := range []*tempFile{shared, own} {
		tf.f.WriteString("12345")
		tf.fail(true, 5)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{oid + ".datalfs", oid + ".datalfs.done"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("after two interrupted downloads the dir holds %q, want %q", names, want)
	}
}

// TestVerifierHashesInOrderBytesAsWritten: bytes written at the frontier of
// the hashed prefix (a single stream, or the first of parallel ranges) are
// hashed from the caller's buffer: the file is not read back. The temp file
// here is write-only, so a read-back fails the download. A resumed prefix
// and bytes written ahead of the frontier are still read back (from the
// page cache).
func TestVerifierHashesInOrderBytesAsWritten(t *testing.T) {
	data := make([]byte, 5<<20+7)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	want := sha256.Sum256(data)
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "obj"), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	tf := &tempFile{f: f}
	defer tf.remove()
	v := newVerifier(tf, int64(len(data)))
	for off := 0; off < len(data); off += 256 << 10 {
		end := min(off+256<<10, len(data))
		if _, err := v.WriteAt(data[off:end], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	n, sum, err := v.result()
	if err != nil || n != int64(len(data)) || sum != hex.EncodeToString(want[:]) {
		t.Errorf("result = %d, %s, %v; want %d, %x and no error", n, sum, err, len(data), want)
	}
}
