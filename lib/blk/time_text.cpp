#include "blk/time_text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <ctime>

namespace blk {

std::string format_time(Millis t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t % 1000);
}

Result<Millis> parse_time(std::string_view text) {
  auto bad = [&] {
    return make_error(Code::usage,
                      fmt::format("'{}' is not a time: use 2026-11-27, 2026-11-27T07:14:18Z "
                                  "or milliseconds since 1970",
                                  text));
  };
  Millis ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (ms < 0) return bad();
    return ms;
  }
  // Fixed-width fields: read digits at known offsets.
  std::string_view s = text;
  if (!s.empty() && s.back() == 'Z') s.remove_suffix(1);
  auto num = [&](std::size_t at, std::size_t len, int& out) {
    if (at + len > s.size()) return false;
    auto r = std::from_chars(s.data() + at, s.data() + at + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + at + len;
  };
  std::tm tm{};
  int year, month, day, hour = 0, minute = 0, second = 0, milli = 0;
  if (!num(0, 4, year) || s.size() < 10 || s[4] != '-' || !num(5, 2, month) || s[7] != '-' ||
      !num(8, 2, day))
    return bad();
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != ' ') || s.size() < 16 || !num(11, 2, hour) || s[13] != ':' ||
        !num(14, 2, minute))
      return bad();
    if (s.size() > 16 && (s[16] != ':' || !num(17, 2, second))) return bad();
    if (s.size() > 19 && (s[19] != '.' || s.size() != 23 || !num(20, 3, milli))) return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60 ||
      year < 1970)
    return bad();
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t secs = timegm(&tm);
  // timegm normalises 2026-02-31 to March: refuse dates that do not exist.
  std::tm check{};
  gmtime_r(&secs, &check);
  if (check.tm_mday != day || check.tm_mon != month - 1) return bad();
  return static_cast<Millis>(secs) * 1000 + milli;
}

}  // namespace blk
