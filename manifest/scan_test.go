package manifest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name, in, records string
		want              []string // "LINE TEXT" per record
		wantErr           string
	}{
		{"a.jsonl", "{\"a\":1}\n\n{\"a\":2}\n", "", []string{"1 {\"a\":1}", "3 {\"a\":2}"}, ""},
		{"a.csv", "key,label\nx.jpg,cat\n\"y\n.jpg\",dog\n", "", []string{"2 key=x.jpg label=cat", "3 key=y\n.jpg label=dog"}, ""},
		{"a.json", "{\"meta\": 1,\n \"items\": [\n  {\"a\": 1},\n  {\"a\": 2}]}", "/items", []string{"3 {\"a\": 1}", "4 {\"a\": 2}"}, ""},
		{"a.csv", "key,label\nx.jpg\n", "", nil, "a.csv:2: row has 1 fields, the header has 2"},
		{"a.json", "{\"items\": [{\"a\": 1}, ", "/items", []string{"1 {\"a\": 1}"}, "a.json:1:"},
	}
	for _, tt := range tests {
		var got []string
		err := Scan(strings.NewReader(tt.in), tt.name, FormatAuto, tt.records, func(r RawRecord) error {
			if r.Cells != nil {
				var kv []string
				for i, h := range r.Header {
					kv = append(kv, h+"="+r.Cells[i])
				}
				got = append(got, strconv.Itoa(r.Line)+" "+strings.Join(kv, " "))
				return nil
			}
			got = append(got, strconv.Itoa(r.Line)+" "+strings.TrimSpace(string(r.JSON)))
			return nil
		})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
			t.Errorf("Scan(%s %q) error = %v, want %q", tt.name, tt.in, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Scan(%s %q) records (-want +got):\n%s", tt.name, tt.in, diff)
		}
	}
}
