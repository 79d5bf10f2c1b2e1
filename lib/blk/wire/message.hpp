// Messages: what records carry. Each record holds one message,
//   message = type (varint) || body
// Types below 16 belong to the channel itself; sync's messages come later.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk::wire {

enum class MessageType : std::uint64_t {
  ping = 1,  // body: 8 bytes the pong echoes
  pong = 2,  // body: the ping's 8 bytes
};

std::string encode_message(MessageType type, std::string_view body);

struct Message {
  std::uint64_t type = 0;
  std::string_view body;  // points into the parsed payload
};

// Code::failure (the peer is broken) if the type varint is malformed.
Result<Message> parse_message(std::string_view payload);

}  // namespace blk::wire
