#include "connection.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "blk/identity.hpp"
#include "world.hpp"

namespace blk::sim {

Link random_link(Rng& rng, bool faults) {
  Link l;
  l.latency = rng.range(1, 40);
  l.jitter = rng.range(0, 20);
  if (faults && rng.percent(20)) {  // delays beyond the usual: a fault
    l.spike_percent = static_cast<int>(rng.range(1, 10));
    l.spike = rng.skewed(100, 5000);
  }
  l.max_chunk =
      static_cast<std::size_t>(rng.percent(10) ? rng.range(1, 64) : rng.skewed(64, 64 << 10));
  l.window = static_cast<std::size_t>(rng.skewed(512, 256 << 10));
  if (faults && rng.percent(30)) l.cut_at = static_cast<std::uint64_t>(rng.skewed(0, 40'000));
  if (faults && rng.percent(5)) l.corrupt_at = static_cast<std::uint64_t>(rng.skewed(0, 40'000));
  return l;
}

const char* end_name(End end) {
  switch (end) {
    case End::open:
      return "open";
    case End::clean:
      return "clean";
    case End::cut:
      return "cut";
    case End::deadline:
      return "deadline";
    case End::eof:
      return "eof";
    case End::corrupt:
      return "corrupt";
    case End::error:
      return "error";
    case End::vanished:
      return "vanished";
  }
  return "?";
}

Connection::Connection(World& world, int id, SideSetup dialler, SideSetup listener, Link link)
    : world_(world), name_(fmt::format("c{}", id)), link_(link) {
  SideSetup setups[2] = {std::move(dialler), std::move(listener)};
  for (int s = 0; s < 2; ++s) {
    Side& x = sides_[s];
    x.machine = setups[s].machine;
    x.options = std::move(setups[s].options);
    wire::HandshakeConfig hc;
    hc.role = s == 0 ? wire::Role::initiator : wire::Role::responder;
    hc.self = &world.machine(x.machine).keys;
    if (s == 0) {
      // Dialling a peer by name: only its key will do.
      wire::PublicKey want = world.machine(setups[1].machine).keys.public_key;
      hc.accept = [want](const wire::PublicKey& key) -> Result<void> {
        if (key != want) return make_error(Code::failure, "handshake failed: not the peer dialled");
        return {};
      };
    } else {
      // A listener: any machine in its manifest (all the others).
      int me = x.machine;
      hc.accept = [&world, me](const wire::PublicKey& key) -> Result<void> {
        for (int i = 0; i < world.machine_count(); ++i)
          if (i != me && world.machine(i).keys.public_key == key) return {};
        return make_error(Code::failure, "handshake failed: key not in the manifest");
      };
    }
    x.channel =
        std::make_unique<wire::Channel>(std::move(hc), wire::ChannelLimits{}, world.clock());
  }
}

Connection::~Connection() = default;

bool Connection::complete() const {
  return sides_[0].complete && sides_[1].complete && sides_[0].end == End::clean &&
         sides_[1].end == End::clean;
}

void Connection::log(int s, std::string_view what) {
  world_.log(name_, fmt::format("{} {}", world_.machine(sides_[s].machine).name, what));
}

void Connection::open() {
  for (int s = 0; s < 2; ++s) {
    write_side(s);
    schedule_tick(s);
  }
}

// --- the streams -----------------------------------------------------

void Connection::transmit(int s, const std::string& bytes, bool fin) {
  Pipe& p = pipes_[s];
  Rng& rng = world_.rng();
  std::size_t off = 0;
  do {
    std::size_t n =
        fin ? 0 : std::min<std::size_t>(bytes.size() - off, 1 + rng.below(link_.max_chunk));
    Millis delay = link_.latency + rng.range(0, link_.jitter);
    if (link_.spike_percent > 0 && rng.percent(link_.spike_percent)) delay += link_.spike;
    Millis at = std::max(p.last_at, world_.clock() + delay);
    p.last_at = at;
    p.chunks.push_back(Chunk{at, bytes.substr(off, n), fin});
    p.inflight += n;
    schedule_delivery(s, at);
    off += n;
  } while (off < bytes.size());
}

void Connection::schedule_delivery(int s, Millis at) {
  std::uint64_t gen = pipes_[s].gen;
  world_.at(at, [this, s, gen] { deliver(s, gen); });
}

void Connection::deliver(int s, std::uint64_t gen) {
  Pipe& p = pipes_[s];
  if (gen != p.gen || p.chunks.empty()) return;
  int from = sides_[s].machine, to = sides_[1 - s].machine;
  if (!world_.reachable(from, to)) {
    // Partitioned: TCP keeps retransmitting; it all arrives after the heal.
    Millis t = world_.heals_at(from, to) + world_.rng().range(200, 3000);
    ++p.gen;
    for (auto& c : p.chunks) {
      t = std::max(t, c.at);
      c.at = t;
      schedule_delivery(s, t);
    }
    p.last_at = std::max(p.last_at, t);
    return;
  }
  Chunk c = std::move(p.chunks.front());
  p.chunks.pop_front();
  p.inflight -= c.bytes.size();
  if (!c.fin && link_.corrupt_at && *link_.corrupt_at >= delivered_ &&
      *link_.corrupt_at < delivered_ + c.bytes.size()) {
    c.bytes[*link_.corrupt_at - delivered_] ^= 0x10;
    corrupted_ = true;
    log(1 - s, fmt::format("receives byte {} corrupted", *link_.corrupt_at));
    link_.corrupt_at.reset();
  }
  if (c.fin) {
    on_fin(1 - s);
  } else if (link_.cut_at && delivered_ + c.bytes.size() >= *link_.cut_at) {
    std::uint64_t keep = *link_.cut_at - delivered_;
    delivered_ += keep;
    if (keep > 0) on_bytes(1 - s, std::string_view(c.bytes).substr(0, keep));
    cut(fmt::format("cut at byte {}", *link_.cut_at));
    return;
  } else {
    delivered_ += c.bytes.size();
    on_bytes(1 - s, c.bytes);
  }
  if (sides_[s].write_blocked) write_side(s);
}

void Connection::cut(std::string_view why) {
  for (auto& p : pipes_) {
    p.chunks.clear();
    p.inflight = 0;
    ++p.gen;
  }
  for (int s = 0; s < 2; ++s)
    if (is_open(s)) close_side(s, End::cut, why, false);
}

void Connection::vanish(int s, bool fin, std::string_view why) {
  if (is_open(s)) close_side(s, End::vanished, why, fin);
}

// --- one end: net/session.cpp's loops --------------------------------

// The read loop: bytes in, then every whole message to the conversation.
void Connection::on_bytes(int s, std::string_view bytes) {
  Side& x = sides_[s];
  if (!is_open(s) || x.read_done) return;
  Result<void> r = x.channel->receive(bytes, world_.clock());
  if (!r) {
    close_side(s, corrupted_ ? End::corrupt : End::error,
               fmt::format("channel: {}", r.error().message), true);
    return;
  }
  if (!x.was_established && x.channel->established()) {
    x.was_established = true;
    log(s, "established");
    if (s == 0) r = start_session(s);  // the listener starts at the first message
  }
  while (r) {
    auto msg = x.channel->next_message();
    if (!msg) break;
    r = on_message(s, *msg);
  }
  if (!r) {
    close_side(s, End::error, fmt::format("sync: {}", r.error().message), true);
    return;
  }
  if (x.channel->peer_finished()) {
    x.read_done = true;
    // SyncConversation::on_peer_finished: the peer may only finish a complete sync.
    if (x.session && !x.session->done())
      world_.fail(fmt::format("{} {}: the peer ended the sync before it was complete", name_,
                              world_.machine(x.machine).name));
    x.channel->finish();
  }
  write_side(s);
  schedule_tick(s);
}

void Connection::on_fin(int s) {
  if (!is_open(s) || sides_[s].read_done) return;
  close_side(s, End::eof, "the peer's stream ended without its final record", true);
}

// The write loop: take everything the channel has; when it has nothing,
// the conversation may say more (pump).
void Connection::write_side(int s) {
  Side& x = sides_[s];
  if (!is_open(s)) return;
  x.write_blocked = false;
  for (int guard = 0;; ++guard) {
    if (guard == 100'000) {
      world_.fail(fmt::format("{}: the writer never went idle", name_));
      return;
    }
    if (pipes_[s].inflight >= link_.window) {
      x.write_blocked = true;
      return;
    }
    std::string out = x.channel->take_output(world_.clock());
    if (!out.empty()) {
      transmit(s, out, false);
      continue;
    }
    if (x.channel->established() && !x.channel->finished() && x.session) {
      Result<void> r = x.session->pump(world_.clock());
      if (r) r = send_queued(s);
      if (!r) {
        close_side(s, End::error, fmt::format("sync: {}", r.error().message), true);
        return;
      }
      if (x.channel->has_output()) continue;
    }
    break;
  }
  maybe_done(s);
}

void Connection::maybe_done(int s) {
  Side& x = sides_[s];
  if (is_open(s) && x.channel->finished() && x.channel->peer_finished() && !x.channel->has_output())
    close_side(s, End::clean, "", true);
}

// The tick loop: deadlines and keepalives, and the session's wake-ups.
void Connection::schedule_tick(int s) {
  Side& x = sides_[s];
  if (!is_open(s)) return;
  Millis d = x.channel->next_deadline();
  if (x.session && x.channel->established() && !x.channel->finished())
    d = std::min(d, x.session->next_wakeup());
  d = std::max(d, world_.clock() + 1);  // the tick loop sleeps at least 1 ms
  if (d >= x.tick_at) return;           // the earlier tick reschedules itself
  x.tick_at = d;
  std::uint64_t gen = ++x.tick_gen;
  world_.at(d, [this, s, gen] { on_tick(s, gen); });
}

void Connection::on_tick(int s, std::uint64_t gen) {
  Side& x = sides_[s];
  if (!is_open(s) || gen != x.tick_gen) return;
  x.tick_at = INT64_MAX;
  Millis now = world_.clock();
  if (auto r = x.channel->tick(now); !r) {
    close_side(s, End::deadline, r.error().message, true);
    return;
  }
  if (x.session && x.channel->established() && !x.channel->finished() &&
      now >= x.session->next_wakeup()) {
    Result<void> r = x.session->pump(now);
    if (r) r = send_queued(s);
    if (!r) {
      close_side(s, End::error, fmt::format("sync: {}", r.error().message), true);
      return;
    }
  }
  write_side(s);
  schedule_tick(s);
}

// --- the conversation: net/sync_conversation.cpp ----------------------

Result<void> Connection::start_session(int s) {
  Side& x = sides_[s];
  const auto& key = x.channel->handshake().peer_key();
  x.peer_id =
      machine_id_for(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  auto role = s == 0 ? sync::Session::Role::initiator : sync::Session::Role::responder;
  x.session =
      std::make_unique<sync::Session>(*world_.machine(x.machine).store, x.peer_id, role, x.options);
  BLK_TRY(x.session->start(world_.clock()));
  return send_queued(s);
}

Result<void> Connection::on_message(int s, std::string_view message) {
  Side& x = sides_[s];
  if (!x.session) {
    if (s == 0) return make_error(Code::failure, "sync message before the handshake ended");
    BLK_TRY(start_session(s));  // ServeConversation: the sync starts at the dialler's hello
  }
  BLK_TRY(x.session->receive(message, world_.clock()));
  return send_queued(s);
}

Result<void> Connection::send_queued(int s) {
  Side& x = sides_[s];
  for (auto& m : x.session->take_messages()) BLK_TRY(x.channel->send(m));
  if (x.session->done() && !x.channel->finished()) {
    x.channel->finish();
    if (!x.done_logged) {
      x.done_logged = true;
      log(s, fmt::format("sync done: {}", sync::summary(x.session->stats())));
    }
  }
  return {};
}

void Connection::close_side(int s, End end, std::string_view why, bool fin) {
  Side& x = sides_[s];
  x.end = end;
  x.complete = x.session && x.session->done();
  std::string what = fmt::format("closed ({})", end_name(end));
  if (!why.empty()) what += fmt::format(": {}", why);
  if (x.session) {
    // SyncConversation::on_closed: keep what arrived, unless we crashed.
    if (end != End::vanished && !x.complete) {
      if (auto r = x.session->flush(); !r)
        world_.fail(fmt::format("{} {}: flush failed: {}", name_, world_.machine(x.machine).name,
                                r.error().message));
    }
    x.stats = x.session->stats();
    if (!x.complete) what += fmt::format(" [{}]", sync::summary(x.stats));
    // What the client and the server record for `blk status`.
    if (end != End::vanished) {
      Machine& m = world_.machine(x.machine);
      (void)m.store->record_sync_attempt(x.peer_id, world_.clock() + m.skew,
                                         end == End::clean ? "" : end_name(end),
                                         x.session->peer_has());
    }
  }
  log(s, what);
  if (end == End::error)
    world_.fail(fmt::format("{} {}: {}", name_, world_.machine(x.machine).name, why));
  x.session.reset();
  x.channel.reset();
  if (fin) transmit(s, "", true);
}

}  // namespace blk::sim
