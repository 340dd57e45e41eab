// Command mkobjects fills a bucket prefix with many small objects quickly
// (many PutObjects in flight), for the dataset benchmark.
//
//	mkobjects -endpoint URL -bucket B -prefix P -count N [-size BYTES] [-jobs 64] [-versioning]
//
// Object i is P/IIIIIII.bin (zero-padded) holding SIZE bytes that depend on i.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL (path-style)")
	bucket := flag.String("bucket", "", "bucket (must exist)")
	prefix := flag.String("prefix", "objects", "key prefix, without a trailing slash")
	count := flag.Int("count", 1000, "objects to write")
	size := flag.Int("size", 1024, "bytes per object")
	jobs := flag.Int("jobs", 64, "PutObjects in flight")
	versioning := flag.Bool("versioning", false, "turn bucket versioning on first")
	flag.Parse()
	if *endpoint == "" || *bucket == "" || *count < 1 || *size < 0 || *jobs < 1 {
		fmt.Fprintln(os.Stderr, "mkobjects: want -endpoint URL -bucket B [-prefix P] [-count N] [-size BYTES] [-jobs J]")
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fail(err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cl := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(*endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if *versioning {
		if _, err := cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			fail(err)
		}
	}
	start := time.Now()
	next := atomic.Int64{}
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := make([]byte, *size)
			for {
				i := int(next.Add(1)) - 1
				if i >= *count || firstErr != nil {
					return
				}
				for j := range body {
					body[j] = byte(i*31 + j*7)
				}
				_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(fmt.Sprintf("%s/%07d.bin", *prefix, i)), Body: bytes.NewReader(body)})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fail(firstErr)
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "mkobjects: %d objects of %d bytes under s3://%s/%s/ in %.1fs (%.0f/s)\n", *count, *size, *bucket, *prefix, el, float64(*count)/el)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mkobjects:", err)
	os.Exit(1)
}
