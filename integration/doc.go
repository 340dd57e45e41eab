// Package integration runs datalfs end to end: real git and git-lfs drive
// this tree's datalfs (run in-process, see TestMain) against a real
// S3-compatible server (versitygw) on the loopback interface. The scenarios
// are testscript files in testdata/script; see README.md in this directory
// for how to run them.
package integration
