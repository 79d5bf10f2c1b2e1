// Fuzz target: the hello decoder, blk::wire::hello_size + parse_hello (and
// negotiate on what parses). The input is the bytes a peer sent first.
//
// Invariants:
// - hello_size says 0 ("need more") only while fewer bytes than a hello
//   are there, and every shorter prefix of a hello is "need more", never
//   an error: a hello may arrive one byte at a time.
// - A size is 4 + 1 + 2n with 1 <= n <= 8, never more than the input.
// - What parse_hello accepts re-encodes to exactly the same bytes, with
//   1..8 strictly ascending versions; what it refuses really breaks a rule.
// - parse_hello accepts the whole input only if it is exactly one hello.
// - negotiate picks the highest version in both lists, or none.
#include <algorithm>

#include "fuzz_common.hpp"

using namespace blk;
using namespace blk::wire;

namespace {

// The versions in `hello` (a hello_size-sized prefix), ascending or not.
std::vector<std::uint16_t> raw_versions(std::string_view hello) {
  std::vector<std::uint16_t> v;
  for (std::size_t i = kHelloMagic.size() + 1; i + 1 < hello.size(); i += 2)
    v.push_back(static_cast<std::uint16_t>((static_cast<unsigned char>(hello[i]) << 8) |
                                           static_cast<unsigned char>(hello[i + 1])));
  return v;
}

// Any 1..8 ascending versions (taken from the input) encode to a hello that
// parses back to them.
void check_encode(std::string_view in) {
  std::vector<std::uint16_t> list;
  for (std::size_t i = 0; i + 1 < in.size(); i += 2)
    list.push_back(static_cast<std::uint16_t>((static_cast<unsigned char>(in[i]) << 8) |
                                              static_cast<unsigned char>(in[i + 1])));
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  if (list.size() > kMaxHelloVersions) list.resize(kMaxHelloVersions);
  if (!list.empty()) {
    std::string enc = encode_hello(list);
    auto sz = hello_size(enc);
    FUZZ_CHECK(sz && *sz == enc.size(), "an encoded hello has the wrong size");
    auto back = parse_hello(enc);
    FUZZ_CHECK(back && *back == list, "an encoded hello does not parse back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_encode(in);
  auto n = hello_size(in);

  if (!n) {
    // Refused: the magic is wrong or the count is out of range.
    bool magic_ok = in.substr(0, std::min(in.size(), kHelloMagic.size())) ==
                    kHelloMagic.substr(0, std::min(in.size(), kHelloMagic.size()));
    bool count_bad = in.size() > kHelloMagic.size() &&
                     (in[kHelloMagic.size()] == 0 ||
                      static_cast<unsigned char>(in[kHelloMagic.size()]) > kMaxHelloVersions);
    FUZZ_CHECK(!magic_ok || count_bad, "hello_size refused a valid start: %s",
               fuzz::hex(in).c_str());
    FUZZ_CHECK(!parse_hello(in), "parse_hello accepted what hello_size refused");
    return 0;
  }

  if (*n == 0) {
    // Need more: the input must be a strict prefix of some hello.
    if (in.size() > kHelloMagic.size()) {
      auto count = static_cast<unsigned char>(in[kHelloMagic.size()]);
      FUZZ_CHECK(in.size() < kHelloMagic.size() + 1 + 2u * count,
                 "hello_size wants more but %zu bytes hold a hello of %u versions", in.size(),
                 count);
    }
    FUZZ_CHECK(!parse_hello(in), "parse_hello accepted an incomplete hello");
    return 0;
  }

  std::size_t hsize = *n;
  FUZZ_CHECK(hsize <= in.size(), "hello_size %zu > input %zu", hsize, in.size());
  FUZZ_CHECK(hsize >= kHelloMagic.size() + 3 && (hsize - kHelloMagic.size() - 1) % 2 == 0 &&
                 (hsize - kHelloMagic.size() - 1) / 2 <= kMaxHelloVersions,
             "impossible hello size %zu", hsize);
  FUZZ_CHECK(in.substr(0, kHelloMagic.size()) == kHelloMagic, "a hello without the magic");

  // Every strict prefix is "need more", never an error: a hello can trickle in.
  for (std::size_t k = 0; k < hsize; ++k) {
    auto p = hello_size(in.substr(0, k));
    FUZZ_CHECK(p && *p == 0, "the %zu-byte prefix of a %zu-byte hello is not 'need more'", k,
               hsize);
  }

  std::string_view hello = in.substr(0, hsize);
  auto parsed = parse_hello(hello);
  std::vector<std::uint16_t> raw = raw_versions(hello);
  bool ascending = std::adjacent_find(raw.begin(), raw.end(),
                                      [](auto a, auto b) { return a >= b; }) == raw.end();
  FUZZ_CHECK(bool(parsed) == ascending, "parse_hello %s a hello whose versions are %sascending",
             parsed ? "accepted" : "refused", ascending ? "" : "not ");
  if (parsed) {
    FUZZ_CHECK(*parsed == raw, "parse_hello changed the versions");
    FUZZ_CHECK(!parsed->empty() && parsed->size() <= kMaxHelloVersions, "bad version count");
    std::string again = encode_hello(*parsed);
    FUZZ_CHECK(again == hello, "re-encoding differs: %s vs %s", fuzz::hex(again).c_str(),
               fuzz::hex(hello).c_str());

    auto v = negotiate(kOurVersions, *parsed);
    std::optional<std::uint16_t> want;
    for (auto x : *parsed)
      if (std::find(kOurVersions.begin(), kOurVersions.end(), x) != kOurVersions.end()) want = x;
    FUZZ_CHECK(v == want, "negotiate picked the wrong version");
    // Negotiating with itself picks its highest.
    FUZZ_CHECK(negotiate(*parsed, *parsed) == parsed->back(), "self-negotiation");
  }

  // The whole input is one hello only when nothing follows it.
  auto whole = parse_hello(in);
  FUZZ_CHECK(bool(whole) == (parsed && hsize == in.size()),
             "parse_hello on the whole input disagrees (hello %zu bytes of %zu)", hsize, in.size());

  return 0;
}
