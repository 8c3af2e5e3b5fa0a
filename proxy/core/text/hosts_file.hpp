// Reading an /etc/hosts-style table (hosts(5)): "ADDRESS NAME [ALIAS...]" per line, '#' to the
// end of a line is a comment. canaryd reads one when it is given a resolver of its own (the
// tests' DNS stand-in, whose answers they change while the proxy runs); names compare
// without regard to case, as DNS names do (RFC 4343).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace canaryd::text {

// The addresses listed for `name`, in file order, each once. Not checked as addresses:
// the caller parses them and reports what does not parse.
std::vector<std::string> hosts_addresses(std::string_view table, std::string_view name);

}  // namespace canaryd::text
