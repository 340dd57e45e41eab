package manifest

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	"github.com/datalfs/datalfs/gitrepo"
	"github.com/datalfs/datalfs/internal/jsonpointer"
	"github.com/datalfs/datalfs/s3ref"
)

// Format is a manifest's file format.
type Format string

// The formats a manifest can have.
const (
	FormatAuto  Format = ""      // decided from the extension, then the content
	FormatJSONL Format = "jsonl" // JSON Lines: one record per line
	FormatCSV   Format = "csv"   // CSV with a header row
	FormatJSON  Format = "json"  // one JSON document holding an array of records
)

// ParseFormat parses a format name as used in the manifest-format attribute.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatAuto, FormatJSONL, FormatCSV, FormatJSON:
		return f, nil
	case "ndjson", "manifest":
		return FormatJSONL, nil
	}
	return "", fmt.Errorf("unknown manifest format %q, want jsonl, csv or json", s)
}

// formatFromName guesses the format from a file name's extension.
func formatFromName(name string) Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".jsonl", ".ndjson", ".manifest":
		return FormatJSONL
	case ".csv":
		return FormatCSV
	case ".json":
		return FormatJSON
	}
	return FormatAuto
}

// Allowance is how many bad records a manifest may hold and still pass.
type Allowance struct {
	// Percent, when set, allows that share of the records (0-100).
	Percent float64
	// Count allows that many records when Percent is not set.
	Count int
	// Set reports whether an allowance was configured at all.
	Set bool
}

// ParseAllowance parses "5" (records) or "1.5%" (share of the records).
func ParseAllowance(s string) (Allowance, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Allowance{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			return Allowance{}, fmt.Errorf("bad allowance %q, want a percentage from 0%% to 100%%", s)
		}
		return Allowance{Percent: f, Set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Allowance{}, fmt.Errorf("bad allowance %q, want a number of records like 10 or a share like 1%%", s)
	}
	return Allowance{Count: n, Set: true}, nil
}

// Allowed returns how many bad records are tolerated among records.
func (a Allowance) Allowed(records int) int {
	if !a.Set {
		return 0
	}
	if a.Percent > 0 {
		return int(math.Floor(a.Percent * float64(records) / 100))
	}
	return a.Count
}

// String renders the allowance as it is written in configuration.
func (a Allowance) String() string {
	if !a.Set {
		return "0"
	}
	if a.Percent > 0 {
		return strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
	}
	return strconv.Itoa(a.Count)
}

// Config says how to check one manifest. It is read from the
// manifest-* git attributes of the file, or given on the command line.
type Config struct {
	// Schema is the JSON Schema file every record must satisfy, relative to
	// the repository root (or the working directory outside a repository).
	Schema string
	// Format is the manifest's format; FormatAuto decides by extension and content.
	Format Format
	// Records is the JSON pointer of the records array in a JSON document.
	Records string
	// ID is the JSON pointer of a field that must be unique across records.
	ID string
	// Refs are JSON pointers of fields that must hold a well-formed reference:
	// s3://bucket/key (optionally ?versionId=...) or a 64-hex Git LFS oid.
	Refs []string
	// MaxBad is the share or number of bad records that is tolerated.
	MaxBad Allowance
}

// attrNames lists the attributes validation reads; a change to another
// one (manifest-label) does not make a manifest worth checking again.
var attrNames = []string{gitrepo.AttrSchema, gitrepo.AttrFormat, gitrepo.AttrRecords, gitrepo.AttrID, gitrepo.AttrRef, gitrepo.AttrMaxBad}

// configFromAttrs builds a Config from a file's attributes.
func configFromAttrs(attrs gitrepo.Attrs) (Config, error) {
	var c Config
	val := attrs.Value
	var err error
	if c.Schema, err = val(gitrepo.AttrSchema); err != nil {
		return c, err
	}
	f, err := val(gitrepo.AttrFormat)
	if err != nil {
		return c, err
	}
	if c.Format, err = ParseFormat(f); err != nil {
		return c, fmt.Errorf("attribute %s: %w", gitrepo.AttrFormat, err)
	}
	if c.Records, err = val(gitrepo.AttrRecords); err != nil {
		return c, err
	}
	if c.ID, err = val(gitrepo.AttrID); err != nil {
		return c, err
	}
	refs, err := val(gitrepo.AttrRef)
	if err != nil {
		return c, err
	}
	if refs != "" {
		c.Refs = strings.Split(refs, ",")
	}
	mb, err := val(gitrepo.AttrMaxBad)
	if err != nil {
		return c, err
	}
	if c.MaxBad, err = ParseAllowance(mb); err != nil {
		return c, fmt.Errorf("attribute %s: %w", gitrepo.AttrMaxBad, err)
	}
	return c, c.check()
}

// check validates the pointers in c.
func (c Config) check() error {
	if _, err := jsonpointer.Split(c.Records); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if c.ID != "" {
		if _, err := jsonpointer.Split(c.ID); err != nil || c.ID == "" {
			return fmt.Errorf("id field: %w", err)
		}
	}
	for _, r := range c.Refs {
		if r == "" {
			return fmt.Errorf("reference field: empty JSON pointer")
		}
		if _, err := jsonpointer.Split(r); err != nil {
			return fmt.Errorf("reference field: %w", err)
		}
	}
	return nil
}

// checkRef reports what is wrong with a reference, or "" if it is well formed:
// a Git LFS oid (64 lower-case hex digits) or an S3 URI under s3ref's rules
// (the same rules the dataset commands read references with).
func checkRef(s string) string {
	if len(s) == 64 && isLowerHex(s) {
		return ""
	}
	if !strings.HasPrefix(s, s3ref.Scheme) {
		if len(s) == 64 && isHex(s) {
			return "Git LFS oid must be lower-case hex"
		}
		return "not a reference: want s3://bucket/key or a 64-hex Git LFS oid"
	}
	if _, err := s3ref.Parse(s); err != nil {
		var re *s3ref.Error
		if errors.As(err, &re) {
			return re.Reason
		}
		return err.Error()
	}
	return ""
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isHex(s string) bool { return isLowerHex(strings.ToLower(s)) }
