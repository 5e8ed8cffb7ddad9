// Prometheus series of running statistics sessions (docs/operations.md "Metrics"), built at scrape
// time from their latest snapshots. Pure.
//   container_tracer_syscalls_total{namespace,pod,container,syscall}         counter
//   container_tracer_syscall_errors_total{namespace,pod,container,syscall}   counter
//   container_tracer_syscall_duration_seconds{namespace,pod,container,syscall} histogram, with
//       the bounds of stats::metric_bounds_ns() (256 ns to 17.2 s, each 4x the previous)
// The values are the runs' cumulative counts; a series exists while a run counts its container
// (it goes with the run: Prometheus reads that as a counter reset). When two running sessions
// count the same container, the series is the one with more calls (never their sum: both count
// the same calls).
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "tracer-node/export/exporter.h"

namespace ct::node {

std::vector<prometheus::MetricFamily> syscall_metric_families(const std::vector<StatsUpdate>& runs);

}  // namespace ct::node
