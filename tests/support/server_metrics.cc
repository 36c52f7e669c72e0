#include "tests/support/server_metrics.h"

#include <sstream>
#include <thread>

#include "tests/support/http_client.h"

namespace spindle {

uint64_t metric_sum(const std::string& text, std::string_view name, std::string_view filter) {
  uint64_t total = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#' || !line.starts_with(name) || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    if (!filter.empty() && line.find(filter) == std::string::npos) continue;
    total += static_cast<uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return total;
}

int64_t scrape_metric(uint16_t query_port, std::string_view name, std::string_view filter) {
  auto r = http1_request(query_port, "GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  return static_cast<int64_t>(metric_sum(r->body, name, filter));
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition with a deadline
  }
  return true;
}

}  // namespace spindle
