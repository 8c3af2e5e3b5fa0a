#include "core/text/hosts_file.hpp"

#include <doctest/doctest.h>

using canaryd::text::hosts_addresses;
using Addresses = std::vector<std::string>;

TEST_CASE("a hosts table lists every address of a name in file order, each once") {
    const char* table =
        "# pods of the api Service\n"
        "127.0.0.2   api.test  api\n"
        "\n"
        "127.0.0.3\tother.test\n"
        "  127.0.0.4 API.Test   # a comment after the names\n"
        "127.0.0.2 api.test\n"
        "::1 api.test\r\n"
        "127.0.0.9 # commented.test\n"
        "127.0.0.10";
    CHECK(hosts_addresses(table, "api.test") == Addresses{"127.0.0.2", "127.0.0.4", "::1"});
    CHECK(hosts_addresses(table, "api") == Addresses{"127.0.0.2"});
    CHECK(hosts_addresses(table, "other.test") == Addresses{"127.0.0.3"});
    CHECK(hosts_addresses(table, "commented.test").empty());
    CHECK(hosts_addresses(table, "missing.test").empty());
    CHECK(hosts_addresses("", "api.test").empty());
}

TEST_CASE("a name only matches a whole field") {
    CHECK(hosts_addresses("127.0.0.2 api.test.example\n", "api.test").empty());
    CHECK(hosts_addresses("127.0.0.2 xapi.test\n", "api.test").empty());
    CHECK(hosts_addresses("api.test 127.0.0.2\n", "api.test").empty());  // the first field is the address
}
