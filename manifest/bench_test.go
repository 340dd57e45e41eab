package manifest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
)

// benchManifest makes n SageMaker-style lines, every 100th one bad.
func benchManifest(n int) []byte {
	var buf bytes.Buffer
	classes := []string{"cat", "dog", "bird", "fish", "horse", "sheep", "cow", "bear", "zebra", "giraffe"}
	for i := 1; i <= n; i++ {
		label := i % 10
		conf := fmt.Sprintf("0.%04d", i%10000)
		if i%100 == 0 {
			conf = "1.5"
		}
		fmt.Fprintf(&buf, `{"source-ref": "s3://datalfs-bench-images/train/%04d/img-%08d.jpg", "animal": %d, "animal-metadata": {"class-name": %q, "confidence": %s, "human-annotated": "yes", "creation-date": "2026-11-%02dT10:%02d:00.000", "job-name": "labeling-job/animals-2026-11", "type": "groundtruth/image-classification"}}`+"\n",
			i/1000, i, label, classes[label], conf, 1+i%28, i%60)
	}
	return buf.Bytes()
}

func BenchmarkValidate(b *testing.B) {
	data := benchManifest(20000)
	sch, err := CompileSchema("../scripts/bench/validate/schema.json", os.ReadFile)
	if err != nil {
		b.Fatal(err)
	}
	// The id and reference checks read the last occurrence of their field,
	// so they scan the whole record: idref measures that.
	idref := Config{ID: "/source-ref", Refs: []string{"/source-ref"}}
	for _, bc := range []struct {
		name string
		opt  Options
		cfg  Config
	}{
		{"fast/1job", Options{Jobs: 1}, Config{}},
		{"fast/all", Options{}, Config{}},
		{"full/1job", Options{Jobs: 1, NoFastPath: true}, Config{}},
		{"full/all", Options{NoFastPath: true}, Config{}},
		{"fast-idref/1job", Options{Jobs: 1}, idref},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				rep, err := Validate(context.Background(), bytes.NewReader(data), "bench.manifest", sch, bc.cfg, bc.opt)
				if err != nil || rep.BadRecords != 200 {
					b.Fatalf("Validate = %+v, %v; want 200 bad records", rep, err)
				}
			}
			b.ReportMetric(float64(b.N*20000)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
