// Package dataset works on datasets kept as manifests in Git whose records
// reference assets in S3: it builds manifests from a bucket prefix, checks
// and materialises the assets a commit's manifests pin, diffs two versions,
// locks a version into one small file, and honours deletion requests with
// tombstones instead of history rewrites.
package dataset
