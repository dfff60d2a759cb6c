// Package deploytest checks the files in deployments/ with the tools that
// consume them:
//
//   - promtool: the Prometheus configuration, the alerting rules and their
//     unit tests (TestPromtool);
//   - a real Prometheus scraping syncworker --demo every second: every
//     expression of the Grafana dashboard (its variables substituted) and
//     every alerting rule is a valid query, and returns data unless the
//     test lists why it may not; every vccsync metric they name is
//     exported (TestPrometheusEndToEnd);
//   - the dashboard's structure: variables, datasources, targets, layout
//     (TestDashboard), and the Grafana provisioning files
//     (TestGrafanaProvisioning);
//   - nats-server's own parser and three in-process nodes for the NATS
//     cluster configuration, with a three-replica stream surviving the loss
//     of a node (TestNATSClusterConfig);
//   - a YAML decoder for the Kubernetes manifests: kind and apiVersion,
//     the references between them, the worker's probes and volume
//     (TestKubernetesManifests); and syncworker -h and publisher serve -h
//     for every flag the manifests, the systemd unit and the configuration
//     files use (TestManifestFlags).
//
// Caveats: promtool and prometheus come from Debian's prometheus package
// (.ci/run installs it). Without them their tests are skipped and say so,
// except under CI=true, where they fail. The tests that run syncworker or
// publisher build them first with go build: seconds with a warm build
// cache, a minute or more with a cold one (bounded at five minutes); the
// end-to-end run itself is bounded at 90 seconds. Every process listens on
// loopback only, on free ports, and is stopped with SIGINT (SIGKILL after
// ten seconds) when its test ends.
package deploytest
