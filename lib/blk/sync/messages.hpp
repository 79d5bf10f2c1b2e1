// The sync messages (blk-protocol(7), "Sync"): what two stores say to each
// other over an established channel. Each is one channel message: a varint
// type (16 and up; below 16 is the channel's own) and a body encoded here.
// Decoders never trust the peer: a malformed body is Code::failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blk/block.hpp"
#include "blk/error.hpp"

namespace blk::sync {

enum class MessageType : std::uint64_t {
  hello = 16,        // who we are, what we hold, where we think the peer is
  negentropy = 17,   // a Negentropy V1 message, as is
  offers = 18,       // versions we hold (metadata, blobs inline if asked)
  wants = 19,        // reply to each offers: which of its versions to send
  blobs = 20,        // the blobs of wanted versions, in the order wanted
  mark = 21,         // every version up to this seq has been offered
  request = 22,      // reconciliation: offer me these version hashes
  request_end = 23,  // reconciliation: no more requests
};

inline constexpr std::uint8_t kSyncVersion = 1;

struct Hello {
  std::uint8_t version = kSyncVersion;
  std::string epoch;         // our store's epoch
  std::int64_t max_seq = 0;  // our highest seq when the sync started
  bool full = false;         // reconcile everything, ignore cursors
  bool watch = false;        // stay connected and stream new commits
  // The sender (the dialler, with no cursor for the peer or --full) sends
  // Negentropy's first message right after the hello instead of waiting a
  // round trip for the decision; ignored by a peer that decides otherwise.
  bool negentropy_follows = false;
  std::string cursor_epoch;  // the peer's epoch our cursor belongs to ("" none)
  std::int64_t cursor = 0;   // highest of the peer's seqs we hold
};

// One offered version. `seq` is the sender's seq for it: wants and blobs
// refer to it. blob_inline says whether block.blob is the real blob; if not,
// a live block's blob must be wanted.
struct Offer {
  std::int64_t seq = 0;
  bool blob_inline = false;
  Block block;
};

// A blob sent for a want. `present` is false if the version was superseded
// since it was offered (the newer one is offered later).
struct BlobReply {
  std::int64_t seq = 0;
  bool present = false;
  std::string blob;
};

struct Mark {
  std::int64_t seq = 0;
  bool final = false;  // nothing more will be offered in this sync
  // The end of what we held when the sync started. After it, once we have
  // committed the peer's own phase end, we offer what changed here during
  // the sync (merges of what it sent) and then the final mark.
  bool phase_end = false;
};

std::string encode(const Hello&);
std::string encode_mark(const Mark&);
std::string encode_negentropy(std::string_view negentropy_message);
std::string encode_request(const std::vector<std::string>& hashes);
std::string encode_request_end();
std::string encode_wants(const std::vector<std::int64_t>& seqs);

// Offers and blobs are built up one entry at a time, up to a size.
class OffersBuilder {
 public:
  void add(const Offer& offer);
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return body_.size(); }
  std::string finish();  // the message; the builder is empty again

 private:
  std::string body_;
  std::size_t count_ = 0;
};

class BlobsBuilder {
 public:
  void add(std::int64_t seq, const std::optional<std::string>& blob);
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return body_.size(); }
  std::string finish();

 private:
  std::string body_;
  std::size_t count_ = 0;
};

// A decoded message: `type` plus its body, decoded by the matching function.
struct Incoming {
  MessageType type;
  std::string_view body;
};
Result<Incoming> parse(std::string_view message);

Result<Hello> decode_hello(std::string_view body);
Result<Mark> decode_mark(std::string_view body);
Result<std::vector<std::string>> decode_request(std::string_view body);
Result<std::vector<std::int64_t>> decode_wants(std::string_view body);
Result<std::vector<Offer>> decode_offers(std::string_view body);
Result<std::vector<BlobReply>> decode_blobs(std::string_view body);

}  // namespace blk::sync
