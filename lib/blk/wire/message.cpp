#include "blk/wire/message.hpp"

namespace blk::wire {

std::string encode_message(MessageType type, std::string_view body) {
  std::string out;
  auto v = static_cast<std::uint64_t>(type);
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  out.append(body);
  return out;
}

Result<Message> parse_message(std::string_view payload) {
  Message m;
  for (int shift = 0, i = 0; i < 10; shift += 7, ++i) {
    if (payload.empty()) break;
    auto byte = static_cast<unsigned char>(payload.front());
    payload.remove_prefix(1);
    m.type |= std::uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) {
      m.body = payload;
      return m;
    }
  }
  return make_error(Code::failure, "peer sent a malformed message type");
}

}  // namespace blk::wire
