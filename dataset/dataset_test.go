package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/datalfs/datalfs/internal/mems3"
	"github.com/datalfs/datalfs/s3ref"
	"github.com/datalfs/datalfs/s3store"
)

func digestOfText(t *testing.T, name, text string, cfg Config) string {
	t.Helper()
	var all []idHash
	err := ReadRecords(strings.NewReader(text), name, cfg, func(r *Record) error {
		all = append(all, idHash{r.ID, sha256Sum(r.Canonical())})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return digestOf(all)
}

func TestDigestStable(t *testing.T) {
	cfg := Config{ID: "/id", Refs: []string{"/source-ref"}}
	a := `{"id":"1","source-ref":"s3://bkt/a","size":3,"label":"cat"}
{"id":"2","source-ref":"s3://bkt/b","label":"dog","meta":{"y":1,"x":2.50}}
`
	same := []struct{ name, name2, text string }{
		{"reordered", "m.jsonl", `{"meta":{"x":2.50,"y":1},"label":"dog","source-ref":"s3://bkt/b","id":"2"}` + "\n\n" + `{"size":3,  "id":"1","label":"cat","source-ref":"s3://bkt/a"}`},
		{"crlf and BOM", "m.jsonl", "\xEF\xBB\xBF" + strings.ReplaceAll(a, "\n", "\r\n")},
		{"as a JSON document", "m.json", "[" + strings.Join(strings.Split(strings.TrimSpace(a), "\n"), ",") + "]"},
	}
	want := digestOfText(t, "m.jsonl", a, cfg)
	for _, s := range same {
		if got := digestOfText(t, s.name2, s.text, cfg); got != want {
			t.Errorf("%s: digest %s, want %s", s.name, got, want)
		}
	}
	differ := map[string]string{
		"number spelt differently": strings.Replace(a, "2.50", "2.5", 1),
		"label changed":            strings.Replace(a, `"dog"`, `"cat"`, 1),
		"record dropped":           strings.SplitAfter(a, "\n")[0],
		"version pinned":           strings.Replace(a, "s3://bkt/a", "s3://bkt/a?versionId=v1", 1),
	}
	for name, text := range differ {
		if got := digestOfText(t, "m.jsonl", text, cfg); got == want {
			t.Errorf("%s: digest unchanged", name)
		}
	}
	// A known value, so that a change of the algorithm is noticed.
	if want != "e1312217ab9576c539207bbb7f772a414551c3352632cd3efffb587b356e72c8" {
		t.Errorf("digest %s: the algorithm changed, and every lock file written before no longer matches", want)
	}
}

func TestReadRecordsCSVAndSageMakerRefs(t *testing.T) {
	var got []string
	csvText := "id,source-ref,size,etag,label\n7,s3://bkt/x.jpg?versionId=v%2F1,10,\"\"\"abc\"\"\",cat\n"
	err := ReadRecords(strings.NewReader(csvText), "m.csv", Config{ID: "/id"}, func(r *Record) error {
		a := r.Assets[0]
		got = append(got, r.ID, a.Ref.String(), a.ETag)
		if a.Size != 10 {
			t.Errorf("size %d, want 10", a.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"7", "s3://bkt/x.jpg?versionId=v%2F1", "abc"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	err = ReadRecords(strings.NewReader(`{"source-ref":"s3://bkt/k","x":1}`+"\n"), "m.manifest", Config{}, func(r *Record) error {
		if len(r.Assets) != 1 || r.ID != "s3://bkt/k" {
			t.Errorf("SageMaker *-ref not recognised: %+v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = ReadRecords(strings.NewReader("{\"a-ref\":\"s3://bkt/k?versionId=\"}\n"), "m.jsonl", Config{}, func(*Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "m.jsonl:1:") {
		t.Errorf("bad reference: error %v, want one naming m.jsonl:1", err)
	}
}

func TestBuildVersionedWithLabels(t *testing.T) {
	srv := mems3.Start(t, "data")
	ctx := context.Background()
	if _, err := srv.Client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String("data"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "data", "train/b.jpg", []byte("bb"))
	srv.Put(t, "data", "train/a.jpg", []byte("a-old"))
	srv.Put(t, "data", "train/a.jpg", []byte("a"))
	srv.Put(t, "data", "train/gone.jpg", []byte("g"))
	if _, err := srv.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("train/gone.jpg")}); err != nil {
		t.Fatal(err)
	}
	srv.Put(t, "data", "other/c.jpg", []byte("c"))
	labels := "label,key,note\ncat,a.jpg,\ndog,s3://data/train/b.jpg,fluffy\nbird,nothere.jpg,\n"
	var out bytes.Buffer
	store, err := s3store.New(ctx, s3store.Location{Bucket: "data", Endpoint: srv.URL}, s3store.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := Build(ctx, store.Objects(), BuildOptions{Bucket: "data", Prefix: "train/", Labels: strings.NewReader(labels)}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		r, err := s3ref.Parse(m["source-ref"].(string))
		if err != nil || r.VersionID == "" {
			t.Errorf("%q: not pinned to a version (%v)", m["source-ref"], err)
		}
		// The pinned version must read back the current bytes.
		obj, err := srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.Bucket), Key: aws.String(r.Key), VersionId: aws.String(r.VersionID)})
		if err != nil {
			t.Fatalf("get %s: %v", r, err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(obj.Body)
		obj.Body.Close()
		m["bytes"] = b.String()
		delete(m, "source-ref")
		delete(m, "etag")
		got = append(got, m)
	}
	want := []map[string]any{
		{"id": "a.jpg", "size": 1.0, "label": "cat", "bytes": "a"},
		{"id": "b.jpg", "size": 2.0, "label": "dog", "note": "fluffy", "bytes": "bb"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if !st.Versioned || st.Labelled != 2 || st.UnusedCount != 1 || st.UnusedLabels[0] != "nothere.jpg" {
		t.Errorf("stats %+v", st)
	}
}

func TestBuildLabelsWithoutKeyColumn(t *testing.T) {
	_, _, err := readLabels(strings.NewReader("name,label\na,b\n"), "b", "p/")
	if err == nil || !strings.Contains(err.Error(), `no "key" column`) {
		t.Errorf("error %v, want one about the key column", err)
	}
}
