// The negentropy conformance harness: blk::negentropy behind the line
// protocol of the reference test suite (hoytech/negentropy test/*), so any
// implementation's harness can be paired with ours.
//
//   in:  item,<timestamp>,<hex id>   seal   initiate   msg,<hex>
//   out: msg,<hex>   have,<hex id>   need,<hex id>   done
//
// `initiate` makes this side the initiator; a `msg` before it, the responder.
// The initiator answers each msg with its have/need lines, then msg or done.
// FRAMESIZELIMIT (environment) sets the frame size limit, and any message
// over it is a failure. Any failure: one line on stderr and exit status 1.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "blk/encoding.hpp"
#include "blk/sync/negentropy.hpp"

namespace neg = blk::negentropy;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::cerr << "negentropy_harness: " << message << "\n";
  std::exit(1);
}

template <class T>
T check(blk::Result<T> r) {
  if (!r) die(r.error().message);
  return std::move(r).value();
}

void check(blk::Result<void> r) {
  if (!r) die(r.error().message);
}

std::uint64_t parse_u64(std::string_view text, const char* what) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    die(std::string("bad ") + what + ": " + std::string(text));
  }
  return v;
}

std::string unhex(std::string_view text) {
  auto bytes = blk::hex_decode(text);
  if (!bytes) die("bad hex: " + std::string(text));
  return *bytes;
}

}  // namespace

int main() {
  std::uint64_t frame_size_limit = 0;
  if (const char* env = std::getenv("FRAMESIZELIMIT")) {
    frame_size_limit = parse_u64(env, "FRAMESIZELIMIT");
  }

  neg::Storage storage;
  std::optional<neg::Reconciler> reconciler;
  bool initiator = false;

  auto send = [&](const std::string& msg) {
    if (frame_size_limit != 0 && msg.size() > frame_size_limit) {
      die("frame size limit exceeded: " + std::to_string(msg.size()) + " > " +
          std::to_string(frame_size_limit));
    }
    std::cout << "msg," << blk::hex_encode(msg) << std::endl;
  };
  auto ready = [&]() -> neg::Reconciler& {
    if (!reconciler) die("seal first");
    return *reconciler;
  };

  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::vector<std::string_view> fields;
    std::string_view rest = line;
    for (std::size_t comma; (comma = rest.find(',')) != rest.npos; rest.remove_prefix(comma + 1)) {
      fields.push_back(rest.substr(0, comma));
    }
    fields.push_back(rest);
    std::string_view cmd = fields[0];

    if (cmd == "item") {
      if (fields.size() != 3) die("item needs a timestamp and an id");
      check(storage.insert(parse_u64(fields[1], "timestamp"), unhex(fields[2])));
    } else if (cmd == "seal") {
      storage.seal();
      reconciler.emplace(check(neg::Reconciler::create(storage, frame_size_limit)));
    } else if (cmd == "initiate") {
      initiator = true;
      send(check(ready().initiate()));
    } else if (cmd == "msg") {
      std::string query = fields.size() >= 2 ? unhex(fields[1]) : std::string();
      if (!initiator) {
        send(check(ready().reconcile(query)));
        continue;
      }
      std::vector<std::string> have, need;
      auto next = check(ready().reconcile(query, have, need));
      for (const auto& id : have) std::cout << "have," << blk::hex_encode(id) << "\n";
      for (const auto& id : need) std::cout << "need," << blk::hex_encode(id) << "\n";
      if (next) {
        send(*next);
      } else {
        std::cout << "done" << std::endl;
      }
    } else {
      die("unknown command: " + std::string(cmd));
    }
  }
  return 0;
}
