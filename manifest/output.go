package manifest

import (
	"errors"
	"fmt"
	"io"

	"github.com/datalfs/datalfs/internal/plural"
)

// WriteText prints the report's problems as FILE:LINE: POINTER: MESSAGE,
// then one summary line.
func (r *Report) WriteText(w io.Writer) error {
	for _, p := range r.Shown {
		if _, err := fmt.Fprintf(w, "%s:%s\n", r.File, p.String()); err != nil {
			return err
		}
	}
	if n := r.Omitted(); n > 0 {
		if _, err := fmt.Fprintf(w, "%s: %d more %s not shown (see them all with --max-problems %d)\n", r.File, n, map[bool]string{true: "problem", false: "problems"}[n == 1], r.Problems); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s: %s\n", r.File, r.Summary())
	return err
}

// Summary is the one-line verdict on the file, without its name.
func (r *Report) Summary() string {
	s := plural.Count(r.Records, "record")
	if r.Problems == 0 {
		return s + ", no problems"
	}
	s += fmt.Sprintf(", %s in %s", plural.Count(r.Problems, "problem"), plural.Count(r.BadRecords, "record"))
	switch {
	case r.Malformed:
		s += "; the file is malformed and was not read to its end"
	case r.MaxBad.Set && r.OK():
		s += fmt.Sprintf("; within the allowed %s bad records", r.MaxBad)
	case r.MaxBad.Set && r.MaxBad.Percent > 0:
		s += fmt.Sprintf("; more bad records than the allowed %s (%d)", r.MaxBad, r.MaxBad.Allowed(r.Records))
	case r.MaxBad.Set:
		s += fmt.Sprintf("; more bad records than the allowed %s", r.MaxBad)
	}
	return s
}

// FileResult is the JSON form of one file's outcome (see the README for
// the document shape). Its fields mean what the Report fields of the same
// names mean; OK is Report.OK and Omitted is Report.Omitted.
type FileResult struct {
	File       string    `json:"file"`
	Schema     string    `json:"schema,omitempty"`
	Format     Format    `json:"format,omitempty"`
	OK         bool      `json:"ok"`
	Records    int       `json:"records"`
	BadRecords int       `json:"badRecords"`
	Problems   int       `json:"problems"`
	Omitted    int       `json:"omitted"`
	MaxBad     string    `json:"maxBad,omitempty"`
	Malformed  bool      `json:"malformed,omitempty"`
	Shown      []Problem `json:"shown"`
	// Error is set when the file could not be checked at all.
	Error string `json:"error,omitempty"`
	// Reason says why --staged checked a manifest that is not staged
	// (Request.Note), as in "schemas/label.json changed".
	Reason string `json:"reason,omitempty"`
}

// WriteNote prints why --staged checks a manifest that is not staged, before
// its report.
func WriteNote(w io.Writer, file, reason string) error {
	_, err := fmt.Fprintf(w, "%s: not staged, checked because %s\n", file, reason)
	return err
}

// Result converts a report, or the error that stopped a file, to its JSON form.
func Result(r *Report, err error) FileResult {
	if err != nil {
		var ce *ConfigError
		fr := FileResult{Error: err.Error(), Shown: []Problem{}}
		if errors.As(err, &ce) {
			fr.File, fr.Error = ce.File, ce.Err.Error()
		}
		return fr
	}
	fr := FileResult{
		File: r.File, Schema: r.Schema, Format: r.Format, OK: r.OK(),
		Records: r.Records, BadRecords: r.BadRecords, Problems: r.Problems,
		Omitted: r.Omitted(), Malformed: r.Malformed, Shown: r.Shown,
	}
	if r.MaxBad.Set {
		fr.MaxBad = r.MaxBad.String()
	}
	if fr.Shown == nil {
		fr.Shown = []Problem{}
	}
	return fr
}
