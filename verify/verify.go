// Package verify checks that the LFS objects a history refers to are really
// in the bucket, with the right size and, where the bucket keeps one, the
// right SHA-256, and pushes the ones that are not from the local LFS store.
//
// git-lfs cannot ask a standalone transfer agent what the remote holds, so
// `git lfs prune --verify-remote` trusts it blindly; this package is the
// check it cannot make.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/datalfs/datalfs/lfsscan"
	"github.com/datalfs/datalfs/s3store"
)

// Bucket is what verification needs of the storage.
type Bucket interface {
	// Head returns what the bucket holds under oid, or an error wrapping
	// fs.ErrNotExist when it holds nothing. It is called from several
	// goroutines at once.
	Head(ctx context.Context, oid string) (s3store.ObjectInfo, error)
}

// Uploader stores objects; Repair uses it.
type Uploader interface {
	// Upload stores the size bytes of body under oid (see transfer.Store).
	Upload(ctx context.Context, oid string, size int64, body io.ReaderAt, progress func(int64)) error
}

// State is the outcome of checking one object.
type State int

const (
	// Present means the bucket holds the object with the pointer's size and,
	// if it keeps a SHA-256, the right one.
	Present State = iota
	// Missing means the bucket holds nothing under the object's key.
	Missing
	// WrongSize means the bucket holds a different number of bytes than the
	// pointer states: the stored object is damaged.
	WrongSize
	// BadChecksum means the bucket's stored SHA-256 is not the oid.
	BadChecksum
)

// String describes the state in words: present, missing, wrong size, bad checksum.
func (s State) String() string {
	switch s {
	case Present:
		return "present"
	case Missing:
		return "missing"
	case WrongSize:
		return "wrong size"
	case BadChecksum:
		return "bad checksum"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Result is the outcome for one referenced object.
type Result struct {
	lfsscan.Pointer
	// State is what the bucket holds for the pointer.
	State State
	// Stored is what the bucket holds (zero when Missing).
	Stored s3store.ObjectInfo
	// Origin names the commit that added the pointer, when known; History
	// fills it for problems only.
	Origin lfsscan.Origin
}

// Summary counts the results of a check.
type Summary struct {
	// Checked is the number of objects checked.
	Checked int
	// Present is the number found intact.
	Present int
	// ChecksumVerified is how many of Present had a stored SHA-256 that
	// equals the oid (the rest were checked by size only).
	ChecksumVerified int
	// Problems are the objects not Present, sorted by path then oid.
	Problems []Result
	// OriginErr, set by History only, says why the commits that added the
	// problems' pointers could not be named.
	OriginErr error
}

// Check asks the bucket about every pointer, at most jobs at a time, and
// reports the ones that are not intact. progress, when set, is called with
// the number of objects done after each one, from any goroutine but never
// concurrently. Any error other than a missing object (no credentials,
// access denied, an unreachable endpoint) stops the check and is returned.
func Check(ctx context.Context, b Bucket, ptrs []lfsscan.Pointer, jobs int, progress func(done, total int)) (Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs = max(1, min(jobs, len(ptrs)))
	var (
		next     atomic.Int64
		mu       sync.Mutex
		done     int
		sum      = Summary{Checked: len(ptrs)}
		firstErr error
		wg       sync.WaitGroup
	)
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ptrs) || ctx.Err() != nil {
					return
				}
				r, err := checkOne(ctx, b, ptrs[i])
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
				switch {
				case r.State != Present:
					sum.Problems = append(sum.Problems, r)
				case r.Stored.SHA256 != "":
					sum.ChecksumVerified++
					sum.Present++
				default:
					sum.Present++
				}
				done++
				if progress != nil {
					progress(done, len(ptrs))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Summary{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}
	sortResults(sum.Problems)
	return sum, nil
}

func checkOne(ctx context.Context, b Bucket, p lfsscan.Pointer) (Result, error) {
	info, err := b.Head(ctx, p.Oid)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{Pointer: p, State: Missing}, nil
	case err != nil:
		return Result{}, err
	case info.Size != p.Size:
		return Result{Pointer: p, State: WrongSize, Stored: info}, nil
	case info.SHA256 != "" && info.SHA256 != p.Oid:
		return Result{Pointer: p, State: BadChecksum, Stored: info}, nil
	}
	return Result{Pointer: p, State: Present, Stored: info}, nil
}

func sortResults(rs []Result) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Oid < rs[j].Oid
	})
}

// LocalPath returns where git-lfs keeps oid in the object directory dir.
func LocalPath(dir, oid string) string {
	return filepath.Join(dir, oid[0:2], oid[2:4], oid)
}

// NoLocalCopyError reports an object that git-lfs's object directory does
// not hold. It matches fs.ErrNotExist.
type NoLocalCopyError struct {
	// Dir is the object directory searched.
	Dir string
}

// Error says where the copy was looked for and what to do.
func (e *NoLocalCopyError) Error() string {
	return fmt.Sprintf("no local copy in %s: push it from a clone that has it (`git lfs fetch --all` there first if needed)", e.Dir)
}

// Is reports whether target is fs.ErrNotExist.
func (e *NoLocalCopyError) Is(target error) bool { return target == fs.ErrNotExist }

// Repaired is the outcome of pushing one problem object.
type Repaired struct {
	Result
	// Err is why it could not be pushed, or nil when it was. An error
	// wrapping fs.ErrNotExist means there is no local copy.
	Err error
}

// Repair uploads the local copy (from git-lfs's object directory dir) of
// every problem, at most jobs at a time. A local copy of the wrong size is
// not sent; one whose content does not hash to its oid is refused by the
// uploader. It returns one entry per problem, in the same order.
func Repair(ctx context.Context, up Uploader, dir string, problems []Result, jobs int) []Repaired {
	out := make([]Repaired, len(problems))
	sem := make(chan struct{}, max(1, jobs))
	var wg sync.WaitGroup
	for i, p := range problems {
		out[i].Result = p
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].Err = repairOne(ctx, up, dir, p.Pointer)
		}()
	}
	wg.Wait()
	return out
}

func repairOne(ctx context.Context, up Uploader, dir string, p lfsscan.Pointer) error {
	path := LocalPath(dir, p.Oid)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &NoLocalCopyError{Dir: dir}
	}
	if err != nil {
		return fmt.Errorf("open the local copy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read the local copy: %w", err)
	}
	if st.Size() != p.Size {
		return fmt.Errorf("the local copy %s has %d bytes, the pointer says %d: it is damaged; run `git lfs fsck`", path, st.Size(), p.Size)
	}
	return up.Upload(ctx, p.Oid, p.Size, f, func(int64) {})
}

// PushReport is the outcome of PushMissing.
type PushReport struct {
	// Done has one entry per problem, in order: pushed (Err nil) or not.
	Done []Repaired
	// StillBad are objects pushed that a second check still finds wrong.
	StillBad []Result
	// Present is how many of the pushed objects the second check found intact.
	Present int
}

// Failed is how many problems are still not mended: not pushed, or pushed
// and still wrong.
func (r PushReport) Failed() int {
	n := len(r.StillBad)
	for _, d := range r.Done {
		if d.Err != nil {
			n++
		}
	}
	return n
}

// PushMissing mends problems from a clone's local store: it uploads the
// local copy of each (Repair, at most 4 at a time) and checks the pushed
// objects again, since only the bucket can say they are now right. The
// error is for the second check itself failing.
func PushMissing(ctx context.Context, b interface {
	Bucket
	Uploader
}, dir string, problems []Result, jobs int) (PushReport, error) {
	rep := PushReport{Done: Repair(ctx, b, dir, problems, min(jobs, 4))}
	var pushed []lfsscan.Pointer
	for _, d := range rep.Done {
		if d.Err == nil {
			pushed = append(pushed, d.Pointer)
		}
	}
	again, err := Check(ctx, b, pushed, jobs, nil)
	if err != nil {
		return rep, fmt.Errorf("check the pushed objects: %w", err)
	}
	rep.StillBad, rep.Present = again.Problems, again.Present
	return rep, nil
}

// LFSURLs says which LFS URL git-lfs uses for an operation ("upload" or
// "download") with a remote; *gitrepo.Repo is one.
type LFSURLs interface {
	LFSURL(operation, remote string) (string, error)
}

// CheckPushURL refuses PushMissing for remote when pushes go elsewhere
// than the bucket being checked (lfs.pushurl): repairing one would not fix
// the other.
func CheckPushURL(repo LFSURLs, remote string) error {
	down, err := repo.LFSURL("download", remote)
	if err != nil {
		return err
	}
	up, err := repo.LFSURL("upload", remote)
	if err != nil {
		return err
	}
	if strings.TrimRight(down, "/") != strings.TrimRight(up, "/") {
		return fmt.Errorf("--push-missing: pushes go to %s but downloads come from %s (lfs.pushurl): copy the objects between them instead", up, down)
	}
	return nil
}
