// Command s3tool creates and lists buckets on a local S3-compatible server
// for the shell scripts (demo, benchmarks), which cannot count on an aws CLI.
//
// Usage:
//
//	s3tool -endpoint URL mb BUCKET
//	s3tool -endpoint URL ls BUCKET [PREFIX]
//	s3tool -endpoint URL put BUCKET KEY FILE
//	s3tool -endpoint URL rm BUCKET KEY
//
// The keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and the
// region from AWS_REGION (default us-east-1); no other part of the AWS
// credential chain is used. ls prints one "SIZE KEY" line per object.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/datalfs/datalfs/integration/internal/s3test"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("s3tool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "", "S3 endpoint URL, for example http://127.0.0.1:7070")
	versioned := fs.Bool("versioning", false, "mb: turn versioning on for the new bucket")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: s3tool -endpoint URL [-versioning] mb BUCKET")
		fmt.Fprintln(stderr, "       s3tool -endpoint URL ls BUCKET [PREFIX]")
		fmt.Fprintln(stderr, "       s3tool -endpoint URL put BUCKET KEY FILE")
		fmt.Fprintln(stderr, "       s3tool -endpoint URL rm BUCKET KEY")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *endpoint == "" || fs.NArg() < 2 {
		fs.Usage()
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := command(ctx, *endpoint, *versioned, fs.Args(), stdout); err != nil {
		fmt.Fprintf(stderr, "s3tool: %v\n", err)
		return 1
	}
	return 0
}

func command(ctx context.Context, endpoint string, versioned bool, args []string, stdout io.Writer) error {
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	c := s3test.NewClient(endpoint, key, secret, region)
	switch sub, bucket := args[0], args[1]; sub {
	case "mb":
		if len(args) != 2 {
			return errors.New("mb takes one bucket name")
		}
		return s3test.CreateBucket(ctx, c, bucket, versioned)
	case "ls":
		if len(args) > 3 {
			return errors.New("ls takes a bucket and an optional prefix")
		}
		prefix := ""
		if len(args) == 3 {
			prefix = args[2]
		}
		objs, err := s3test.List(ctx, c, bucket, prefix)
		if err != nil {
			return err
		}
		for _, o := range objs {
			fmt.Fprintf(stdout, "%10d  %s\n", o.Size, o.Key)
		}
		return nil
	case "put":
		if len(args) != 4 {
			return errors.New("put takes a bucket, a key and a file")
		}
		f, err := os.Open(args[3])
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &args[2], Body: f})
		return err
	case "rm":
		if len(args) != 3 {
			return errors.New("rm takes a bucket and a key")
		}
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &args[2]})
		return err
	default:
		return fmt.Errorf("unknown subcommand %q (want mb, ls, put or rm)", sub)
	}
}
