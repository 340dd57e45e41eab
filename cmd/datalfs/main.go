// Command datalfs is a Git LFS standalone transfer agent that keeps LFS objects in
// an S3 bucket, and a helper for dataset manifests versioned in Git.
package main

import (
	"os"

	"github.com/datalfs/datalfs/internal/app"
)

func main() { os.Exit(app.Main()) }
