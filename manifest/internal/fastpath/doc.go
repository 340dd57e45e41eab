// Package fastpath is manifest's fast path: a second, much cheaper JSON
// Schema validator for the common part of JSON Schema, which checks a
// record straight from its bytes, without building a map[string]any.
//
// Most records of a manifest are valid, and proving that is all the work
// there is for them. Compile turns a schema document into a Schema (nil when
// the document is outside what the fast path handles); each worker makes a
// Checker of it, whose CertainlyValid answers, per record, only:
//
//   - true, "certainly valid": the library path (jsonparse.Parse and
//     santhosh-tekuri/jsonschema, in package manifest) would find no
//     problem in the record;
//   - false, "not sure": the record may be invalid, or uses a keyword the
//     fast path does not implement, or a number sits exactly on a bound.
//     The caller then checks it with the library path, which alone reports
//     problems.
//
// The invariant: never "certainly valid" for a record the schema rejects;
// and for a certified record, Lookup and CertifiedLookup return the very
// value the library path reads at a pointer (the last occurrence of a
// repeated name, as every JSON parser keeps). So the fast path can make
// validation faster but never change a report.
//
// It is kept to that by construction: every keyword it does not implement
// makes its subschema "not sure"; anything it cannot decide exactly is "not
// sure"; each keyword of a subschema is compiled on its own, in sorted
// order; every check it makes is a conjunct the library also requires;
// strings and numbers are read by jsonparse, as on the library path;
// patterns are translated by ecmaregex, as for the library, and matched by
// a lazily built DFA (dfa.go) that runs Go's own compiled program and falls
// back to regexp.
//
// And it is checked by machine, against the library, by tests in package
// manifest that use this package's API as the product does:
//
//   - TestFastPathGenerated (manifest/fastgen_test.go) generates schemas from
//     the whole grammar the fast path compiles, and records on both sides
//     of each constraint, and compares verdicts, id and reference values,
//     and whole reports with the fast path on and off (FASTGEN_N=20000 for
//     more cases);
//   - FuzzFastPathDifferential is the same check as a fuzz target whose
//     input drives the generator; to fuzz it for an hour:
//     go test ./manifest -run '^$' -fuzz '^FuzzFastPathDifferential$' -fuzztime 1h
//   - FuzzFastPath and TestFastPathDifferential check random instances of
//     the project's schemas and of the JSON-Schema-Test-Suite's;
//     TestFastPathCases keeps every defect those found; the conformance and
//     ECMA-262 suites check that the fast path never calls a suite's
//     invalid instance valid.
//
// In this package, FuzzDFA checks the DFA against regexp.Match, and
// TestFastPathReferenceBlowup that references fanning out cannot make a
// check run for ever. Setting DATALFS_NO_FASTPATH=1 turns the fast path off
// (manifest.NoFastPathEnv): every record then takes the library path. See
// docs/validation-guarantees.md.
package fastpath
