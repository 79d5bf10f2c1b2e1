// Times as text for people: RFC 3339 in UTC, millisecond precision.
#pragma once

#include <string>
#include <string_view>

#include "blk/block.hpp"
#include "blk/error.hpp"

namespace blk {

// "2026-11-27T07:14:18.123Z"
std::string format_time(Millis t);

// Accepts "2026-11-27", "2026-11-27T07:14", "2026-11-27T07:14:18",
// "2026-11-27T07:14:18.123" (each optionally ending in "Z"; all UTC), or a
// plain integer of milliseconds since the epoch. Code::usage otherwise.
Result<Millis> parse_time(std::string_view text);

}  // namespace blk
