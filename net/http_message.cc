#include "net/http_message.h"

namespace spindle {
namespace {

std::string_view find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const { return find_header(headers, name); }
std::string_view GrpcRequest::header(std::string_view name) const { return find_header(metadata, name); }

}  // namespace spindle
