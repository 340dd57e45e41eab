package s3store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
)

// Multipart uploads are resumed only by their owner. A process that
// creates a multipart upload records its id in a record file in the
// repository's record directory (<lfs dir>/datalfs-uploads, outside
// lfs/tmp, whose old files git-lfs deletes), named for the endpoint,
// bucket and key, and
// holds an exclusive flock on that file for as long as it uploads. A later
// process resumes the recorded upload only when it can take that lock: the
// process that created it is gone. A process that finds the lock held (a
// second push of the same object, in this or another worktree) uploads on
// its own, with an upload nobody else will ever touch. Uploads that no
// record names (other clones, other machines, pushes of older versions) are
// never adopted: their owner may be alive, and they cost nothing but storage
// until `datalfs uploads --abort` or a lifecycle rule removes them.
//
// Without a record directory (KeepUploadsIn not called) or on a file system
// without flock, nothing is resumed and an upload that fails is aborted.

// uploadRecord is what a record file holds.
type uploadRecord struct {
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	PartSize int64  `json:"partSize"`
}

// uploadOwner is this process's claim on the multipart upload of one key.
type uploadOwner struct {
	f    *os.File // locked record file; nil when nothing can be recorded
	path string
	want uploadRecord // endpoint, bucket and key
	rec  uploadRecord // recorded upload, when one was found
}

// KeepUploadsIn sets the directory that holds multipart upload records
// (one per repository: <lfs dir>/datalfs-uploads), which makes interrupted
// uploads resumable by the next push from the same repository. It must be
// called before the store is used.
func (s *Store) KeepUploadsIn(dir string) { s.uploadDir = dir }

// claim takes ownership of the upload record of key. It never fails: when
// the record cannot be locked the owner records nothing and resumes nothing.
func (s *Store) claim(key string) *uploadOwner {
	want := uploadRecord{Endpoint: s.loc.Endpoint, Bucket: s.loc.Bucket, Key: key}
	o := &uploadOwner{want: want}
	if s.uploadDir == "" {
		return o
	}
	dir := s.uploadDir
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return o
	}
	h := sha256.Sum256([]byte(want.Endpoint + "\x00" + want.Bucket + "\x00" + key))
	o.path = filepath.Join(dir, hex.EncodeToString(h[:16])+".json")
	for range 3 {
		f, err := os.OpenFile(o.path, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return o
		}
		if err := lockRecord(f); err != nil {
			f.Close() // held by a live uploader, or no flock here
			return o
		}
		// The previous owner may have removed the file between our open
		// and our lock: then the lock guards nothing, try again.
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(o.path)
		if err1 != nil || err2 != nil || !os.SameFile(fi, pi) {
			f.Close()
			continue
		}
		o.f = f
		var rec uploadRecord
		if b, err := io.ReadAll(io.LimitReader(f, 1<<16)); err == nil && json.Unmarshal(b, &rec) == nil &&
			rec.Endpoint == want.Endpoint && rec.Bucket == want.Bucket && rec.Key == want.Key && rec.UploadID != "" {
			o.rec = rec
		}
		return o
	}
	return o
}

// owns reports whether this process holds the record, so an upload it
// records can be resumed after it dies.
func (o *uploadOwner) owns() bool { return o.f != nil }

// record notes uploadID as the key's upload.
func (o *uploadOwner) record(uploadID string, partSize int64) error {
	if o.f == nil {
		return nil
	}
	rec := o.want
	rec.UploadID, rec.PartSize = uploadID, partSize
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := o.f.Truncate(0); err != nil {
		return err
	}
	if _, err := o.f.WriteAt(b, 0); err != nil {
		return err
	}
	o.rec = rec
	return nil
}

// forget clears the record: its upload completed or was aborted.
func (o *uploadOwner) forget() {
	o.rec = uploadRecord{}
	if o.f != nil {
		_ = o.f.Truncate(0)
	}
}

// release gives the record up. An empty record is removed while still
// locked, so the next owner starts from a fresh file.
func (o *uploadOwner) release() {
	if o.f == nil {
		return
	}
	if o.rec.UploadID == "" {
		// Only our own file: it may have been replaced by another's.
		fi, err1 := o.f.Stat()
		pi, err2 := os.Stat(o.path)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			_ = os.Remove(o.path)
		}
	}
	_ = o.f.Close()
	o.f = nil
}
