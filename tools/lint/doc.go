// Package lint holds checks of the repository's own source that run as
// ordinary tests (go test ./tools/lint/), so they need no tool beyond the
// Go toolchain and fail the same way on every machine.
//
// The size check keeps non-test files to at most 600 lines and function
// bodies to at most 120: past those a file mixes concerns and a function
// does several things, and both are hard to review. Test files, testdata,
// vendored and generated code are exempt.
package lint
