// Names, version vectors, hashes, encodings and times: the pure parts.
#include <doctest/doctest.h>

#include "blk/block.hpp"
#include "blk/block_json.hpp"
#include "blk/encoding.hpp"
#include "blk/time_text.hpp"

using namespace blk;

TEST_CASE("names: the documented charset and 1..255 bytes") {
  CHECK(validate_name("id", "a-Z_0.9:x@y+z=w/v").ok());
  CHECK(validate_name("id", std::string(255, 'x')).ok());
  CHECK_FALSE(validate_name("id", "").ok());
  CHECK_FALSE(validate_name("id", std::string(256, 'x')).ok());
  for (std::string bad : std::initializer_list<std::string>{
           "a b", "a\"b", "a\\b", "a\nb", std::string("a\0b", 3), "caf\xc3\xa9", "a*b"})
    CHECK_FALSE(validate_name("id", bad).ok());
  CHECK(validate_name("type", "").error().message == "type is empty");
}

TEST_CASE("version vectors round-trip canonically and reject garbage") {
  VersionVector vv{{"b", 7}, {"a", 1u << 30}, {"c", 0}};
  auto enc = encode_versions(vv);
  auto dec = decode_versions(enc);
  REQUIRE(dec.ok());
  CHECK(*dec == vv);
  CHECK(decode_versions("").value().empty());
  CHECK_FALSE(decode_versions(enc + "x").ok());
  CHECK_FALSE(decode_versions(enc.substr(0, enc.size() - 1)).ok());
  CHECK_FALSE(decode_versions("\xff\xff\xff").ok());
}

TEST_CASE("the version hash covers every field but seq") {
  Block b;
  b.id = "k";
  b.type = "t";
  b.blob = "hello";
  b.modified_by = "m";
  b.versions = {{"m", 1}};
  std::string h = compute_version_hash(b);
  CHECK(h.size() == 32);
  b.seq = 99;
  CHECK(compute_version_hash(b) == h);
  auto differs = [&](auto change) {
    Block c = b;
    change(c);
    return compute_version_hash(c) != h;
  };
  CHECK(differs([](Block& c) { c.id = "k2"; }));
  CHECK(differs([](Block& c) { c.type = "t2"; }));
  CHECK(differs([](Block& c) { c.blob = "hellO"; }));
  CHECK(differs([](Block& c) { c.created_at = 1; }));
  CHECK(differs([](Block& c) { c.modified_at = 1; }));
  CHECK(differs([](Block& c) { c.deleted_at = 0; }));
  CHECK(differs([](Block& c) { c.schema = 1; }));
  CHECK(differs([](Block& c) { c.modified_by = "n"; }));
  CHECK(differs([](Block& c) { c.versions["m"] = 2; }));
  // Length prefixes: moving a byte between id and type changes the hash.
  CHECK(differs([](Block& c) {
    c.id = "kt";
    c.type = "";
  }));
}

TEST_CASE("base64 and hex") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("hi!") == "aGkh");
  CHECK(base64_encode(std::string("\0\xff", 2)) == "AP8=");
  CHECK(base64_decode("AP8=").value() == std::string("\0\xff", 2));
  CHECK_FALSE(base64_decode("AP8").ok());
  CHECK_FALSE(base64_decode("A*8=").ok());
  CHECK_FALSE(base64_decode("AP8= ").ok());
  CHECK(hex_encode("\x01\xab") == "01ab");
}

TEST_CASE("the fast blob base64 agrees with libsodium's, and is as strict") {
  std::string bytes;
  for (int n = 0; n < 300; ++n) {
    std::string enc;
    append_base64(enc, bytes);
    CHECK(enc == base64_encode(bytes));
    auto dec = base64_decode_data(enc);
    REQUIRE(dec.ok());
    CHECK(*dec == bytes);
    bytes.push_back(static_cast<char>(n * 37 + 11));
  }
  for (auto bad :
       {"A", "AB", "ABC", "A===", "AB=A", "A*B=", "AB\n=", "=AAA", "AR==", "ABD=", "AAAA====",
        "AA=="
        "AAAA"})
    CHECK_FALSE(base64_decode_data(bad).ok());
  CHECK(base64_decode_data("AA==").value() == std::string(1, '\0'));
  CHECK(base64_decode_data("AAE=").value() == std::string("\0\x01", 2));
}

TEST_CASE("JSON strings are escaped; invalid UTF-8 becomes U+FFFD") {
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01\xc3\xa9\xff");
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd\"");
}

TEST_CASE("binary detection for terminals") {
  CHECK_FALSE(looks_binary("plain text\nwith lines\tand tabs\n"));
  CHECK_FALSE(looks_binary("caf\xc3\xa9 \xe2\x82\xac"));
  CHECK(looks_binary(std::string("a\0b", 3)));
  CHECK(looks_binary("\xff\xfe"));
  CHECK(looks_binary("\xc0\xaf"));  // overlong '/'
  CHECK(looks_binary("bell\x07"));
}

TEST_CASE("a block survives JSON and back") {
  Block b;
  b.id = "id-1";
  b.type = "note";
  b.created_at = 1700000000000;
  b.modified_at = 1700000000123;
  b.schema = 3;
  b.blob = std::string("\0\x01\x02 binary \xff", 12);
  std::string line;
  append_block_json(line, b);
  BlockJsonParser parser;
  auto w = parser.parse(line);
  REQUIRE(w.ok());
  CHECK(w->id == b.id);
  CHECK(w->type == b.type);
  CHECK(w->blob == b.blob);
  CHECK(w->schema == 3);
  CHECK(*w->created_at == b.created_at);
  CHECK(*w->modified_at == b.modified_at);
  CHECK_FALSE(w->deleted_at.has_value());
}

TEST_CASE("JSON lines that are not blocks are refused with the reason") {
  BlockJsonParser parser;
  auto why = [&](std::string line) {
    auto w = parser.parse(line);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().code == Code::invalid_input);
    return w.error().message;
  };
  CHECK(why("{\"type\":\"t\",\"blob\":\"aGk=\"") == "not valid JSON");
  CHECK(why("[1,2]") == "not a JSON object");
  CHECK(why("{\"blob\":\"aGk=\"}") == "\"type\" is missing");
  CHECK(why("{\"type\":\"t\"}") == "\"blob\" is missing");
  CHECK(why("{\"type\":\"t\",\"blob\":\"@@\"}") == "\"blob\" is not valid base64");
  CHECK(why("{\"type\":5,\"blob\":\"\"}").find("\"type\"") != std::string::npos);
  CHECK(why("{\"type\":\"t\",\"blob\":\"\",\"schema\":-1}").find("schema") != std::string::npos);
  CHECK(why("{\"type\":\"t\",\"blob\":\"\",\"schema\":4294967296}").find("schema") !=
        std::string::npos);
  CHECK(why("{\"type\":\"t\",\"blob\":\"\",\"created_at\":\"x\"}").find("created_at") !=
        std::string::npos);
  CHECK(why("{\"type\":\"t\",\"blob\":\"\"} trailing") == "not valid JSON");
  // Found by the fuzzer: deep nesting must not exhaust the stack, and a NUL
  // must not hide what follows it.
  CHECK(why(std::string(100000, '[')) == "not valid JSON");
  CHECK(why(std::string("{\"type\":\"t\",\"blob\":\"\"}\0garbage", 30)).find("NUL") !=
        std::string::npos);
  // A tombstone needs no blob; unknown keys are ignored.
  std::string tomb = "{\"type\":\"t\",\"deleted_at\":5,\"future\":[1]}";
  CHECK(parser.parse(tomb).ok());
}

TEST_CASE("times: RFC 3339 UTC out, several forms in") {
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(1795764321903) == "2026-11-27T07:25:21.903Z");
  CHECK(parse_time("2026-11-27T07:25:21.903Z").value() == 1795764321903);
  CHECK(parse_time("2026-11-27T07:25:21.903").value() == 1795764321903);
  CHECK(parse_time("2026-11-27").value() == 1795737600000);
  CHECK(parse_time("2026-11-27T07:25").value() == 1795737600000 + (7 * 60 + 25) * 60000);
  CHECK(parse_time("1795764321903").value() == 1795764321903);
  for (auto bad : {"", "yesterday", "2026-13-01", "2026-02-30", "2026-11-27T25:00", "-5",
                   "2026-11-27T07:25:21.9", "2026-11-27X"})
    CHECK_FALSE(parse_time(bad).ok());
}
