package s3store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// S3 limits that shape uploads.
const (
	MinPartSize   = 5 << 20 // smallest multipart part but the last
	MaxPartSize   = 5 << 30 // largest multipart part
	MaxParts      = 10000   // most parts in one multipart upload
	MaxPutSize    = 5 << 30 // largest single PUT
	MaxObjectSize = 5 << 40 // largest object
	mib           = int64(1 << 20)
)

// Options are the per-user settings of a store. None of them is secret.
type Options struct {
	// Profile is the shared-config profile to load credentials and region
	// from; empty means the SDK's default chain (AWS_PROFILE, default).
	Profile string
	// Region overrides the region of the URL and of the AWS configuration.
	Region string
	// StorageClass is the S3 storage class of uploads (STANDARD, ...).
	StorageClass string
	// SSE is the server-side encryption of uploads: AES256, aws:kms or aws:kms:dsse.
	SSE string
	// SSEKMSKeyID is the KMS key id for aws:kms encryption.
	SSEKMSKeyID string
	// MultipartThreshold is the size above which uploads go multipart.
	MultipartThreshold int64
	// PartSize is the preferred multipart part size; it grows with the object
	// so that every object fits in MaxParts parts.
	PartSize int64
	// Concurrency is the number of parts in flight per object.
	Concurrency int
	// MaxAttempts bounds the attempts of one request (the first included).
	MaxAttempts int
	// MaxBackoff bounds the wait between two attempts.
	MaxBackoff time.Duration
	// IdleTimeout abandons (and retries) a request whose bytes stop moving
	// for this long.
	IdleTimeout time.Duration
	// StallTimeout gives up on an object when no byte has moved for this
	// long, retries included.
	StallTimeout time.Duration
}

// DefaultOptions returns the options used when the user sets none.
func DefaultOptions() Options {
	return Options{
		MultipartThreshold: 64 * mib,
		PartSize:           16 * mib,
		Concurrency:        4,
		MaxAttempts:        10,
		MaxBackoff:         15 * time.Second,
		IdleTimeout:        30 * time.Second,
		StallTimeout:       120 * time.Second,
	}
}

// Setting is one user option: its git config key and its environment variable.
type Setting struct {
	GitKey string
	EnvVar string
	Doc    string
	set    func(o *Options, v string) error
}

// Settings lists every option a user can set. The environment variable wins
// over the git config key.
var Settings = []Setting{
	{"datalfs.profile", "DATALFS_PROFILE", "AWS shared-config profile (default: AWS_PROFILE or default)",
		func(o *Options, v string) error { o.Profile = v; return nil }},
	{"datalfs.region", "DATALFS_REGION", "region, when neither the URL nor the AWS configuration names one",
		func(o *Options, v string) error { o.Region = v; return nil }},
	{"datalfs.storageclass", "DATALFS_STORAGE_CLASS", "storage class of uploads, such as STANDARD_IA",
		func(o *Options, v string) error { o.StorageClass = strings.ToUpper(v); return nil }},
	{"datalfs.sse", "DATALFS_SSE", "server-side encryption of uploads: AES256, aws:kms or aws:kms:dsse",
		func(o *Options, v string) error {
			switch v {
			case "", "AES256", "aws:kms", "aws:kms:dsse":
				o.SSE = v
				return nil
			}
			return fmt.Errorf("want AES256, aws:kms or aws:kms:dsse")
		}},
	{"datalfs.ssekmskeyid", "DATALFS_SSE_KMS_KEY_ID", "KMS key id for aws:kms encryption",
		func(o *Options, v string) error { o.SSEKMSKeyID = v; return nil }},
	{"datalfs.multipartthreshold", "DATALFS_MULTIPART_THRESHOLD", "size above which uploads go multipart (default 64MiB)",
		func(o *Options, v string) error {
			n, err := ParseSize(v)
			if err == nil && (n < MinPartSize || n > MaxPutSize) {
				err = fmt.Errorf("want between 5MiB and 5GiB")
			}
			o.MultipartThreshold = n
			return err
		}},
	{"datalfs.partsize", "DATALFS_PART_SIZE", "preferred multipart part size (default 16MiB; grows for huge objects)",
		func(o *Options, v string) error {
			n, err := ParseSize(v)
			if err == nil && (n < MinPartSize || n > MaxPartSize) {
				err = fmt.Errorf("want between 5MiB and 5GiB")
			}
			o.PartSize = n
			return err
		}},
	{"datalfs.concurrency", "DATALFS_CONCURRENCY", "parts in flight per object (default 4)",
		func(o *Options, v string) error { return parseInt(v, 1, 64, &o.Concurrency) }},
	{"datalfs.maxattempts", "DATALFS_MAX_ATTEMPTS", "attempts per request before giving up (default 10)",
		func(o *Options, v string) error { return parseInt(v, 1, 100, &o.MaxAttempts) }},
	{"datalfs.idletimeout", "DATALFS_IDLE_TIMEOUT", "abandon and retry a request whose bytes stop moving this long (default 30s)",
		func(o *Options, v string) error { return parseDuration(v, &o.IdleTimeout) }},
	{"datalfs.stalltimeout", "DATALFS_STALL_TIMEOUT", "give up on an object when no byte moved this long, retries included (default 120s)",
		func(o *Options, v string) error { return parseDuration(v, &o.StallTimeout) }},
}

func parseDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 30s")
	}
	*dst = d
	return nil
}

func parseInt(v string, lo, hi int, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	*dst = n
	return nil
}

// LoadOptions reads every Setting: env is consulted first, then git. Both
// return the value and whether it is set.
func LoadOptions(env, git func(string) (string, bool)) (Options, error) {
	o := DefaultOptions()
	for _, s := range Settings {
		v, ok := env(s.EnvVar)
		name := s.EnvVar
		if !ok || v == "" {
			v, ok = git(s.GitKey)
			name = s.GitKey
		}
		if !ok || v == "" {
			continue
		}
		if err := s.set(&o, strings.TrimSpace(v)); err != nil {
			return Options{}, fmt.Errorf("%s = %q: %w", name, v, err)
		}
	}
	return o, nil
}

// ParseSize reads a byte count such as 1048576, 64MiB, 1GiB, 512KiB or 10MB.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: use a byte count or a number with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// PartSizeFor returns the part size for an object of size bytes: preferred,
// raised to a whole MiB large enough that the object fits in MaxParts parts.
func PartSizeFor(size, preferred int64) int64 {
	p := max(preferred, MinPartSize)
	if need := (size + MaxParts - 1) / MaxParts; need > p {
		p = (need + mib - 1) / mib * mib
	}
	return min(p, MaxPartSize)
}
