#pragma once
// URL query strings: `a=1&b=x%20y` -> [(a,1),(b,"x y")]. '+' means space, as Go's url.ParseQuery does.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spindle {

class QueryParams {
 public:
  explicit QueryParams(std::string_view query);
  // First value of `name`, if present (present-but-empty gives "").
  std::optional<std::string> get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

std::string percent_decode(std::string_view s);
// RFC 3986 unreserved characters stay, everything else becomes %XX, so percent_decode() gives `s` back verbatim.
std::string percent_encode(std::string_view s);

}  // namespace spindle
