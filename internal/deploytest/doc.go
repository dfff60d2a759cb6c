// Package deploytest checks the files in deployments/ with the tools that
// consume them: promtool for the Prometheus configuration, alerting rules
// and their unit tests.
//
// Caveat: the checks need promtool on PATH (Debian's prometheus package;
// .ci/run installs it). Without it they are skipped, and say so.
package deploytest
