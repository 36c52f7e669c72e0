// spindle-loadgen: the OTLP load generator users point at Spindle, Tempo or an OpenTelemetry Collector. See
// bench/README.md ("Load generator") and --help.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/loadgen_options.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  auto options = spindle::parse_loadgen_options(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "spindle-loadgen: %s\n", options.status().message().c_str());
    return 1;
  }
  if (options->help) {
    std::fputs(spindle::loadgen_usage(), stdout);
    return 0;
  }
  spindle::LoadGenerator::install_interrupt_handler();
  spindle::LoadGenerator generator(std::move(options).value());
  return generator.run(stdout);
}
