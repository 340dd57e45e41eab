package lineage

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/datalfs/datalfs/s3ref"
)

// OpenLineage constants for the events Export writes.
const (
	olProducer       = "https://github.com/datalfs/datalfs"
	olRunEventSchema = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	olSourceFacet    = "https://openlineage.io/spec/facets/1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
	olVersionFacet   = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
)

// olEvent is an OpenLineage RunEvent.
type olEvent struct {
	EventType string      `json:"eventType"`
	EventTime string      `json:"eventTime"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
	Run       olRun       `json:"run"`
	Job       olJob       `json:"job"`
	Inputs    []olDataset `json:"inputs"`
	Outputs   []olDataset `json:"outputs"`
}

type olRun struct {
	RunID string `json:"runId"`
}

type olJob struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets"`
}

type olDataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// Export writes every step as an OpenLineage RunEvent (eventType COMPLETE),
// one JSON object per line: the job is the step in namespace ns, inputs
// and outputs are datasets whose version facet holds their sha256, and the
// code commit is the job's sourceCodeLocation facet. The run id is a UUID
// derived from the record's bytes, so exporting twice gives the same ids.
func Export(w io.Writer, ns string, steps []*Step) error {
	for _, s := range steps {
		src := map[string]any{
			"_producer": olProducer, "_schemaURL": olSourceFacet,
			"type": "git", "url": ns, "version": s.Commit(),
		}
		if wd := s.Predicate.BuildDefinition.ExternalParameters.Workdir; wd != "." {
			src["path"] = wd
		}
		ev := olEvent{
			EventType: "COMPLETE",
			EventTime: s.Predicate.RunDetails.Metadata.FinishedOn,
			Producer:  olProducer,
			SchemaURL: olRunEventSchema,
			Run:       olRun{RunID: uuidOf(s.Raw)},
			Job:       olJob{Namespace: ns, Name: s.Name, Facets: map[string]any{"sourceCodeLocation": src}},
			Inputs:    []olDataset{},
			Outputs:   []olDataset{},
		}
		for _, d := range s.Deps(DepInput) {
			ds := olDataset{Namespace: ns, Name: d.URI}
			if strings.HasPrefix(d.URI, "s3://") {
				ds.Namespace, ds.Name = s3Dataset(d.URI)
				if d.Annotations != nil {
					ds.Facets = versionFacet(d.Annotations.VersionID)
				}
			} else {
				ds.Facets = versionFacet("sha256:" + d.Digest["sha256"])
			}
			ev.Inputs = append(ev.Inputs, ds)
		}
		for _, sub := range s.Subject {
			ev.Outputs = append(ev.Outputs, olDataset{Namespace: ns, Name: sub.Name, Facets: versionFacet("sha256:" + sub.Digest["sha256"])})
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

func versionFacet(v string) map[string]any {
	return map[string]any{"version": map[string]any{"_producer": olProducer, "_schemaURL": olVersionFacet, "datasetVersion": v}}
}

// s3Dataset follows OpenLineage's naming: namespace s3://BUCKET, name KEY.
func s3Dataset(uri string) (string, string) {
	ref, err := s3ref.Parse(uri)
	if err != nil {
		return "s3://", uri // Parse accepted the record; keep the text
	}
	return "s3://" + ref.Bucket, ref.Key
}

// uuidOf makes a version-5-style UUID from data's SHA-256.
func uuidOf(data []byte) string {
	h := sha256.Sum256(data)
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
