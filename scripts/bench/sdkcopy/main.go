// Command sdkcopy copies a directory to or from an S3 prefix with plain
// aws-sdk-go-v2 calls (one PutObject or GetObject per file, N at a time).
// The transfer benchmark uses it as the machine's ceiling: the same server
// fed the same bytes by the SDK with nothing else around it.
//
// Usage:
//
//	sdkcopy -endpoint URL -bucket B -prefix P [-n 16] put DIR
//	sdkcopy -endpoint URL -bucket B -prefix P [-n 16] get DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket")
	prefix := flag.String("prefix", "", "key prefix")
	n := flag.Int("n", 16, "requests in flight")
	flag.Parse()
	if *endpoint == "" || *bucket == "" || flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: sdkcopy -endpoint URL -bucket B -prefix P [-n 16] put|get DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), *endpoint, *bucket, *prefix, *n, flag.Arg(0), flag.Arg(1)); err != nil {
		fmt.Fprintf(os.Stderr, "sdkcopy: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, bucket, prefix string, n int, op, dir string) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
	jobs := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				var err error
				if op == "put" {
					err = put(ctx, client, bucket, prefix, dir, job)
				} else {
					err = get(ctx, client, bucket, dir, prefix, job)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	switch op {
	case "put":
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				jobs <- p
			}
			return err
		})
	case "get":
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix + "/")})
		for pages.HasMorePages() && err == nil {
			var page *s3.ListObjectsV2Output
			page, err = pages.NextPage(ctx)
			if err == nil {
				for _, o := range page.Contents {
					jobs <- aws.ToString(o.Key)
				}
			}
		}
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	return <-errs
}

func put(ctx context.Context, c *s3.Client, bucket, prefix, dir, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rel, _ := filepath.Rel(dir, path)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(prefix + "/" + filepath.ToSlash(rel)), Body: f})
	return err
}

func get(ctx context.Context, c *s3.Client, bucket, dir, prefix, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	dst := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(key, prefix+"/")))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, out.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
