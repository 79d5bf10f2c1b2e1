#include "blk/sync/session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <unordered_set>

#include "blk/sync/negentropy.hpp"

namespace blk::sync {
namespace {

Error protocol_error(std::string_view what) {
  return make_error(Code::failure, fmt::format("peer broke the sync protocol: {}", what));
}

// Our side of a Negentropy reconciliation: our version set as Negentropy
// items, and a map from version hash back to the row that holds it.
struct Reconciliation {
  negentropy::Storage storage;
  std::vector<std::pair<std::string, std::int64_t>> by_hash;  // sorted by hash
  std::unique_ptr<negentropy::Reconciler> reconciler;
  std::unordered_set<std::string> reported;  // have and need ids seen so far

  std::optional<std::int64_t> seq_of(std::string_view hash) const {
    auto it = std::lower_bound(by_hash.begin(), by_hash.end(), hash,
                               [](const auto& e, std::string_view h) { return e.first < h; });
    if (it == by_hash.end() || it->first != hash) return std::nullopt;
    return it->second;
  }
};

// A version received and checked against our store, waiting for its commit.
struct Received {
  Block block;
  std::int64_t peer_seq;
};

// The sink waits for the blobs of what it wanted before a mark counts.
struct PendingMark {
  Mark mark;
  std::uint64_t wants_before;  // wants issued when the mark arrived
};

}  // namespace

struct Session::Impl {
  Store& store;
  std::string peer_id;
  Role role;
  Options opt;
  Stats stats;
  std::deque<std::string> outbox;

  // From the start: who we are and where we stand with the peer.
  StoreIdentity me;
  PeerState state;
  std::int64_t my_snapshot = 0;  // our max seq when the sync started
  std::optional<Hello> peer;     // the peer's hello, once it arrived
  bool watch = false;
  std::unique_ptr<Reconciliation> recon;
  bool speculated = false;  // we sent Negentropy's first message with our hello
  // Reconciling, answering side: the vectors the dialler offered, by id.
  std::map<std::string, VersionVector, std::less<>> peer_offered;
  bool ignore_negentropy = false;  // the peer did, and we decided not to reconcile

  // Source: what we offer.
  bool reconciling = false;           // offering Negentropy's differences
  std::deque<std::int64_t> to_offer;  // reconciling: our seqs the peer lacks
  bool offers_closed = false;         // reconciling: no more will be added
  std::int64_t scan_after = 0;        // cursor mode: offered everything up to here
  std::int64_t scan_up_to = 0;        // cursor mode: the last seq to offer for now
  bool inline_blobs = false;          // the peer is empty: no point announcing
  bool final_mark_sent = false;
  bool phase_end_sent = false;  // see end_of_range
  bool after_snapshot_scanned = false;
  std::size_t unacked_offers = 0;
  std::deque<std::vector<std::int64_t>> offered;  // per unacked offers message
  std::deque<std::int64_t> answers;               // seqs wanted, in order
  Millis next_poll = 0;

  // Sink: what we receive.
  std::deque<Offer> wanted;  // offered versions whose blobs we asked for
  std::uint64_t wants_issued = 0, blobs_received = 0;
  std::deque<PendingMark> marks;
  std::vector<Received> batch;
  std::size_t batch_bytes = 0;
  std::optional<std::int64_t> first_refused;  // the cursor must stay below it
  bool sink_done = false;
  bool peer_phase_ended = false;  // the peer's phase end is committed here
  bool requests_sent = false;

  Impl(Store& s, std::string p, Role r, Options o)
      : store(s), peer_id(std::move(p)), role(r), opt(std::move(o)) {}

  void send(std::string message) {
    stats.bytes_sent += static_cast<std::int64_t>(message.size());
    outbox.push_back(std::move(message));
  }

  Result<void> start(Millis now) {
    auto id = store.identity();
    if (!id) return std::move(id).error();
    me = std::move(*id);
    auto st = store.peer_state(peer_id);
    if (!st) return std::move(st).error();
    state = std::move(*st);
    auto max = store.max_seq();
    if (!max) return std::move(max).error();
    my_snapshot = *max;
    Hello h;
    h.epoch = me.epoch;
    h.max_seq = my_snapshot;
    h.full = opt.full;
    h.watch = opt.watch;
    h.cursor_epoch = state.epoch;
    h.cursor = state.cursor;
    // Reconciliation is as good as certain (first contact, or --full) unless
    // the peer turns out empty: start it now and save a round trip.
    speculated = role == Role::initiator && my_snapshot > 0 && (opt.full || state.epoch.empty());
    h.negentropy_follows = speculated;
    send(encode(h));
    if (speculated) {
      BLK_TRY(build_reconciliation());
      auto first = recon->reconciler->initiate();
      if (!first) return std::move(first).error();
      send(encode_negentropy(*first));
    }
    next_poll = now;
    return {};
  }

  // Both sides see both hellos, so both reach the same decision.
  Result<void> on_hello(Hello h, Millis now) {
    if (peer) return protocol_error("a second hello");
    if (h.epoch.empty()) return protocol_error("a hello without an epoch");
    watch = opt.watch || h.watch;
    bool my_cursor_ok = !state.epoch.empty() && state.epoch == h.epoch && state.cursor <= h.max_seq;
    bool their_cursor_ok = h.cursor_epoch == me.epoch && h.cursor <= my_snapshot;
    bool someone_empty = my_snapshot == 0 || h.max_seq == 0;
    reconciling = !someone_empty && (opt.full || h.full || !my_cursor_ok || !their_cursor_ok);
    // The hello costs a round trip unless Negentropy's first message went
    // with it (then each Negentropy reply counts).
    stats.round_trips = speculated ? 0 : 1;
    ignore_negentropy = h.negentropy_follows && !reconciling;
    if (h.cursor_epoch == me.epoch && h.cursor > my_snapshot) {
      // The peer holds changes of ours up to a seq we never reached: this
      // store was restored from an older copy. New writes must not reuse
      // those seqs (this sync reconciles what is there now).
      auto tx = store.begin();
      if (!tx) return std::move(tx).error();
      BLK_TRY((*tx)->raise_seq_floor(h.cursor));
      BLK_TRY((*tx)->commit());
    }
    peer = std::move(h);
    if (reconciling) {
      stats.reconciled = true;
      if (!recon) BLK_TRY(build_reconciliation());
      if (role == Role::initiator && !speculated) {
        auto first = recon->reconciler->initiate();
        if (!first) return std::move(first).error();
        send(encode_negentropy(*first));
      }
    } else {
      recon.reset();  // speculated, but the peer is empty
      scan_after = their_cursor_ok ? peer->cursor : 0;
      scan_up_to = my_snapshot;
      inline_blobs = peer->max_seq == 0;
    }
    return pump(now);
  }

  Result<void> build_reconciliation() {
    recon = std::make_unique<Reconciliation>();
    Result<void> inserted;
    BLK_TRY(store.scan_version_items([&](const VersionItem& item) {
      auto secs = static_cast<std::uint64_t>(std::max<Millis>(item.modified_at, 0) / 1000);
      if (inserted) inserted = recon->storage.insert(secs, item.version_hash);
      recon->by_hash.emplace_back(item.version_hash, item.seq);
    }));
    BLK_TRY(inserted);
    recon->storage.seal();
    std::sort(recon->by_hash.begin(), recon->by_hash.end());
    auto r = negentropy::Reconciler::create(recon->storage, opt.negentropy_frame_limit);
    if (!r) return std::move(r).error();
    recon->reconciler = std::make_unique<negentropy::Reconciler>(std::move(*r));
    return {};
  }

  Result<void> on_negentropy(std::string_view body) {
    if (ignore_negentropy) {  // the peer's speculative first message: not needed
      ignore_negentropy = false;
      return {};
    }
    if (!reconciling || !recon)
      return protocol_error("a Negentropy message outside reconciliation");
    if (role == Role::responder) {
      auto reply = recon->reconciler->reconcile(body);
      if (!reply) return std::move(reply).error();
      send(encode_negentropy(*reply));
      return {};
    }
    if (offers_closed) return protocol_error("a Negentropy message after reconciliation ended");
    std::vector<std::string> have, need;
    auto next = recon->reconciler->reconcile(body, have, need);
    if (!next) return std::move(next).error();
    ++stats.round_trips;
    // What we have and the peer lacks is offered now, before the requests
    // for what we lack: the peer, answering a request, then already knows
    // whether our version of that block makes its own unnecessary.
    // With a frame limit Negentropy may report an id in more than one
    // round: each is offered (or requested) once.
    std::erase_if(have, [&](const std::string& h) { return !recon->reported.insert(h).second; });
    std::erase_if(need, [&](const std::string& h) { return !recon->reported.insert(h).second; });
    std::vector<Block> rows;
    for (const auto& hash : have) {
      auto seq = recon->seq_of(hash);
      if (!seq) return make_error(Code::failure, "Negentropy reported a version we do not hold");
      auto b = store.get_by_seq(*seq, false);
      if (!b) return std::move(b).error();
      if (*b) rows.push_back(std::move(**b));  // else superseded since: a later change
    }
    if (!rows.empty()) send_offers(rows);
    if (!need.empty()) {
      requests_sent = true;
      // Requests stay well under the record limit: 32 bytes per hash.
      for (std::size_t i = 0; i < need.size(); i += 8192) {
        std::vector<std::string> part(
            need.begin() + static_cast<std::ptrdiff_t>(i),
            need.begin() + static_cast<std::ptrdiff_t>(std::min(need.size(), i + 8192)));
        send(encode_request(part));
      }
    }
    if (*next) {
      send(encode_negentropy(**next));
    } else {
      offers_closed = true;
      if (requests_sent) ++stats.round_trips;
      send(encode_request_end());
    }
    return {};
  }

  Result<void> on_request(std::string_view body) {
    if (!reconciling || role != Role::responder || offers_closed)
      return protocol_error("an unexpected request");
    auto hashes = decode_request(body);
    if (!hashes) return std::move(hashes).error();
    for (const auto& hash : *hashes) {
      auto seq = recon->seq_of(hash);
      if (!seq) return protocol_error("a request for a version we never had");
      to_offer.push_back(*seq);
    }
    return {};
  }

  // Reconciling, answering a request: the peer lacks this version of ours.
  // If it offered us one that dominates it (or the same history), ours is
  // of no use to it; otherwise it goes whole, blob inline, with no wants
  // round trip.
  bool peer_needs(const Block& ours) const {
    auto it = peer_offered.find(ours.id);
    if (it == peer_offered.end()) return true;
    auto c = compare_versions(it->second, ours.versions);
    return c != Causality::after && c != Causality::equal;
  }

  // --- source ---------------------------------------------------------

  bool source_done() const { return final_mark_sent && unacked_offers == 0 && answers.empty(); }

  void sort_for_offer(std::vector<Block>& rows) const {
    auto priority = [&](const Block& b) {
      auto it = opt.type_priority.find(b.type);
      return it == opt.type_priority.end() ? 0 : it->second;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Block& a, const Block& b) {
      int pa = priority(a), pb = priority(b);
      if (pa != pb) return pa > pb;
      if (a.modified_at != b.modified_at) return a.modified_at > b.modified_at;
      return a.seq > b.seq;  // the same millisecond: the later commit first
    });
  }

  // Offers `rows` in as many messages as their size needs.
  void send_offers(std::vector<Block>& rows, bool blobs_inline = false) {
    sort_for_offer(rows);
    OffersBuilder builder;
    std::vector<std::int64_t> seqs;
    auto flush = [&] {
      if (builder.count() == 0) return;
      send(builder.finish());
      offered.push_back(std::move(seqs));
      seqs.clear();
      ++unacked_offers;
    };
    for (auto& b : rows) {
      Offer o{b.seq, blobs_inline || inline_blobs || b.deleted(), std::move(b)};
      builder.add(o);
      seqs.push_back(o.seq);
      ++stats.offered;
      if (o.blob_inline && !o.block.deleted()) ++stats.blobs_sent;
      if (builder.bytes() >= opt.message_bytes) flush();
    }
    flush();
  }

  void send_mark(Mark m) {
    send(encode_mark(m));
    if (m.final) final_mark_sent = true;
    if (m.phase_end) phase_end_sent = true;
  }

  // One window of offers; false if there was nothing to offer now.
  Result<bool> offer_window() {
    std::vector<Block> rows;
    if (reconciling) {
      // Only the answering side has a queue: requested versions, whole.
      std::size_t bytes = 0;
      while (!to_offer.empty() && rows.size() < opt.window && bytes < opt.batch_bytes) {
        auto b = store.get_by_seq(to_offer.front(), true);
        if (!b) return std::move(b).error();
        to_offer.pop_front();
        // Superseded since the reconciliation began: the newer version is
        // a later change, offered by the next sync.
        if (!*b) continue;
        if (!peer_needs(**b)) {
          ++stats.skipped;
          continue;
        }
        bytes += (*b)->blob.size();
        rows.push_back(std::move(**b));
      }
      if (!rows.empty()) {
        send_offers(rows, /*blobs_inline=*/true);
        return true;
      }
      if (!offers_closed) return false;
      // Everything the peer lacked of our snapshot has been offered; what
      // changed since is offered as in the cursor path.
      reconciling = false;
      scan_after = scan_up_to = my_snapshot;
      if (watch) {  // the cursor moves; then polling takes over
        send_mark(Mark{.seq = my_snapshot});
        return true;
      }
    }
    if (scan_after >= scan_up_to) return end_of_range();
    ChangeScan scan{.after = scan_after,
                    .up_to = scan_up_to,
                    .limit = opt.window,
                    .blobs = inline_blobs,
                    .skip_received_from = peer_id};
    // With blobs inline a window also ends at batch_bytes, so big blobs
    // never pile up in memory.
    std::size_t bytes = 0;
    bool cut = false;
    BLK_TRY(store.scan_changes(scan, [&](const Block& b) {
      bytes += b.blob.size();
      rows.push_back(b);
      cut = bytes >= opt.batch_bytes;
      return !cut;
    }));
    // A short window reached the end (the limit counts rows after the scan
    // left out what the peer sent us).
    std::int64_t covered = cut || rows.size() == opt.window ? rows.back().seq : scan_up_to;
    send_offers(rows);
    scan_after = covered;
    send_mark(Mark{.seq = covered});
    return true;
  }

  // Everything up to scan_up_to has been offered. A sync (not watch) then
  // has two more steps: the phase end for our snapshot; then, once we have
  // committed the peer's phase end (so whatever we merged of its changes is
  // here), what changed here since the snapshot -- those merges, which the
  // peer lacks, and commits made meanwhile; rows the peer sent are left out
  // -- and the final mark. So a completed sync leaves both sides equal.
  Result<bool> end_of_range() {
    if (watch || final_mark_sent) return false;
    if (!phase_end_sent) {
      send_mark(Mark{.seq = scan_up_to, .phase_end = true});
      return true;
    }
    if (!peer_phase_ended) return false;
    if (!after_snapshot_scanned) {
      after_snapshot_scanned = true;
      auto max = store.max_seq();
      if (!max) return std::move(max).error();
      if (*max > scan_up_to) {
        scan_up_to = *max;
        return true;
      }
    }
    send_mark(Mark{.seq = scan_up_to, .final = true});
    return true;
  }

  Result<void> answer_wants(std::size_t& budget) {
    BlobsBuilder builder;
    while (!answers.empty() && budget > 0) {
      std::int64_t seq = answers.front();
      auto b = store.get_by_seq(seq, true);
      if (!b) return std::move(b).error();
      answers.pop_front();
      if (*b) ++stats.blobs_sent;
      builder.add(seq, *b ? std::optional<std::string>(std::move((*b)->blob)) : std::nullopt);
      if (builder.bytes() >= opt.message_bytes) {
        budget -= std::min(budget, builder.bytes());
        send(builder.finish());
      }
    }
    if (builder.count() > 0) {
      budget -= std::min(budget, builder.bytes());
      send(builder.finish());
    }
    return {};
  }

  Result<void> pump(Millis now) {
    if (!peer) return {};
    std::size_t budget = opt.pump_bytes;
    BLK_TRY(answer_wants(budget));
    if (watch && !reconciling && now >= next_poll) {
      next_poll = now + opt.poll_interval;
      auto max = store.max_seq();
      if (!max) return std::move(max).error();
      scan_up_to = std::max(scan_up_to, *max);
    }
    while (budget > 0 && unacked_offers < opt.max_unacked_offers) {
      auto before = stats.bytes_sent;
      auto more = offer_window();
      if (!more) return std::move(more).error();
      if (!*more) break;
      budget -= std::min(budget, static_cast<std::size_t>(stats.bytes_sent - before));
    }
    return {};
  }

  Result<void> on_wants(std::string_view body) {
    auto seqs = decode_wants(body);
    if (!seqs) return std::move(seqs).error();
    if (offered.empty()) return protocol_error("wants for nothing offered");
    const auto& was_offered = offered.front();
    // Each wanted seq must come from the offers message this answers, in order.
    std::size_t i = 0;
    for (auto seq : *seqs) {
      while (i < was_offered.size() && was_offered[i] != seq) ++i;
      if (i == was_offered.size()) return protocol_error("a want for a version not offered");
      answers.push_back(seq);
      ++i;
    }
    offered.pop_front();
    --unacked_offers;
    return {};
  }

  // --- sink -----------------------------------------------------------

  Result<void> on_offers(std::string_view body) {
    auto offers = decode_offers(body);
    if (!offers) return std::move(offers).error();
    std::vector<std::int64_t> want;
    for (auto& o : *offers) {
      if (reconciling && role == Role::responder)
        peer_offered[o.block.id] = o.block.versions;  // see peer_needs
      if (o.blob_inline || o.block.deleted()) {
        BLK_TRY(receive_version(std::move(o.block), o.seq));
        continue;
      }
      auto local = store.get(o.block.id);
      if (!local) return std::move(local).error();
      // Want it unless we hold it already or something that dominates it.
      // (Equal vectors with different hashes are merged, so wanted.)
      if (*local && ((*local)->version_hash == o.block.version_hash ||
                     compare_versions(o.block.versions, (*local)->versions) == Causality::before)) {
        ++stats.skipped;
        continue;
      }
      want.push_back(o.seq);
      wanted.push_back(std::move(o));
    }
    if (!want.empty() && wants_issued == 0) ++stats.round_trips;  // offers, wants, blobs
    wants_issued += want.size();
    send(encode_wants(want));
    return {};
  }

  Result<void> on_blobs(std::string_view body) {
    auto replies = decode_blobs(body);
    if (!replies) return std::move(replies).error();
    for (auto& r : *replies) {
      if (wanted.empty()) return protocol_error("a blob nobody asked for");
      Offer o = std::move(wanted.front());
      wanted.pop_front();
      ++blobs_received;
      if (!r.present) continue;  // superseded at the peer: its newer version comes later
      if (r.seq != o.seq) return protocol_error("blobs out of order");
      o.block.blob = std::move(r.blob);
      BLK_TRY(receive_version(std::move(o.block), o.seq));
    }
    return advance_marks();
  }

  Result<void> receive_version(Block b, std::int64_t peer_seq) {
    batch_bytes += b.blob.size() + 256;
    batch.push_back(Received{std::move(b), peer_seq});
    if (batch.size() >= opt.batch_versions || batch_bytes >= opt.batch_bytes)
      return commit(std::nullopt);
    return {};
  }

  Result<void> on_mark(std::string_view body) {
    auto m = decode_mark(body);
    if (!m) return std::move(m).error();
    if (sink_done) return protocol_error("a mark after the final one");
    marks.push_back(PendingMark{*m, wants_issued});
    return advance_marks();
  }

  Result<void> advance_marks() {
    while (!marks.empty() && blobs_received >= marks.front().wants_before) {
      Mark m = marks.front().mark;
      marks.pop_front();
      BLK_TRY(commit(m.seq));
      if (m.phase_end) peer_phase_ended = true;
      if (m.final) sink_done = true;
    }
    return {};
  }

  // Commits the batch; with `cursor`, also moves our cursor for the peer
  // there (but never past a version we refused: it must be offered again).
  Result<void> commit(std::optional<std::int64_t> cursor) {
    if (cursor && first_refused) cursor = std::min(*cursor, *first_refused - 1);
    bool move_cursor = cursor && (state.epoch != peer->epoch || *cursor > state.cursor ||
                                  (stats.reconciled && *cursor != state.cursor));
    if (batch.empty() && !move_cursor) return {};
    auto tx = store.begin();
    if (!tx) return std::move(tx).error();
    // The batch's merges go to the merge worker together, not one round
    // trip each (Transaction::prepare_merges).
    std::vector<const Block*> remotes;
    remotes.reserve(batch.size());
    for (const auto& r : batch) remotes.push_back(&r.block);
    (*tx)->prepare_merges(remotes);
    for (auto& r : batch) {
      auto outcome = (*tx)->apply(r.block, peer_id);
      if (!outcome) return std::move(outcome).error();
      switch (*outcome) {
        case ApplyOutcome::inserted:
        case ApplyOutcome::fast_forward:
          ++stats.versions_received;
          break;
        case ApplyOutcome::merged:
          ++stats.merged;
          break;
        case ApplyOutcome::already_have:
        case ApplyOutcome::ignored_older:
          ++stats.skipped;
          break;
        case ApplyOutcome::held:
          ++stats.held;
          break;
        case ApplyOutcome::denied:
          ++stats.denied;
          break;
        case ApplyOutcome::refused_future:
          ++stats.refused;
          if (!first_refused || r.peer_seq < *first_refused) first_refused = r.peer_seq;
          break;
      }
    }
    if (cursor && first_refused) cursor = std::min(*cursor, *first_refused - 1);
    move_cursor = cursor && (state.epoch != peer->epoch || *cursor > state.cursor ||
                             (stats.reconciled && *cursor != state.cursor));
    if (move_cursor)
      BLK_TRY((*tx)->set_cursor(peer_id, peer->epoch, *cursor, /*replace=*/stats.reconciled));
    BLK_TRY((*tx)->commit());
    if (move_cursor) {
      state.epoch = peer->epoch;
      state.cursor = *cursor;
    }
    batch.clear();
    batch_bytes = 0;
    return {};
  }

  Result<void> receive(std::string_view message, Millis now) {
    stats.bytes_received += static_cast<std::int64_t>(message.size());
    auto in = parse(message);
    if (!in) return std::move(in).error();
    if (!peer && in->type != MessageType::hello) return protocol_error("no hello first");
    switch (in->type) {
      case MessageType::hello: {
        auto h = decode_hello(in->body);
        if (!h) return std::move(h).error();
        return on_hello(std::move(*h), now);
      }
      case MessageType::negentropy:
        BLK_TRY(on_negentropy(in->body));
        break;
      case MessageType::request:
        BLK_TRY(on_request(in->body));
        break;
      case MessageType::request_end:
        if (!reconciling || role != Role::responder || offers_closed)
          return protocol_error("an unexpected request end");
        offers_closed = true;
        break;
      case MessageType::offers:
        BLK_TRY(on_offers(in->body));
        break;
      case MessageType::wants:
        BLK_TRY(on_wants(in->body));
        break;
      case MessageType::blobs:
        BLK_TRY(on_blobs(in->body));
        break;
      case MessageType::mark:
        BLK_TRY(on_mark(in->body));
        break;
    }
    return pump(now);
  }
};

Session::Session(Store& store, std::string peer_machine_id, Role role, Options options)
    : impl_(std::make_unique<Impl>(store, std::move(peer_machine_id), role, std::move(options))) {}
Session::~Session() = default;

Result<void> Session::start(Millis now) {
  return impl_->start(now);
}
Result<void> Session::receive(std::string_view message, Millis now) {
  return impl_->receive(message, now);
}
Result<void> Session::pump(Millis now) {
  return impl_->pump(now);
}

std::vector<std::string> Session::take_messages() {
  std::vector<std::string> out(std::make_move_iterator(impl_->outbox.begin()),
                               std::make_move_iterator(impl_->outbox.end()));
  impl_->outbox.clear();
  return out;
}
bool Session::has_messages() const {
  return !impl_->outbox.empty();
}

bool Session::done() const {
  return impl_->peer && !impl_->watch && impl_->sink_done && impl_->source_done();
}

bool Session::watching() const {
  return impl_->watch;
}

Millis Session::next_wakeup() const {
  // Polling starts once reconciliation (if any) is over.
  return impl_->watch && !impl_->reconciling ? impl_->next_poll : INT64_MAX;
}

Result<void> Session::flush() {
  if (!impl_->peer) return {};
  return impl_->commit(std::nullopt);
}

const Stats& Session::stats() const {
  return impl_->stats;
}
std::int64_t Session::peer_has() const {
  // Once done, the peer has committed everything up to our snapshot (it
  // finished only after our final mark); before, what its hello said.
  if (done()) return impl_->my_snapshot;
  const auto& p = impl_->peer;
  return p && p->cursor_epoch == impl_->me.epoch ? p->cursor : 0;
}

}  // namespace blk::sync

namespace blk::sync {
namespace {
std::string human_bytes(std::int64_t bytes) {
  auto n = static_cast<double>(bytes);
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (n < 1000 * 1000) return fmt::format("{:.1f} KB", n / 1e3);
  if (n < 1000 * 1000 * 1000) return fmt::format("{:.1f} MB", n / 1e6);
  return fmt::format("{:.2f} GB", n / 1e9);
}
}  // namespace

std::string summary(const Stats& s) {
  std::string out = fmt::format("received {}, sent {}", s.versions_received, s.offered);
  if (s.merged) out += fmt::format(", merged {}", s.merged);
  if (s.refused) out += fmt::format(", refused {} (clock too far ahead)", s.refused);
  if (s.held) out += fmt::format(", held {} (no plugin could merge them)", s.held);
  if (s.denied) out += fmt::format(", denied {} (not theirs to write)", s.denied);
  out += fmt::format(", {} in, {} out", human_bytes(s.bytes_received), human_bytes(s.bytes_sent));
  if (s.reconciled) out += ", reconciled";
  return out;
}

std::string stats_json(const Stats& s) {
  return fmt::format(
      "\"received\":{},\"merged\":{},\"skipped\":{},\"refused\":{},\"held\":{},"
      "\"denied\":{},\"offered\":{},\"blobs_sent\":{},\"bytes_in\":{},\"bytes_out\":{},"
      "\"round_trips\":{},\"reconciled\":{}",
      s.versions_received, s.merged, s.skipped, s.refused, s.held, s.denied, s.offered,
      s.blobs_sent, s.bytes_received, s.bytes_sent, s.round_trips, s.reconciled ? "true" : "false");
}

}  // namespace blk::sync
