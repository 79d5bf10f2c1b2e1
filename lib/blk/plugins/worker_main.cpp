// `blk __merge-worker`: the long-lived process that runs merge plugins for
// blk, so that a plugin that crashes or hangs takes down only this process
// (worker.hpp starts it). It answers frames on descriptor 0 until EOF.
//
// A merge's request is read where blk put it: in the request ring
// (shared_ring.hpp), or else in one buffer kept from merge to merge. The
// plugin gets its blobs where they are. The merged blob goes to the room
// blk set aside for it in the reply ring, or else into the reply, built in
// another kept buffer.
#include <signal.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <deque>

#include "blk/merge_plugin.h"
#include "blk/plugins/shared_ring.hpp"
#include "blk/plugins/worker.hpp"
#include "blk/plugins/worker_protocol.hpp"

namespace blk::plugins {
namespace {

// A version for the plugin from a request's views: the strings copied to
// be NUL-terminated (into strings kept for the next request), the blob not.
struct VersionStrings {
  std::string id, type, modified_by;

  blk_version view(const wire::VersionView& v) {
    id.assign(v.id);
    type.assign(v.type);
    modified_by.assign(v.modified_by);
    blk_version out{};
    out.id = id.c_str();
    out.type = type.c_str();
    out.created_at = v.created_at;
    out.modified_at = v.modified_at;
    out.modified_by = modified_by.c_str();
    out.schema = v.schema;
    out.blob = reinterpret_cast<const std::uint8_t*>(v.blob.data());
    out.blob_size = v.blob.size();
    return out;
  }
};

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace

int run_merge_worker(int fd, int requests_fd, int replies_fd) {
  // blk closing the socket ends us; a write to it then must not kill us
  // with SIGPIPE before we notice (send uses MSG_NOSIGNAL; this is for
  // anything a plugin does).
  signal(SIGPIPE, SIG_IGN);
  std::deque<LoadedPlugin> slots;  // deque: slots never move
  wire::FrameReader in(fd);
  std::string_view body;
  std::string reply, pending;  // pending: replies not written yet
  constexpr std::size_t kBatchBytes = 64 * 1024;
  constexpr std::int64_t kBatchNs = 2'000'000;  // 2 ms
  std::int64_t last_write = now_ns();
  std::size_t answered = 0;  // bytes of the requests answered since the last write
  wire::MergeRequestView m;
  VersionStrings sa, sb;
  MergeScratch scratch;
  SharedMapping requests(requests_fd, false), replies(replies_fd, true);
  wire::SharedRequest shared;
  while (in.next(body)) {
    wire::start_frame(reply);
    shared.reply_room = 0;  // an 'M' request's blob goes in the reply
    if (wire::decode_shared_request(body, shared)) {
      auto request = requests.at(shared.offset, shared.size);
      if (!request) return 2;  // not in the ring: not blk
      body = *request;
    }
    if (wire::decode_merge_request(body, m)) {
      if (m.slot >= slots.size()) {
        wire::append_merge_reply(reply, BLK_MERGE_FAILED, 0, {}, "no plugin loaded in that slot");
      } else {
        blk_version a = sa.view(m.a), b = sb.view(m.b);
        MergeView r = slots[m.slot].merge(a, b, scratch);
        char* room = r.blob.size() <= shared.reply_room
                         ? replies.writable_at(shared.reply_offset, r.blob.size())
                         : nullptr;
        if (room) {
          if (!r.blob.empty()) std::memcpy(room, r.blob.data(), r.blob.size());
          wire::append_shared_reply(reply, r.status, r.schema, r.blob.size(), r.error);
        } else {
          wire::append_merge_reply(reply, r.status, r.schema, r.blob, r.error);
        }
      }
      scratch.release();  // the plugin's blocks, now copied
    } else if (auto path = wire::decode_load_request(body)) {
      wire::LoadReply r;
      auto loaded = LoadedPlugin::load(*path);
      if (loaded) {
        r.ok = true;
        r.slot = static_cast<std::uint32_t>(slots.size());
        r.info = loaded->info();
        slots.push_back(std::move(*loaded));
      } else {
        r.error = loaded.error().message;
      }
      reply += wire::encode(r);
    } else {
      return 2;  // not our protocol: nothing sensible to answer
    }
    if (!wire::end_frame(reply)) return 1;
    // Requests that came together (a pipelined batch: Worker::merge_many)
    // are answered together: one write, and one wakeup for blk, for
    // several. Never while waiting for a request; for at most kBatchNs
    // since the last write, so that a reply is not held back long past the
    // deadline blk gives each reply (a slow merge comes after at most
    // kBatchNs of held replies); and for requests of at most a quarter of
    // what blk keeps in flight, so that blk sends more while we merge the
    // rest (replies through the reply ring are a few bytes: their size
    // alone would hold them all, and the worker would wait for blk).
    answered += body.size();  // the request, wherever it was
    if (in.buffered() && pending.size() + reply.size() < kBatchBytes &&
        answered < Worker::kPipelineBytes / 4 && now_ns() - last_write < kBatchNs) {
      pending += reply;
      continue;
    }
    if (!pending.empty()) {
      pending += reply;
      if (!wire::write_all(fd, pending)) return 1;
      pending.clear();
    } else if (!wire::write_all(fd, reply)) {
      return 1;
    }
    last_write = now_ns();
    answered = 0;
    if (reply.capacity() > (1 << 20)) std::string().swap(reply);  // a big one is not kept
    if (pending.capacity() > (1 << 20)) std::string().swap(pending);
  }
  return 0;
}

}  // namespace blk::plugins
