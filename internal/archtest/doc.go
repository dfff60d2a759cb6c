// Package archtest holds vccsync's architecture test: deps_test.go states
// the dependency rule of DESIGN.md ("Layout and the dependency rule") as a
// table, one row per package under pkg/, and fails when a package imports
// something its row does not allow. It works like the Go distribution's own
// go/build deps_test.go: it lists each package's imports with go/build, so it
// needs the module's source tree and nothing else.
//
// The package has no code of its own; run it with
//
//	go test ./internal/archtest/
//
// What is checked:
//   - every package under pkg/ has a row in the table (a new package fails
//     until its rule is written down);
//   - the non-test files (GoFiles and CgoFiles) of each package under pkg/
//     import, from this module, only what its row allows, and nothing from
//     outside the standard library when its row says stdlib only;
//   - the adapters (bus, salesforce, sandbox, store, vcc) never import one
//     another, reported with its own message;
//   - the test files of pkg/events import only the standard library;
//   - packages under cmd/ may import anything.
//
// Caveats: only imports are checked, not which identifiers are used, so
// "pkg/handlers uses only the data types of pkg/vcc" is a review matter.
// Test files of packages other than pkg/events are not checked: tests may
// wire real in-process dependencies (the sandboxes, bbolt) together. Build
// constraints are evaluated for linux, darwin and windows, with cgo on, and
// the imports of all three are checked.
package archtest
