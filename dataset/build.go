package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/datalfs/datalfs/s3ref"
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
func Build(ctx context.Context, cl *s3.Client, opt BuildOptions, w io.Writer) (BuildStats, error) {
	var st BuildStats
	labels, columns, err := readLabels(opt.Labels, opt.Bucket, opt.Prefix)
	if err != nil {
		return st, err
	}
	ver, err := cl.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(opt.Bucket)})
	if err != nil {
		return st, explain(err, "read the versioning state of", s3ref.Ref{Bucket: opt.Bucket, Key: opt.Prefix}, cl)
	}
	st.Versioned = ver.Status == types.BucketVersioningStatusEnabled || ver.Status == types.BucketVersioningStatusSuspended
	bw := bufio.NewWriterSize(w, 256<<10)
	used := map[string]bool{}
	last, seen := "", false
	emit := func(key, version string, size int64, etag string, algos []types.ChecksumAlgorithm) error {
		// Keys come in order; versitygw 1.8.0 repeats the last key of a
		// ListObjectVersions page at the start of the next one.
		if seen && key <= last {
			return nil
		}
		last, seen = key, true
		if strings.HasSuffix(key, "/") && size == 0 {
			return nil // a "folder" placeholder
		}
		rel := strings.TrimPrefix(key, opt.Prefix)
		rec := map[string]any{
			BuildID:   rel,
			BuildRef:  s3ref.Ref{Bucket: opt.Bucket, Key: key, VersionID: version}.String(),
			FieldSize: size,
			FieldETag: strings.Trim(etag, `"`),
		}
		for _, a := range algos {
			if a == types.ChecksumAlgorithmSha256 {
				if sum, err := sha256Of(ctx, cl, opt.Bucket, key, version); err != nil {
					return err
				} else if sum != "" {
					rec[FieldSHA256] = sum
					st.WithChecksums++
				}
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
	}
	if st.Versioned {
		p := s3.NewListObjectVersionsPaginator(cl, &s3.ListObjectVersionsInput{Bucket: aws.String(opt.Bucket), Prefix: aws.String(opt.Prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return st, explain(err, "list the versions under", s3ref.Ref{Bucket: opt.Bucket, Key: opt.Prefix}, cl)
			}
			// Delete markers come in their own list; a key whose latest
			// version is a marker has no version with IsLatest, so it is
			// skipped by looking at versions alone. Timestamps are not
			// trusted (versitygw may date a marker before the version).
			for _, v := range page.Versions {
				if !aws.ToBool(v.IsLatest) {
					continue
				}
				if err := emit(aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToInt64(v.Size), aws.ToString(v.ETag), v.ChecksumAlgorithm); err != nil {
					return st, err
				}
			}
		}
	} else {
		p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(opt.Bucket), Prefix: aws.String(opt.Prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return st, explain(err, "list", s3ref.Ref{Bucket: opt.Bucket, Key: opt.Prefix}, cl)
			}
			for _, o := range page.Contents {
				if err := emit(aws.ToString(o.Key), "", aws.ToInt64(o.Size), aws.ToString(o.ETag), o.ChecksumAlgorithm); err != nil {
					return st, err
				}
			}
		}
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

// sha256Of reads the full-object SHA-256 checksum S3 keeps, "" when it keeps
// none (or only a composite one of a multipart upload).
func sha256Of(ctx context.Context, cl *s3.Client, bucket, key, version string) (string, error) {
	h, err := headObject(ctx, cl, s3ref.Ref{Bucket: bucket, Key: key}, version)
	if err != nil {
		return "", explain(err, "read the checksum of", s3ref.Ref{Bucket: bucket, Key: key}, cl)
	}
	return h.sha256, nil
}

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
