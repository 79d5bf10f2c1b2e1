// One simulated connection: two byte streams between a dialler and a
// listener, and at each end the real Channel and sync Session, driven the
// way the network driver drives them (net/session.cpp's read, write and tick
// loops, net/sync_conversation.cpp and the server's ServeConversation):
//   - the dialler starts its Session when its channel is established, the
//     listener (like `blk serve`) when the dialler's first message arrives;
//   - every message goes to Session::receive, and what the session queues
//     goes to the channel; when the session is done the channel finishes;
//   - pump() is called when the channel's output has all been written;
//   - tick() at the channel's deadlines and the session's wake-ups;
//   - a connection that ends any way but a crash calls Session::flush().
// The streams deliver in order, in random chunks, after random delays, with
// a send window for back-pressure; partitions hold bytes back until they
// heal (as TCP retransmits), and a seeded fault can cut the connection at
// any byte.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "blk/sync/session.hpp"
#include "blk/wire/channel.hpp"
#include "rng.hpp"

namespace blk::sim {

class World;

// How a connection's streams behave.
struct Link {
  Millis latency = 5;     // per chunk, one way
  Millis jitter = 0;      // added: 0 to jitter
  int spike_percent = 0;  // chunks that take `spike` longer
  Millis spike = 0;
  std::size_t max_chunk = 65536;        // bytes per delivery: 1 to max_chunk
  std::size_t window = 65536;           // bytes in flight before a writer waits
  std::optional<std::uint64_t> cut_at;  // bytes delivered (both ways) before a cut
  // One bit flipped in the byte at this offset (both ways): the channel must
  // refuse it (AEAD), which is how loss, duplication and reordering inside a
  // stream would show too.
  std::optional<std::uint64_t> corrupt_at;
};
Link random_link(Rng& rng, bool faults);

struct SideSetup {
  int machine = 0;
  sync::Options options;
};

// How one end of a connection ended.
enum class End {
  open,      // not yet
  clean,     // both final records exchanged
  cut,       // the connection broke (a fault): flushed
  deadline,  // a channel deadline passed: flushed
  eof,       // the peer's stream ended without its final record: flushed
  corrupt,   // the channel refused a corrupted byte (a fault): flushed
  error,     // the channel or the sync failed: flushed, and the run fails
  vanished,  // the machine crashed or the process was stopped: no flush
};
const char* end_name(End end);

class Connection {
 public:
  // Side 0 is the dialler (initiator), side 1 the listener (responder).
  Connection(World& world, int id, SideSetup dialler, SideSetup listener, Link link);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Both ends start writing (hellos, the dialler's first handshake message).
  void open();
  // The connection breaks: both ends see it now, bytes in flight are lost.
  void cut(std::string_view why);
  // One end disappears without a flush: a crash (fin = false for power loss:
  // the peer notices only by its deadlines) or a stopped process (fin = true:
  // the kernel closes the socket).
  void vanish(int side, bool fin, std::string_view why);
  // No more seeded cuts: the faults have stopped.
  void stop_faults() {
    link_.cut_at.reset();
    link_.corrupt_at.reset();
  }

  const std::string& name() const { return name_; }
  int machine(int side) const { return sides_[side].machine; }
  bool is_open(int side) const { return sides_[side].end == End::open; }
  bool closed() const { return !is_open(0) && !is_open(1); }
  End end(int side) const { return sides_[side].end; }
  bool watch() const { return sides_[0].options.watch; }
  // Both sessions done and the connection ended cleanly at both ends.
  bool complete() const;
  // A side's session statistics, as they were when it closed.
  const sync::Stats& stats(int side) const { return sides_[side].stats; }

 private:
  struct Side {
    int machine = 0;
    sync::Options options;
    std::unique_ptr<wire::Channel> channel;
    std::unique_ptr<sync::Session> session;
    std::string peer_id;
    bool was_established = false;
    bool read_done = false;      // the peer's final record arrived: the read loop ended
    bool write_blocked = false;  // waiting for the send window
    bool done_logged = false;
    Millis tick_at = INT64_MAX;
    std::uint64_t tick_gen = 0;
    End end = End::open;
    bool complete = false;
    sync::Stats stats;
  };
  struct Chunk {
    Millis at;
    std::string bytes;
    bool fin = false;  // the end of the stream
  };
  struct Pipe {  // pipes_[s] carries side s's bytes to the other side
    std::deque<Chunk> chunks;
    std::size_t inflight = 0;
    Millis last_at = 0;
    std::uint64_t gen = 0;  // bumped when chunks are rescheduled or dropped
  };

  void transmit(int s, const std::string& bytes, bool fin);
  void schedule_delivery(int s, Millis at);
  void deliver(int s, std::uint64_t gen);
  void on_bytes(int s, std::string_view bytes);
  void on_fin(int s);
  void on_tick(int s, std::uint64_t gen);
  void write_side(int s);
  void maybe_done(int s);
  void schedule_tick(int s);
  Result<void> start_session(int s);
  Result<void> on_message(int s, std::string_view message);
  Result<void> send_queued(int s);
  void close_side(int s, End end, std::string_view why, bool fin);
  void log(int s, std::string_view what);

  World& world_;
  std::string name_;
  Link link_;
  std::array<Side, 2> sides_;
  std::array<Pipe, 2> pipes_;
  std::uint64_t delivered_ = 0;
  // A corrupted byte was delivered: a channel error at either end is then
  // expected (the handshake may notice it on the side that did not get it).
  bool corrupted_ = false;
};

}  // namespace blk::sim
