package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

// Fields that build writes in every record.
const (
	BuildID  = "id"         // the key relative to the prefix
	BuildRef = "source-ref" // s3://BUCKET/KEY?versionId=...
)

// BuildOptions configures Build.
type BuildOptions struct {
	Bucket, Prefix string // Prefix is used as given; "" lists the whole bucket
	// Labels, when set, is a CSV with a header whose "key" column holds the
	// key relative to Prefix (or a full s3:// URI); every other column
	// becomes a field of that key's record.
	Labels io.Reader
	// Progress, when set, is called now and then with the objects listed so far.
	Progress func(n int)
}

// BuildStats says what Build wrote.
type BuildStats struct {
	Records       int
	Versioned     bool
	Labelled      int
	UnusedLabels  []string // label keys no object had (at most 10 kept)
	UnusedCount   int
	WithChecksums int
}

// Build lists s3://Bucket/Prefix and writes one JSON Lines record per
// object to w, in key order (which is id order): {"id", "source-ref",
// "size", "etag"[, "sha256"], label fields...}. In a versioned bucket each
// reference is pinned to the version that is current (IsLatest; objects
// whose latest version is a delete marker are skipped). The listing is
// streamed; labels are held in a map from key to fields, so memory grows
// with the labels file, not with the bucket.
func Build(ctx context.Context, bkt Bucket, opt BuildOptions, w io.Writer) (BuildStats, error) {
	var st BuildStats
	labels, columns, err := readLabels(opt.Labels, opt.Bucket, opt.Prefix)
	if err != nil {
		return st, err
	}
	where := s3ref.Ref{Bucket: opt.Bucket, Key: opt.Prefix}
	if st.Versioned, err = bkt.Versioned(ctx); err != nil {
		return st, bkt.Explain(err, "read the versioning state of", where)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	used := map[string]bool{}
	err = bkt.ListCurrent(ctx, opt.Prefix, st.Versioned, func(o s3store.ListedObject) error {
		if strings.HasSuffix(o.Key, "/") && o.Size == 0 {
			return nil // a "folder" placeholder
		}
		rel := strings.TrimPrefix(o.Key, opt.Prefix)
		ref := s3ref.Ref{Bucket: opt.Bucket, Key: o.Key, VersionID: o.VersionID}
		rec := map[string]any{
			BuildID:   rel,
			BuildRef:  ref.String(),
			FieldSize: o.Size,
			FieldETag: strings.Trim(o.ETag, `"`),
		}
		if o.HasSHA256 {
			// Only a HEAD returns the checksum; "" when it is a composite
			// one of a multipart upload.
			h, err := bkt.Head(ctx, o.Key, o.VersionID)
			if err != nil {
				return &listError{bkt.Explain(err, "read the checksum of", ref)}
			}
			if h.SHA256 != "" {
				rec[FieldSHA256] = h.SHA256
				st.WithChecksums++
			}
		}
		if l, ok := labels[rel]; ok {
			used[rel] = true
			st.Labelled++
			for i, c := range columns {
				if l[i] != "" {
					if _, taken := rec[c]; !taken {
						rec[c] = l[i]
					}
				}
			}
		}
		bw.Write(canonical(rec))
		bw.WriteByte('\n')
		st.Records++
		if opt.Progress != nil && st.Records%1000 == 0 {
			opt.Progress(st.Records)
		}
		return nil
	})
	var le *listError
	switch {
	case errors.As(err, &le):
		return st, le.err
	case err != nil && st.Versioned:
		return st, bkt.Explain(err, "list the versions under", where)
	case err != nil:
		return st, bkt.Explain(err, "list", where)
	}
	for k := range labels {
		if !used[k] {
			st.UnusedCount++
			if len(st.UnusedLabels) < 10 {
				st.UnusedLabels = append(st.UnusedLabels, k)
			}
		}
	}
	return st, bw.Flush()
}

// listError is an error of Build's own, already explained, that ends the
// listing.
type listError struct{ err error }

func (e *listError) Error() string { return e.err.Error() }

// readLabels reads the labels CSV into key -> cells (columns other than key).
func readLabels(r io.Reader, bucket, prefix string) (map[string][]string, []string, error) {
	if r == nil {
		return nil, nil, nil
	}
	cr := csv.NewReader(bufio.NewReader(r))
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("labels: read the header row: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\xEF\xBB\xBF")
	}
	keyCol := -1
	var cols []string
	var idx []int
	for i, h := range header {
		if h == "key" {
			keyCol = i
			continue
		}
		cols = append(cols, h)
		idx = append(idx, i)
	}
	if keyCol < 0 {
		return nil, nil, errors.New("labels: the header has no \"key\" column; name the column holding each object's key (relative to the prefix, or s3://BUCKET/KEY) \"key\"")
	}
	m := map[string][]string{}
	full := "s3://" + bucket + "/"
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("labels: %w", err)
		}
		k := row[keyCol]
		if rest, ok := strings.CutPrefix(k, "s3://"); ok {
			if !strings.HasPrefix(k, full+prefix) {
				line, _ := cr.FieldPos(keyCol)
				return nil, nil, fmt.Errorf("labels:%d: %s is not under s3://%s/%s", line, k, bucket, prefix)
			}
			k = strings.TrimPrefix(rest[len(bucket)+1:], prefix)
		}
		cells := make([]string, len(cols))
		for i, j := range idx {
			cells[i] = row[j]
		}
		m[k] = cells
	}
	return m, cols, nil
}
