#pragma once
// The configuration the server uses when no -config.file is given: the settings of deploy/config.example.yaml
// without its comments (a test checks that both parse to the same Config, and to Config{} defaults).

namespace spindle {

extern const char kDefaultConfigYaml[];

}  // namespace spindle
