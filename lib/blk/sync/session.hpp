// The sync core: one sync between this store and one peer, as a sans-I/O
// state machine. It is given the peer's messages and the time, and hands
// back messages to send; it reads and writes the Store, nothing else. The
// same code runs over Asio (net/sync_conversation) and in the simulator.
//
// Both sides run the same Session. Each is the *source* of its own changes
// and the *sink* of the peer's:
//   1. both send a hello: epoch, highest seq, and the cursor held for the
//      peer (the highest of its seqs committed here);
//   2. if both cursors are valid, each source offers its rows above the
//      peer's cursor (one round trip when nothing changed); otherwise (first
//      contact, a restored store, --full) the dialling side runs Negentropy
//      over (modified_at in seconds, version hash) and both offer only the
//      differences;
//   3. offers carry metadata only (blobs inline when the peer is empty); the
//      sink answers each offers message with the versions it wants, so a
//      blob it already holds (from a third machine) is never sent;
//   4. a mark after each window says "everything up to seq S was offered";
//      the sink commits what it received and advances its cursor to S in
//      the same transaction, so a cut at any byte loses nothing and a rerun
//      does not resend what was committed.
// The wire format is in blk-protocol(7) and messages.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blk/error.hpp"
#include "blk/store.hpp"
#include "blk/sync/messages.hpp"

namespace blk::sync {

struct Options {
  bool full = false;   // reconcile everything instead of trusting cursors
  bool watch = false;  // after catching up, keep streaming new commits
  // Offer order: higher priority types first, then most recently modified.
  std::map<std::string, int, std::less<>> type_priority;
  std::size_t window = 1000;              // rows scanned (and marked) at a time
  std::size_t max_unacked_offers = 8;     // offers messages awaiting their wants
  std::size_t message_bytes = 256 << 10;  // target size of one message
  std::size_t pump_bytes = 1 << 20;       // produced per pump() at most
  std::size_t batch_versions = 2000;      // received versions per transaction
  std::size_t batch_bytes = 8 << 20;
  Millis poll_interval = 200;                // watch: how often to look for commits
  std::uint64_t negentropy_frame_limit = 0;  // 0: no limit

  // Types in `first` go first, in that order (the manifest's sync_priority).
  void prioritize(const std::vector<std::string>& first) {
    for (std::size_t i = 0; i < first.size(); ++i)
      type_priority.emplace(first[i], static_cast<int>(first.size() - i));
  }
};

struct Stats {
  std::int64_t offered = 0;            // versions we offered
  std::int64_t blobs_sent = 0;         // versions whose blob we sent
  std::int64_t versions_received = 0;  // new here: inserted or fast-forwarded
  std::int64_t merged = 0;             // concurrent: merged last-write-wins
  std::int64_t skipped = 0;            // offered to us, but we had it (or newer)
  std::int64_t refused = 0;            // clock too far ahead: not applied
  std::int64_t held = 0;               // concurrent, no plugin could merge: held
  std::int64_t denied = 0;             // its writer may not write it (manifest)
  std::int64_t bytes_sent = 0;         // sync message bytes (not channel framing)
  std::int64_t bytes_received = 0;
  int round_trips = 0;      // on the critical path, after the handshake
  bool reconciled = false;  // Negentropy ran (no valid cursor, or --full)
};

class Session {
 public:
  enum class Role { initiator, responder };  // initiator: we dialled

  Session(Store& store, std::string peer_machine_id, Role role, Options options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends our hello. Call once the channel is established.
  Result<void> start(Millis now);
  // One message from the peer. An error is final: the peer broke the
  // protocol or the store failed; what was committed stays committed.
  Result<void> receive(std::string_view message, Millis now);
  // Produces more offers and blobs (at most pump_bytes), and in watch mode
  // looks for new commits. Call when what was taken has been written.
  Result<void> pump(Millis now);

  // Messages to send, in order.
  std::vector<std::string> take_messages();
  bool has_messages() const;

  // Both directions complete (never in watch mode): finish the channel.
  bool done() const;
  // Watch mode (either side asked for it): the sync ends only when stopped.
  bool watching() const;
  // When pump() wants to be called again without any input (watch polling).
  Millis next_wakeup() const;
  // Commits received versions not yet committed (without moving a cursor):
  // call when the connection is cut, so nothing validated is dropped.
  Result<void> flush();

  const Stats& stats() const;
  // What the peer said it holds of ours (0 until its hello arrives).
  std::int64_t peer_has() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blk::sync

namespace blk::sync {

// One line for people: "received 3, sent 5, merged 1, 12.3 KB in, 4.5 KB out".
std::string summary(const Stats& stats);
// The stats as JSON members without braces ("offered":5,...), for --json.
std::string stats_json(const Stats& stats);

}  // namespace blk::sync
