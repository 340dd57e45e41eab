// Package manifest validates dataset manifests (JSON Lines, JSON documents
// and CSV) against JSON Schema, with the cross-record checks a dataset needs:
// unique ids (manifest-id) and well-formed S3 or LFS references
// (manifest-ref). It holds the mapping from .gitattributes to schemas, the
// readers of each format, the staged (pre-commit) mode that reads the index,
// and the report.
//
// Every record is checked by one of two paths. The library path parses the
// record and runs santhosh-tekuri/jsonschema v6; it alone reports problems.
// The fast path checks common schemas straight from the record's bytes and
// answers only "certainly valid" or "not sure"; "not sure" sends the record
// to the library path. The invariant: the fast path says "certainly valid"
// only when the library path finds no problem, and the id and reference
// checks read the same value on both paths (the last of repeated names, as
// every JSON parser does), so the fast path never changes a report. A
// differential test and fuzz target in this package check it against the
// library path on generated schemas and records; setting
// DATALFS_NO_FASTPATH=1 turns the fast path off. See
// docs/validation-guarantees.md.
//
// The parts both paths share, and the fast path itself, are internal
// packages with small APIs:
//
//   - internal/fastpath: the fast path (Compile a schema document, then a
//     Checker per worker: CertainlyValid, and Lookup/CertifiedLookup for the
//     id and reference values), with its pattern DFA; its package doc states
//     the invariant and how it is proven;
//   - internal/jsonparse: the JSON parser of records and schemas, whose
//     string and number readers the fast path uses too;
//   - internal/ecmaregex: ECMA-262 patterns translated to Go's regexp, for
//     the library (compileECMA) and the fast path alike.
//
// JSON pointers are split, formatted and followed by the module's
// internal/jsonpointer, the one reader the dataset commands use too.
package manifest
