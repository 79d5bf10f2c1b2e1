#include "blk/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace blk {
namespace {

constexpr std::string_view kForms =
    "forms: tcp://HOST:PORT, ws://HOST:PORT/PATH, exec:COMMAND, ssh://[USER@]HOST[:PORT][/STORE]";

bool is_control(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Builds the error for `text`. A parse step returns only the reason; the
// caller wraps it here, so every message has the same shape.
Error not_an_address(std::string_view text, std::string_view why) {
  std::string shown(text);
  std::replace_if(shown.begin(), shown.end(), is_control, '?');  // keep it one line
  return make_error(Code::usage,
                    fmt::format("'{}' is not an address: {} ({})", shown, why, kForms));
}

// A reason why parsing failed, or nothing.
using Why = std::optional<std::string>;

Why check_ipv6(std::string_view inner) {
  std::string_view addr = inner.substr(0, inner.find('%'));
  std::string_view zone = addr.size() < inner.size() ? inner.substr(addr.size() + 1) : "";
  unsigned char buf[16];
  bool zone_ok = addr.size() == inner.size() ||
                 (!zone.empty() && std::all_of(zone.begin(), zone.end(), [](char c) {
                   return is_alnum(c) || c == '-' || c == '_' || c == '.';
                 }));
  if (!zone_ok || inet_pton(AF_INET6, std::string(addr).c_str(), buf) != 1)
    return fmt::format("'[{}]' is not an IPv6 address", inner);
  return std::nullopt;
}

Why check_host_name(std::string_view host) {
  if (host.size() > 253) return std::string("HOST is longer than 253 bytes");
  if (host.front() == '-' || host.front() == '.' || host.find("..") != std::string_view::npos)
    return fmt::format("'{}' is not a host name", host);
  for (char c : host)
    if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
      return fmt::format("HOST '{}' has a character outside letters, digits and '-._'", host);
  // All digits and dots: it can only mean an IPv4 address, so it must be one.
  bool numeric = std::all_of(host.begin(), host.end(),
                             [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
  unsigned char buf[4];
  if (numeric && inet_pton(AF_INET, std::string(host).c_str(), buf) != 1)
    return fmt::format("'{}' is not an IPv4 address", host);
  return std::nullopt;
}

// Port 0 only where `listening`: there it asks the system for any free port.
Why parse_port(std::string_view text, bool listening, std::uint16_t& port) {
  if (text.empty()) return std::string("missing PORT after ':'");
  unsigned long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fmt::format("port '{}' is not a number", text);
    value = std::min(value * 10 + static_cast<unsigned long>(c - '0'), 100000UL);
  }
  if ((value < 1 && !listening) || value > 65535)
    return fmt::format("port {} is out of range (1-65535)", text);
  port = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

// Parses "HOST[:PORT]REST" where REST is empty or starts with '/'. Sets
// `rest` to what follows the host and port.
Why parse_authority(std::string_view s, bool port_required, bool listening, Address& a,
                    std::string_view& rest) {
  std::string_view after;
  if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find(']');
    if (close == std::string_view::npos) return std::string("'[' without a closing ']'");
    std::string_view inner = s.substr(1, close - 1);
    if (auto why = check_ipv6(inner)) return why;
    a.host = std::string(inner);
    after = s.substr(close + 1);
    if (!after.empty() && after.front() != ':' && after.front() != '/')
      return fmt::format("unexpected '{}' after ']'", after);
  } else {
    std::string_view hostport = s.substr(0, s.find('/'));
    if (std::count(hostport.begin(), hostport.end(), ':') > 1)
      return std::string("an IPv6 address must be in brackets, as [::1]");
    std::size_t end = s.find_first_of(":/");
    std::string_view host = s.substr(0, end);
    if (host.empty()) return std::string("missing HOST");
    if (auto why = check_host_name(host)) return why;
    a.host = std::string(host);
    after = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  if (!after.empty() && after.front() == ':') {
    std::string_view port = after.substr(1, after.find('/') - 1);
    if (auto why = parse_port(port, listening, a.port)) return why;
    after = after.substr(1 + port.size());
  } else if (port_required) {
    return std::string("missing :PORT");
  }
  rest = after;
  return std::nullopt;
}

Why parse_tcp(std::string_view s, bool listening, Address& a) {
  std::string_view rest;
  if (auto why = parse_authority(s, true, listening, a, rest)) return why;
  if (!rest.empty()) return fmt::format("unexpected '{}' after the port", rest);
  return std::nullopt;
}

Why parse_ws(std::string_view s, bool listening, Address& a) {
  std::string_view rest;
  if (auto why = parse_authority(s, true, listening, a, rest)) return why;
  a.path = rest.empty() ? "/" : std::string(rest);
  for (char c : a.path)
    if (c <= ' ' || c == '?' || c == '#' || static_cast<unsigned char>(c) >= 0x7f)
      return fmt::format("PATH '{}' may hold only printable ASCII, without '?' or '#'", a.path);
  return std::nullopt;
}

Why parse_ssh(std::string_view s, bool, Address& a) {
  std::size_t at = s.find('@');
  if (at != std::string_view::npos && at < s.find('/')) {
    std::string_view user = s.substr(0, at);
    if (user.empty()) return std::string("missing USER before '@'");
    if (user.front() == '-') return fmt::format("USER '{}' starts with '-'", user);
    if (user.find_first_of(" :") != std::string_view::npos)
      return fmt::format("USER '{}' holds a space or ':'", user);
    a.user = std::string(user);
    s = s.substr(at + 1);
  }
  std::string_view rest;
  if (auto why = parse_authority(s, false, false, a, rest)) return why;
  if (rest.size() > 1) a.store = std::string(rest);  // "/" alone means no store
  return std::nullopt;
}

Why parse_exec(std::string_view s, bool, Address& a) {
  if (s.find_first_not_of(' ') == std::string_view::npos)
    return std::string("exec: needs a COMMAND");
  a.command = std::string(s);
  return std::nullopt;
}

std::string host_text(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

Result<Address> parse(std::string_view text, bool listening) {
  if (text.empty()) return not_an_address(text, "it is empty");
  if (std::any_of(text.begin(), text.end(), is_control))
    return not_an_address(text, "it holds a control character");
  struct Scheme {
    std::string_view prefix;
    Address::Kind kind;
    Why (*parse)(std::string_view, bool listening, Address&);
  };
  static constexpr Scheme kSchemes[] = {{"tcp://", Address::Kind::tcp, parse_tcp},
                                        {"ws://", Address::Kind::ws, parse_ws},
                                        {"ssh://", Address::Kind::ssh, parse_ssh},
                                        {"exec:", Address::Kind::exec, parse_exec}};
  for (const Scheme& scheme : kSchemes) {
    if (text.substr(0, scheme.prefix.size()) != scheme.prefix) continue;
    Address a;
    a.kind = scheme.kind;
    if (auto why = scheme.parse(text.substr(scheme.prefix.size()), listening, a))
      return not_an_address(text, *why);
    if (listening && a.kind != Address::Kind::tcp && a.kind != Address::Kind::ws)
      return not_an_address(text, "only tcp:// and ws:// addresses can be listened on");
    return a;
  }
  std::size_t colon = text.find("://");
  if (colon != std::string_view::npos)
    return not_an_address(text, fmt::format("unknown scheme '{}'", text.substr(0, colon)));
  return not_an_address(text, "it has no scheme");
}

}  // namespace

Result<Address> parse_address(std::string_view text) {
  return parse(text, false);
}

Result<Address> parse_listen_address(std::string_view text) {
  return parse(text, true);
}

std::string to_string(const Address& a) {
  switch (a.kind) {
    case Address::Kind::tcp:
      return fmt::format("tcp://{}:{}", host_text(a.host), a.port);
    case Address::Kind::ws:
      return fmt::format("ws://{}:{}{}", host_text(a.host), a.port, a.path);
    case Address::Kind::exec:
      return "exec:" + a.command;
    case Address::Kind::ssh: {
      std::string s = "ssh://";
      if (!a.user.empty()) s += a.user + "@";
      s += host_text(a.host);
      if (a.port != 0) s += fmt::format(":{}", a.port);
      return s + a.store;
    }
  }
  return {};
}

}  // namespace blk
