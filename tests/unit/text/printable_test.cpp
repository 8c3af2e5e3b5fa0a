#include "core/text/printable.hpp"

#include <doctest/doctest.h>

using canaryd::text::first_unprintable;
using canaryd::text::printable;

TEST_CASE("printable: controls and invalid UTF-8 are escaped, valid UTF-8 kept, long text cut") {
    CHECK(printable("plain text") == "plain text");
    CHECK(printable("a\r\nb\tc") == "a\\r\\nb\\tc");
    CHECK(printable(std::string("nul\0here", 8)) == "nul\\x00here");
    CHECK(printable("\x1b[31mred") == "\\x1b[31mred");  // no terminal escapes get through
    CHECK(printable("back\\slash") == "back\\\\slash");  // so an escape in the output is unambiguous
    CHECK(printable("caf\xc3\xa9 \xe2\x86\x92") == "caf\xc3\xa9 \xe2\x86\x92");  // é →
    CHECK(printable("\xff\xfe") == "\\xff\\xfe");
    CHECK(printable("\xc3") == "\\xc3");              // truncated sequence
    CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");     // overlong '/'
    CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a UTF-16 surrogate
    CHECK(printable("\x7f") == "\\x7f");
    CHECK(printable("abcdef", 3) == "abc...");
}

TEST_CASE("first_unprintable: the offset printable() would escape first") {
    CHECK(first_unprintable("fine \xc3\xa9") == std::string_view::npos);
    CHECK(first_unprintable("v1\r\nSet-Cookie: x") == 2);
    CHECK(first_unprintable("ok\xff") == 2);
}
