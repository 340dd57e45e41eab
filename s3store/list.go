package s3store

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	// Key is the object's key in the bucket.
	Key string
	// Oid is the LFS oid the key names, or "" for a key that does not follow
	// the PREFIX/lfs/objects/OID[0:2]/OID[2:4]/OID layout.
	Oid string
	// Size is the object's size in bytes.
	Size int64
	// LastModified is when the server last wrote the object (server clock).
	LastModified time.Time
	// SHA256 is the hex SHA-256 of the whole object as the server recorded it
	// from the upload's checksum, or "" when the server keeps none (an upload
	// without a SHA-256 checksum, a multipart upload's composite checksum, a
	// server without checksum support). Only Head fills it.
	SHA256 string
}

var oidPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidOid reports whether s is an LFS oid: 64 lower-case hex digits.
func ValidOid(s string) bool { return oidPattern.MatchString(s) }

// ObjectsPrefix returns the key prefix under which the location keeps LFS
// objects: PREFIX/lfs/objects/ (lfs/objects/ without a prefix).
func (l Location) ObjectsPrefix() string {
	if l.Prefix == "" {
		return "lfs/objects/"
	}
	return l.Prefix + "/lfs/objects/"
}

// OidOf returns the oid that key stores under the location's layout, or ""
// when key is not an LFS object key of this location.
func (l Location) OidOf(key string) string {
	rest, ok := strings.CutPrefix(key, l.ObjectsPrefix())
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !ValidOid(parts[2]) || parts[0] != parts[2][0:2] || parts[1] != parts[2][2:4] {
		return ""
	}
	return parts[2]
}

// Head returns what the bucket knows about oid, asking for its stored
// checksum. A missing object gives an error wrapping fs.ErrNotExist.
func (s *Store) Head(ctx context.Context, oid string) (ObjectInfo, error) {
	if err := s.checkCredentials(ctx); err != nil {
		return ObjectInfo{}, err
	}
	key := s.loc.Key(oid)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       &s.loc.Bucket,
		Key:          &key,
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return ObjectInfo{}, s.explain(s.probe.Check(ctx, s.client, s.loc.Bucket, key, "", err), "check", oid)
	}
	info := ObjectInfo{Key: key, Oid: oid, Size: aws.ToInt64(out.ContentLength), LastModified: aws.ToTime(out.LastModified)}
	if out.ChecksumType != types.ChecksumTypeComposite {
		info.SHA256 = checksumHex(aws.ToString(out.ChecksumSHA256))
	}
	return info, nil
}

// checksumHex turns a base64 full-object SHA-256 checksum into hex; a
// composite checksum ("...-N") or anything else gives "".
func checksumHex(b64 string) string {
	if b64 == "" || strings.Contains(b64, "-") {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return ""
	}
	return hex.EncodeToString(raw)
}

// List calls fn for every object under the location's lfs/objects/ prefix,
// in key order, including keys that are not LFS objects (their Oid is "").
// It stops at the first error fn returns and returns it.
func (s *Store) List(ctx context.Context, fn func(ObjectInfo) error) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.loc.Bucket,
		Prefix: aws.String(s.loc.ObjectsPrefix()),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.explainBucket(err, "list objects in")
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			info := ObjectInfo{Key: key, Oid: s.loc.OidOf(key), Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified)}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes the object stored under oid. Deleting a missing object is
// not an error. In a versioned bucket it adds a delete marker: earlier
// versions stay, recoverable, until a lifecycle rule expires them.
func (s *Store) Delete(ctx context.Context, oid string) error {
	if err := s.checkCredentials(ctx); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: aws.String(s.loc.Key(oid))})
	if code, status := APIError(err); status == 403 {
		return kinded(fs.ErrPermission, "access denied deleting %s (%s): check that the AWS credentials from %s may delete objects (s3:DeleteObject) under s3://%s/%s",
			s.Locate(oid), codeOr(code, status), s.sourceOr(), s.loc.Bucket, s.loc.Prefix)
	}
	return s.explain(err, "delete", oid)
}
