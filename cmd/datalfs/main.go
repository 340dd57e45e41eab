// Command datalfs is a Git LFS standalone transfer agent that keeps LFS objects in
// an S3 bucket, and a helper for dataset manifests versioned in Git.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }
