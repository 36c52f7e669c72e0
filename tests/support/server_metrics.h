#pragma once
// Reading a running server's /metrics, and polling for a condition, for integration tests.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace spindle {

// Sum of every sample of metric `name` in a Prometheus text exposition whose label set contains `filter` (empty:
// all samples). Names must match exactly: `spindle_wal_syncs` does not count `spindle_wal_syncs_total`.
uint64_t metric_sum(const std::string& text, std::string_view name, std::string_view filter = "");

// GET /metrics on the query port and metric_sum() of `name`; -1 if /metrics could not be read.
int64_t scrape_metric(uint16_t query_port, std::string_view name, std::string_view filter = "");

// Polls `cond` every 20 ms until it holds (true) or `limit` passes (false).
bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = std::chrono::seconds(30));

}  // namespace spindle
