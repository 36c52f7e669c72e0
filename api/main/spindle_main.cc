// spindle: process entry. Loads the config (embedded default, file, flags), starts the Server and waits for
// SIGINT/SIGTERM, then stops gracefully: stop accepting, finish in-flight requests, exit 0.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "api/server.h"
#include "core/config_loader.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace spindle;
  auto config = load_config(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "spindle: %s\n", config.status().message().c_str());
    return 1;
  }
  if (config->help) {
    std::fputs(config_usage().c_str(), stdout);
    return 0;
  }
  auto level = parse_log_level(config->log_level);
  if (level.ok()) set_log_level(*level);
  log_config_warnings(*config);

  // Signals are taken synchronously by this thread; block them before any shard thread exists so the shards
  // inherit the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Server server(std::move(config).value());
  Status started = server.start();
  if (!started.is_ok()) {
    log_error("startup failed: %s", started.message().c_str());
    std::fprintf(stderr, "spindle: %s\n", started.message().c_str());
    return 1;
  }
  const Config& c = server.config();
  log_info("spindle ready: shards=%u otlp_grpc=%s:%u otlp_http=%s:%u query=%s:%u config=%s", server.shard_count(),
           c.otlp_grpc.host.c_str(), server.otlp_grpc_port(), c.otlp_http.host.c_str(), server.otlp_http_port(),
           c.http_listen_address.empty() ? "0.0.0.0" : c.http_listen_address.c_str(), server.query_port(),
           c.config_file.empty() ? "(embedded default)" : c.config_file.c_str());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log_info("received %s: draining in-flight requests (up to %llu ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
           static_cast<unsigned long long>(c.shutdown_timeout_ms));
  server.request_stop();
  server.join();
  log_info("stopped");
  return 0;
}
