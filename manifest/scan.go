package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// RawRecord is one record of a manifest as read, before any schema applies.
type RawRecord struct {
	// Line is the 1-based line where the record starts.
	Line int
	// JSON is the record's JSON text (JSON Lines and JSON documents). It is
	// valid only during the callback.
	JSON []byte
	// Header and Cells are a CSV file's header and this row's cells.
	Header, Cells []string
}

// Scan calls fn with each record of src in file order, with the readers and
// format detection Validate uses but no schema: for other commands that
// need a manifest's records (dataset tools). records is the JSON pointer of
// the records array in a JSON document. A malformed record ends the scan
// with an error naming the file and line; an error from fn ends it too.
func Scan(src io.Reader, name string, format Format, records string, fn func(RawRecord) error) error {
	br := bufio.NewReaderSize(src, 64<<10)
	format = DetectFormat(name, br, format, records)
	var (
		rr     recordReader
		header []string
	)
	switch format {
	case FormatCSV:
		cr, err := newCSVReader(br)
		if err != nil {
			return scanError(name, err)
		}
		rr, header = cr, cr.header
	case FormatJSON:
		dr, err := newDocReader(br, records)
		if err != nil {
			return fmt.Errorf("%s: records: %w", name, err)
		}
		rr = dr
	default:
		rr = newJSONLReader(br)
	}
	var b batch
	for {
		b.reset()
		err := rr.fill(&b)
		for _, rec := range b.recs {
			if rec.problem != nil {
				return fmt.Errorf("%s:%d: %s", name, rec.problem.Line, rec.problem.Message)
			}
			if ferr := fn(RawRecord{Line: rec.line, JSON: rec.data, Header: header, Cells: rec.fields}); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return scanError(name, err)
		}
	}
}

// DetectFormat settles the format of the manifest name that br reads (without
// consuming it): format itself unless it is FormatAuto, then the extension,
// then the first bytes. A .json file without a records pointer is JSON Lines
// when its first line is a whole object.
func DetectFormat(name string, br *bufio.Reader, format Format, records string) Format {
	if format == FormatAuto {
		format = formatFromName(name)
	}
	if format == FormatAuto || (format == FormatJSON && records == "") {
		format = sniff(br, format)
	}
	return format
}

func scanError(name string, err error) error {
	var fp *fatalProblem
	if errors.As(err, &fp) {
		if fp.p.Column > 0 {
			return fmt.Errorf("%s:%d:%d: %s", name, fp.p.Line, fp.p.Column, fp.p.Message)
		}
		return fmt.Errorf("%s:%d: %s", name, fp.p.Line, fp.p.Message)
	}
	return fmt.Errorf("read %s: %w", name, err)
}
