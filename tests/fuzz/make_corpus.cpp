// make_corpus: writes the seed corpora of the fuzz targets, small real
// inputs, into OUT/<target>/ (scripts/fuzz --make-corpus; the files are
// committed under tests/fuzz/corpus/). Deterministic: the same build writes
// the same bytes, so scripts/fuzz --replay can tell when a protocol change
// has made the committed transcripts stale.
//
//   make_corpus OUT SOURCE_ROOT
//
// The handshake transcripts are real: both sides are blk::wire::Handshake
// objects run in memory with the targets' fixed keys and deterministic
// randomness (fuzz_common.hpp), so a target replaying one finishes the
// handshake exactly as the real peer would have made it.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "blk/block.hpp"
#include "blk/block_json.hpp"
#include "blk/manifest.hpp"
#include "blk/sync/messages.hpp"
#include "blk/sync/negentropy.hpp"
#include "blk/wire/message.hpp"
#include "blk/wire/records.hpp"
#include "fuzz_common.hpp"

using namespace blk;
using namespace blk::wire;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, std::string_view bytes) {
  fs::create_directories(g_out / target);
  std::ofstream f(g_out / target / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::cerr << "make_corpus: cannot write " << (g_out / target / name) << "\n";
    std::exit(1);
  }
}

std::string u16(std::uint16_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

void require(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "make_corpus: " << what << "\n";
    std::exit(1);
  }
}

// ---- hello ----

void hellos() {
  put("hello", "v1", encode_hello({1}));
  put("hello", "v1-v2", encode_hello({1, 2}));
  put("hello", "v0-v1-v7", encode_hello({0, 1, 7}));
  put("hello", "eight-versions", encode_hello({1, 2, 3, 4, 5, 6, 7, 0xffff}));
  put("hello", "v2-only", encode_hello({2}));
  put("hello", "magic-only", "blk!");
  put("hello", "partial", encode_hello({1, 2}).substr(0, 7));
  put("hello", "with-msg1", encode_hello({1}) + std::string(32, '\x09'));
  put("hello", "not-ascending", std::string("blk!\x02", 5) + u16(2) + u16(1));
  put("hello", "nine-versions", std::string("blk!\x09", 5) + std::string(18, '\x01'));
  put("hello", "http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

// ---- handshakes ----

// The initiator's side written from man 7 blk-protocol alone, not with
// blk::wire::Handshake: it runs against a real responder (made right after
// rng_reset(0), as in the target) and returns hello_I || msg1 || msg3, with
// msg3 claiming `claimed`'s key, signed with `signer`'s. It checks the page against the code (for
// the genuine initiator it must give the library's bytes) and makes what the library's initiator
// never sends: a proof with the responder's own key.
std::string initiator_from_spec(const unsigned char eph_secret[32], const KeyPair& claimed,
                                const KeyPair& signer) {
  auto H = [](std::string_view key, std::string_view m) {
    unsigned char h[32];
    crypto_generichash(h, 32, reinterpret_cast<const unsigned char*>(m.data()), m.size(),
                       reinterpret_cast<const unsigned char*>(key.data()), key.size());
    return std::string(reinterpret_cast<char*>(h), 32);
  };
  auto ustr = [](const unsigned char* p, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(p), n);
  };
  unsigned char e_pub[32];
  crypto_scalarmult_base(e_pub, eph_secret);
  std::string hello_i = encode_hello({1});
  std::string msg1 = ustr(e_pub, 32);

  fuzz::rng_reset(0);
  Handshake r(fuzz::config(wire::Role::responder, fuzz::responder_keys(), fuzz::initiator_keys()));
  std::string from_r = r.take_output();
  require(bool(r.feed(hello_i + msg1)), "the responder refused a spec msg1");
  from_r += r.take_output();
  std::size_t hello_r_size = *hello_size(from_r);
  std::string hello_r = from_r.substr(0, hello_r_size);
  std::string msg2 = from_r.substr(hello_r_size);
  require(msg2.size() == Handshake::kMsg2Size, "msg2 size");

  std::string T = "blk handshake v1" + hello_i + hello_r + msg1 + msg2.substr(0, 32);
  std::string H1 = H("", T), H2 = H("", T + msg2);
  unsigned char shared[32];
  require(crypto_scalarmult(shared, eph_secret,
                            reinterpret_cast<const unsigned char*>(msg2.data())) == 0,
          "X25519");
  std::string hs = H(ustr(shared, 32), H1);
  unsigned char k2[32], k3[32];
  crypto_kdf_derive_from_key(k2, 32, 1, "blk-hsk1",
                             reinterpret_cast<const unsigned char*>(hs.data()));
  crypto_kdf_derive_from_key(k3, 32, 2, "blk-hsk1",
                             reinterpret_cast<const unsigned char*>(hs.data()));
  const unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {};

  // Check msg2 as the page says: pkR || Sign(skR, "blk-v1 responder" || H1).
  unsigned char proof[Handshake::kProofSize];
  require(
      crypto_aead_xchacha20poly1305_ietf_decrypt(
          proof, nullptr, nullptr, reinterpret_cast<const unsigned char*>(msg2.data()) + 32,
          msg2.size() - 32, reinterpret_cast<const unsigned char*>(H1.data()), 32, nonce, k2) == 0,
      "msg2 does not open as the protocol page says");
  std::string signed_r = "blk-v1 responder" + H1;
  require(std::memcmp(proof, fuzz::responder_keys().public_key.data(), 32) == 0 &&
              crypto_sign_verify_detached(proof + 32,
                                          reinterpret_cast<const unsigned char*>(signed_r.data()),
                                          signed_r.size(), proof) == 0,
          "msg2's proof is not as the protocol page says");

  // msg3 = Seal(k3, H2, pk || Sign(sk, "blk-v1 initiator" || H2)).
  std::string to_sign = "blk-v1 initiator" + H2;
  std::memcpy(proof, claimed.public_key.data(), 32);
  crypto_sign_detached(proof + 32, nullptr, reinterpret_cast<const unsigned char*>(to_sign.data()),
                       to_sign.size(), signer.secret_key.data());
  std::string msg3(Handshake::kMsg3Size, '\0');
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(msg3.data()), nullptr, proof, sizeof proof,
      reinterpret_cast<const unsigned char*>(H2.data()), 32, nullptr, nonce, k3);
  return hello_i + msg1 + msg3;
}

void handshakes() {
  const KeyPair& I = fuzz::initiator_keys();
  const KeyPair& R = fuzz::responder_keys();
  const KeyPair& S = fuzz::stranger_keys();

  // The responder under test (R, accepting only I).
  auto g = fuzz::run_handshake(true, I, R, R, I);
  require(g.ok, "the genuine handshake failed");
  put("handshake_responder", "genuine", g.to_responder);
  put("handshake_responder", "genuine-then-records", g.to_responder + std::string(45, '\x5a'));
  put("handshake_responder", "hello-and-msg1", g.to_responder.substr(0, 7 + 32));
  auto v12 = fuzz::run_handshake(true, I, R, R, I, {1, 2});
  require(v12.ok, "the v1,v2 handshake failed");
  put("handshake_responder", "genuine-hello-v1-v2", v12.to_responder);
  auto stranger = fuzz::run_handshake(true, S, R, R, I);
  require(!stranger.ok && stranger.to_responder.size() == g.to_responder.size(),
          "the stranger's handshake should be refused at the last step");
  put("handshake_responder", "stranger", stranger.to_responder);
  // The same from the protocol page: byte for byte the library's.
  unsigned char eph[32];
  fuzz::rng_reset(1000);  // where run_handshake's initiator drew its secret
  fuzz::rng_buf(eph, sizeof eph);
  require(initiator_from_spec(eph, I, I) == g.to_responder,
          "the initiator written from man 7 blk-protocol differs from the library");
  // Our own key coming back (reflection): only a spec-built initiator sends it.
  put("handshake_responder", "reflected", initiator_from_spec(eph, R, R));
  put("handshake_responder", "bad-signature", initiator_from_spec(eph, I, S));
  put("handshake_responder", "low-order-msg1", encode_hello({1}) + std::string(32, '\0'));
  put("handshake_responder", "no-common-version", encode_hello({2, 3}) + std::string(32, '\x09'));

  // The initiator under test (I, accepting only R).
  auto h = fuzz::run_handshake(false, I, R, R, I);
  require(h.ok, "the genuine handshake (initiator) failed");
  put("handshake_initiator", "genuine", h.to_initiator);
  put("handshake_initiator", "genuine-then-records", h.to_initiator + std::string(45, '\x5a'));
  auto r15 = fuzz::run_handshake(false, I, R, R, I, {}, {1, 5});
  require(r15.ok, "the v1,v5 handshake failed");
  put("handshake_initiator", "genuine-hello-v1-v5", r15.to_initiator);
  auto strange_r = fuzz::run_handshake(false, I, R, S, I);
  require(!strange_r.ok, "a stranger responder should be refused");
  put("handshake_initiator", "stranger", strange_r.to_initiator);
  put("handshake_initiator", "hello-only", h.to_initiator.substr(0, 7));
  put("handshake_initiator", "low-order-msg2",
      encode_hello({1}) + std::string(Handshake::kMsg2Size, '\0'));
  put("handshake_initiator", "no-common-version", encode_hello({2}));
}

// ---- records ----

// A genuine stream under the targets' key.
std::string stream_of(const std::vector<std::string>& payloads, bool final) {
  fuzz::rng_reset(0);
  RecordWriter w(fuzz::record_key());
  std::string out = w.take_header();
  for (std::size_t i = 0; i < payloads.size(); ++i)
    require(bool(w.write(payloads[i], final && i + 1 == payloads.size(), out)), "write");
  return out;
}

// The input of modes 1-3: flags, chunk sizes, position, mask, records.
std::string spec(unsigned mode, bool final, const std::vector<unsigned char>& sizes,
                 std::uint16_t pos, unsigned char mask, const std::vector<std::string>& records) {
  std::string s;
  s += static_cast<char>(mode | (final ? 4 : 0));
  s += static_cast<char>(sizes.size());
  for (auto c : sizes) s += static_cast<char>(c);
  s += u16(pos);
  s += static_cast<char>(mask);
  for (const auto& r : records) {
    s += static_cast<char>(r.size());
    s += r;
  }
  return s;
}

void records() {
  std::string ping = encode_message(MessageType::ping, "12345678");
  std::string pong = encode_message(MessageType::pong, "12345678");
  std::string big(200, 'b');
  std::vector<std::string> session = {ping, "", pong, big};
  // Mode 0: raw streams as a peer sends them, with chunk sizes.
  auto raw = [](const std::vector<unsigned char>& sizes, std::string_view stream) {
    std::string s;
    s += '\0';
    s += static_cast<char>(sizes.size());
    for (auto c : sizes) s += static_cast<char>(c);
    s += stream;
    return s;
  };
  std::string full = stream_of(session, true);
  put("records", "raw-session-final", raw({}, full));
  put("records", "raw-session-chunks", raw({1, 7, 21, 0}, full));
  put("records", "raw-open-ended", raw({24, 21}, stream_of(session, false)));
  put("records", "raw-header-only", raw({}, stream_of({}, false)));
  put("records", "raw-keepalives", raw({3}, stream_of({"", "", ""}, false)));
  put("records", "raw-final-then-junk", raw({}, full + "junk"));
  put("records", "raw-cut", raw({5}, full.substr(0, full.size() - 9)));
  // Modes 1-3: genuine streams made by the target, intact, flipped, cut.
  put("records", "genuine", spec(1, true, {}, 0, 0, session));
  put("records", "genuine-chunks", spec(1, false, {1, 2, 3, 0}, 0, 0, session));
  put("records", "flip-header", spec(2, true, {}, 3, 0x80, session));
  put("records", "flip-length", spec(2, true, {7}, 24 + 2, 1, session));
  put("records", "flip-body", spec(2, true, {}, 24 + 21 + 4, 0x10, session));
  put("records", "flip-final-tag", spec(2, true, {}, 400, 0x01, session));
  put("records", "cut-mid-record", spec(3, true, {9}, 60, 0, session));
  put("records", "cut-at-boundary", spec(3, true, {}, 24 + 21 + 9 + 17, 0, session));
}

// ---- block JSON lines ----

void block_json() {
  Block b;
  b.id = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
  b.type = "note";
  b.created_at = 1718000000000;
  b.modified_at = 1718000005000;
  b.blob = "buy milk\n";
  b.schema = 3;
  b.modified_by = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
  b.seq = 42;
  b.version_hash = std::string(32, '\x11');
  std::string line;
  append_block_json(line, b);
  put("block_json", "export", line);
  line.clear();
  append_block_json(line, b, BlobField::size);
  put("block_json", "ls-json", line);
  Block t = b;
  t.deleted_at = 1718000009000;
  t.blob.clear();
  line.clear();
  append_block_json(line, t);
  put("block_json", "tombstone", line);
  Block bin = b;
  bin.type = "photo";
  bin.blob = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  line.clear();
  append_block_json(line, bin);
  put("block_json", "binary-blob", line);
  put("block_json", "minimal", R"({"type":"note","blob":""})");
  put("block_json", "bench-gen",
      R"({"id":"018bcfe5-6800-7000-8000-000000000001","type":"task","blob":"aGVsbG8gd29ybGQ="})");
  put("block_json", "deleted-no-blob", R"({"type":"note","deleted_at":1718000009000})");
  put("block_json", "escapes",
      R"({"id":"a\u002fb","type":"n\u00e9\ud83d\ude00","blob":"AA==","schema":4294967295,"created_at":0,"modified_at":null,"future":{"x":[1,2.5,true]}})");
  put("block_json", "lone-surrogate", R"({"type":"a\ude00b","blob":""})");
  put("block_json", "bad-base64", R"({"type":"note","blob":"AB="})");
  put("block_json", "not-object", R"(["type","note"])");
}

// ---- manifests ----

void manifests(const fs::path& root) {
  for (const auto& entry : fs::recursive_directory_iterator(root / "manifests")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".toml") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string name = fs::relative(entry.path(), root / "manifests").string();
    for (char& c : name)
      if (c == '/') c = '-';
    put("manifest", name, text);
  }
  std::string key1 = to_base64(fuzz::initiator_keys().public_key);
  std::string key2 = to_base64(fuzz::stranger_keys().public_key);
  put("manifest", "minimal", "[machine]\nname = \"m\"\n");
  put("manifest", "crlf",
      "[machine]\r\nname = \"a\"\r\nlisten = [\"tcp://[::1]:0\"]\r\n\r\n[[peer]]\r\nname = "
      "\"b\"\r\nkey = \"" +
          key1 + "\"\r\n");
  put("manifest", "every-address",
      "# comment\n[machine]\nname = \"relay\"\nlisten = [\"tcp://0.0.0.0:7420\", "
      "\"ws://127.0.0.1:0/blk\"]\n\n# the first peer\n[[peer]]\nname = \"a\"\nkey = \"" +
          key1 +
          "\"\naddress = [\"ws://h.example:443/p\", \"exec:blk serve --stdio\", "
          "\"ssh://me@host:2222/srv/blk\", \"tcp://[fe80::1%eth0]:1\"]\nrole = \"read-only\"\n\n"
          "[[peer]]\nname = \"b\"\nkey = '" +
          key2 + "'  # literal string\n");
  put("manifest", "inline-peers",
      "[machine]\nname = \"x\"\npeer = [{name = \"a\", key = \"" + key1 + "\"}]\n");
  put("manifest", "multiline-string",
      "[machine]\nname = \"x\"\n\n[[peer]]\nname = \"a\"\nkey = \"\"\"\n" + key1 +
          "\"\"\"\n# [[peer]] in a comment\n");
  put("manifest", "duplicate-key",
      "[machine]\nname = \"x\"\n[[peer]]\nname = \"a\"\nkey = \"" + key1 +
          "\"\n[[peer]]\nname = \"b\"\nkey = \"" + key1 + "\"\n");
  put("manifest", "unknown-table", "[machine]\nname = \"x\"\n[sync]\nevery = 5\n");
}

// ---- sync messages ----

Block sample_block(std::string id, std::string type, std::string blob, Millis modified,
                   std::int64_t counter) {
  Block b;
  b.id = std::move(id);
  b.type = std::move(type);
  b.created_at = 1718000000000;
  b.modified_at = modified;
  b.blob = std::move(blob);
  b.schema = 3;
  b.modified_by = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
  b.versions = {{b.modified_by, static_cast<std::uint64_t>(counter)},
                {"00112233445566778899aabbccddeeff", 7}};
  b.version_hash = compute_version_hash(b);
  return b;
}

void sync_messages() {
  using namespace blk::sync;
  const std::string epoch = "0190a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";
  Hello first;  // an empty store's first contact
  first.epoch = epoch;
  put("sync_messages", "hello-first-contact", encode(first));
  Hello again = first;
  again.max_seq = 12345;
  again.cursor_epoch = "0190a3c4-0000-7000-8000-00000000beef";
  again.cursor = 678;
  put("sync_messages", "hello-with-cursor", encode(again));
  Hello full = again;
  full.full = true;
  full.watch = true;
  full.negentropy_follows = true;
  put("sync_messages", "hello-full-watch", encode(full));
  // A later sync version: another version byte, more flags, fields appended.
  std::string later = encode(again);
  later[1] = 2;
  put("sync_messages", "hello-v2-extra-fields", later + std::string("\x05\x03", 2) + "abc");
  Hello big;
  big.epoch = std::string(64, 'e');
  big.max_seq = INT64_MAX;
  big.cursor_epoch = std::string(64, 'c');
  big.cursor = 1;
  put("sync_messages", "hello-max-epoch", encode(big));

  Block note = sample_block("note-1", "note", "buy milk\n", 1718000005000, 42);
  Block photo = sample_block(std::string(255, 'p'), "photo",
                             std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), 1718000006000, 43);
  Block gone = sample_block("note-2", "note", "", 1718000009000, 44);
  gone.deleted_at = 1718000009000;
  gone.version_hash = compute_version_hash(gone);
  OffersBuilder ob;
  ob.add(Offer{42, false, note});
  ob.add(Offer{43, false, photo});
  put("sync_messages", "offers-metadata", ob.finish());
  ob.add(Offer{42, true, note});
  ob.add(Offer{43, true, photo});
  put("sync_messages", "offers-inline-blobs", ob.finish());
  ob.add(Offer{44, true, gone});
  ob.add(Offer{42, false, note});
  put("sync_messages", "offers-tombstone", ob.finish());
  Block bare = sample_block("x", "t", "", 0, 1);
  bare.versions.clear();
  bare.version_hash = compute_version_hash(bare);
  ob.add(Offer{1, false, bare});
  put("sync_messages", "offers-empty-vector", ob.finish());
  put("sync_messages", "offers-none", ob.finish());
  ob.add(Offer{42, false, note});
  std::string flags4 = ob.finish();
  require(flags4[3] == 0, "offers: the flags byte");
  flags4[3] = 4;  // no such flag
  put("sync_messages", "offers-flag-4", flags4);

  put("sync_messages", "wants-none", encode_wants({}));
  put("sync_messages", "wants", encode_wants({42, 43, 300, 1234567}));
  put("sync_messages", "wants-max", encode_wants({0, INT64_MAX}));
  // A count of 1 written in two bytes (81 00): the Reader takes it.
  put("sync_messages", "wants-non-minimal", std::string("\x13\x81\x00\x2a", 4));

  BlobsBuilder bb;
  bb.add(42, note.blob);
  bb.add(43, photo.blob);
  bb.add(44, std::nullopt);
  bb.add(45, std::string());
  put("sync_messages", "blobs", bb.finish());
  put("sync_messages", "blobs-none", bb.finish());
  put("sync_messages", "blobs-present-2", std::string("\x14\x01\x05\x02\x00", 5));

  put("sync_messages", "mark", encode_mark({1000, false, false}));
  put("sync_messages", "mark-phase-end", encode_mark({1000, false, true}));
  put("sync_messages", "mark-final", encode_mark({INT64_MAX, true, false}));
  put("sync_messages", "mark-flag-4", std::string("\x15\x05\x04", 3));
  put("sync_messages", "mark-trailing-byte", encode_mark({7, false, false}) + '\0');
  put("sync_messages", "request",
      encode_request({note.version_hash, photo.version_hash, gone.version_hash}));
  put("sync_messages", "request-none", encode_request({}));
  put("sync_messages", "request-end", encode_request_end());
  put("sync_messages", "negentropy", encode_negentropy(std::string("\x61\x00\x02\x00", 4)));
  put("sync_messages", "type-ping", std::string("\x01", 1) + "12345678");
  put("sync_messages", "type-24", std::string("\x18\x00", 2));
  put("sync_messages", "varint-too-long", std::string(10, '\xff') + std::string("\x01", 1));
  put("sync_messages", "varint-65-bits", std::string(9, '\xff') + std::string("\x02", 1));
  put("sync_messages", "varint-64-bits", std::string(9, '\xff') + std::string("\x01", 1));
}

// ---- negentropy ----

namespace neg = blk::negentropy;

constexpr std::uint64_t kNegLimits[4] = {0, 4096, 5000, 65536};

// An item as fuzz_negentropy's mode 0 reads it: timestamp t (the top 16
// values of a byte are the top 16 timestamps), id k || 30 zero bytes || j.
struct NegItem {
  unsigned char t, k, j;
};

neg::Storage neg_storage(const std::vector<NegItem>& items) {
  neg::Storage s;
  for (const auto& it : items) {
    std::uint64_t ts = it.t < 0xf0 ? it.t : neg::kInfinity - (0xff - it.t);
    neg::Id id{};
    id[0] = it.k;
    id[31] = it.j;
    (void)s.insert(ts, id);  // the reserved timestamp is refused, as in the target
  }
  s.seal();
  return s;
}

std::vector<NegItem> neg_items(unsigned n, unsigned salt, unsigned same_ts) {
  std::vector<NegItem> v;
  for (unsigned i = 0; i < n; ++i)
    v.push_back({static_cast<unsigned char>(i / same_ts), static_cast<unsigned char>(i * 7 + salt),
                 static_cast<unsigned char>(i * 13 + salt)});
  return v;
}

// The messages one side receives in a genuine reconciliation: what `peer`
// sends when it initiates against `ours` (ours responding with limit lr), or
// what it replies when `ours` initiates (with limit li).
std::vector<std::string> neg_transcript(const neg::Storage& ours, const neg::Storage& peer,
                                        bool peer_initiates, std::uint64_t li, std::uint64_t lr) {
  auto i = neg::Reconciler::create(peer_initiates ? peer : ours, li);
  auto r = neg::Reconciler::create(peer_initiates ? ours : peer, lr);
  require(i && r, "negentropy: create");
  auto msg = i->initiate();
  require(bool(msg), "negentropy: initiate");
  std::string m = *msg;
  std::vector<std::string> received;
  std::vector<std::string> have, need;
  for (int round = 0; round < 100; ++round) {
    if (peer_initiates) received.push_back(m);
    auto reply = r->reconcile(m);
    require(bool(reply), "negentropy: a genuine reply failed");
    if (!peer_initiates) received.push_back(*reply);
    auto next = i->reconcile(*reply, have, need);
    require(bool(next), "negentropy: a genuine message failed");
    if (!next->has_value()) return received;
    m = **next;
  }
  require(false, "negentropy: no end");
  return {};
}

std::string neg_peer_input(unsigned li, unsigned lr, const std::vector<NegItem>& items,
                           const std::vector<std::string>& messages) {
  std::string s;
  s += static_cast<char>((li << 1) | (lr << 3));
  require(items.size() < 80, "negentropy: at most 79 items");
  s += static_cast<char>(items.size());
  for (const auto& it : items) {
    s += static_cast<char>(it.t);
    s += static_cast<char>(it.k);
    s += static_cast<char>(it.j);
  }
  for (std::size_t i = 0; i < messages.size() && i < 16; ++i) {
    require(messages[i].size() <= 0xffff, "negentropy: a long message");
    s += u16(static_cast<std::uint16_t>(messages[i].size()));
    s += messages[i];
  }
  return s;
}

// Mode 1: the parameters (see fuzz_negentropy.cpp) and explicit items.
std::string neg_reconcile_input(unsigned li, unsigned lr, bool large, unsigned prefix,
                                unsigned spread, unsigned base, unsigned char both,
                                unsigned char only_a, unsigned char only_b,
                                const std::vector<std::pair<unsigned, unsigned>>& explicit_items) {
  std::string s;
  s += static_cast<char>(1 | (li << 1) | (lr << 3) | (large ? 0xe0 : 0));
  s += static_cast<char>(prefix);
  s += static_cast<char>(spread);
  s += static_cast<char>(base);
  s += static_cast<char>(both);
  s += static_cast<char>(only_a);
  s += static_cast<char>(only_b);
  for (auto [membership, seed] : explicit_items)
    s += u16(static_cast<std::uint16_t>((membership << 14) | (seed & 0x3fff)));
  return s;
}

void negentropy_inputs() {
  // Mode 0: our storage and real messages from a peer holding other items.
  auto ours = neg_items(40, 0, 3);
  auto peer = neg_items(30, 0, 3);  // a subset of ours
  auto extra = neg_items(15, 101, 1);
  peer.insert(peer.end(), extra.begin(), extra.end());
  neg::Storage s_ours = neg_storage(ours), s_peer = neg_storage(peer);
  put("negentropy", "peer-queries",
      neg_peer_input(0, 0, ours, neg_transcript(s_ours, s_peer, true, 0, 0)));
  put("negentropy", "peer-replies",
      neg_peer_input(0, 0, ours, neg_transcript(s_ours, s_peer, false, 0, 0)));
  put("negentropy", "peer-replies-limits",
      neg_peer_input(1, 1, ours,
                     neg_transcript(s_ours, s_peer, false, kNegLimits[1], kNegLimits[1])));
  auto few = neg_items(10, 3, 1);
  neg::Storage s_few = neg_storage(few);
  put("negentropy", "peer-idlists",
      neg_peer_input(0, 0, few, neg_transcript(s_few, s_peer, false, 0, 0)));
  put("negentropy", "peer-empty-storage",
      neg_peer_input(0, 0, {}, neg_transcript(neg_storage({}), s_peer, false, 0, 0)));
  // Items at the top of the timestamp space (0xff is the reserved one).
  std::vector<NegItem> top = {{0xf0, 1, 1}, {0xfe, 2, 2}, {0xfe, 2, 3}, {0xff, 3, 3}, {5, 4, 4}};
  put("negentropy", "peer-top-timestamps",
      neg_peer_input(0, 0, top, neg_transcript(neg_storage(top), s_peer, false, 0, 0)));
  // Other versions, and malformed messages.
  put("negentropy", "peer-version-0x62", neg_peer_input(0, 0, few, {"\x62\x00\x00", "\x61"}));
  // Each message breaks one rule of the grammar and keeps the others.
  auto bytes = [](std::initializer_list<int> v) {
    std::string out;
    for (int b : v) out += static_cast<char>(b);
    return out;
  };
  std::string max_delta = bytes({0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f});
  put("negentropy", "peer-malformed",
      neg_peer_input(
          0, 0, few,
          {"",                                                             // no version
           bytes({0x61, 0x01, 0x21}) + std::string(33, '\x07') + '\0',     // a 33-byte prefix
           bytes({0x61, 0x05, 0x01, 0x09, 0x00, 0x01, 0x01, 0x05, 0x00}),  // bounds descend
           bytes({0x61, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}),              // a range after infinity
           bytes({0x61, 0x00, 0x00, 0x03}),                                // mode 3
           bytes({0x61, 0x00, 0x00, 0x01}) + std::string(15, '\x01'),      // a short fingerprint
           bytes({0x61, 0x00, 0x00, 0x02, 0x02}) + std::string(32, '\x02'),  // 2 ids, 1 there
           bytes({0x61, 0x80, 0x01, 0x00, 0x00}),  // a varint's leading zero digit
           bytes({0x61, 0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00,
                  0x00}),  // a varint over 64 bits
           bytes({0x61}) + max_delta + bytes({0x00, 0x00, 0x03, 0x00, 0x00}),  // 2^64 - 2 + 2
           bytes({0x61, 0x02, 0x00, 0x00}) + max_delta + bytes({0x00, 0x00}),  // 1 + 2^64-2: ok
           bytes({0x61, 0x00, 0x00, 0x02})}));  // ends in the id list
  // An id listed twice, and one of ours (k 3 + 7i, j 3 + 13i) listed in
  // another range than the one it is in.
  auto id_of = [](const NegItem& it) {
    std::string id(32, '\0');
    id[0] = static_cast<char>(it.k);
    id[31] = static_cast<char>(it.j);
    return id;
  };
  put("negentropy", "peer-repeated-ids",
      neg_peer_input(
          0, 0, few,
          {bytes({0x61, 0x00, 0x00, 0x02, 0x03}) + id_of(few[0]) + id_of(few[0]) + id_of({0, 9, 9}),
           bytes({0x61, 0x03, 0x00, 0x02, 0x01}) + id_of(few[5]) + bytes({0x00, 0x00, 0x02, 0x01}) +
               id_of(few[1])}));
  // A query that makes the responder (limit 4096) fill its frame: 400 empty
  // id-list ranges, then one over everything; its items share a timestamp
  // and differ only in the last id byte, so the bound where it stops needs
  // all 32 bytes.
  std::vector<NegItem> same_k;
  for (unsigned i = 0; i < 79; ++i) same_k.push_back({0, 5, static_cast<unsigned char>(i)});
  std::string fill = bytes({0x61});
  for (int i = 0; i < 400; ++i) fill += bytes({0x01, 0x00, 0x02, 0x00});
  fill += bytes({0x00, 0x00, 0x02, 0x00});
  put("negentropy", "peer-query-fills-frame", neg_peer_input(0, 1, same_k, {fill}));

  // Mode 1: genuine reconciliations.
  put("negentropy", "reconcile-small", neg_reconcile_input(0, 0, false, 0, 10, 1, 20, 5, 4, {}));
  put("negentropy", "reconcile-same-timestamp",
      neg_reconcile_input(0, 0, false, 16, 0, 0, 40, 20, 10, {}));
  put("negentropy", "reconcile-limits",
      neg_reconcile_input(1, 1, false, 3, 30, 1, 0xff, 0xff, 0x80 | 40, {}));
  put("negentropy", "reconcile-limit-5000",
      neg_reconcile_input(2, 2, false, 0, 20, 3, 0x80 | 60, 0x40 | 50, 30, {}));
  put("negentropy", "reconcile-near-infinity",
      neg_reconcile_input(0, 1, false, 0, 8, 2, 40, 10, 10, {}));
  put("negentropy", "reconcile-one-side-empty",
      neg_reconcile_input(0, 0, false, 0, 63, 0, 0, 50, 0, {}));
  // Large sets under 4096-byte frames: ids come more than once.
  put("negentropy", "reconcile-large-limits",
      neg_reconcile_input(1, 1, true, 16, 63, 1, 0xff, 0xff, 0, {}));
  put("negentropy", "reconcile-moved",
      neg_reconcile_input(0, 0, false, 8, 5, 1, 10, 0, 0,
                          {{3, 1}, {3, 2}, {3, 3}, {0, 4}, {1, 5}, {2, 6}, {3, 7}, {2, 7}}));
}

// ---- block encodings ----

void block_encodings() {
  auto mode = [](int m, std::string_view rest) {
    return std::string(1, static_cast<char>(m)) + std::string(rest);
  };
  auto bytes = [](std::initializer_list<int> v) {
    std::string out;
    for (int b : v) out += static_cast<char>(b);
    return out;
  };
  const std::string m1(32, 'a'), m2 = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";
  // Version vectors (mode 0).
  put("block_encoding", "versions-two", mode(0, encode_versions({{m1, 3}, {m2, 1}})));
  put("block_encoding", "versions-none", mode(0, encode_versions({})));
  put("block_encoding", "versions-empty-string", mode(0, ""));
  put("block_encoding", "versions-big-counter", mode(0, encode_versions({{m2, UINT64_MAX}})));
  // Count and counter with a needless zero digit: accepted, not canonical.
  put("block_encoding", "versions-non-minimal",
      mode(0, bytes({0x81, 0x00, 0x01, 'm', 0x85, 0x00})));
  put("block_encoding", "versions-unsorted",
      mode(0, bytes({0x02, 0x01, 'z', 0x01, 0x01, 'a', 0x02})));
  put("block_encoding", "versions-repeated",
      mode(0, bytes({0x02, 0x01, 'a', 0x01, 0x01, 'a', 0x02})));
  // A counter of 65 bits: refused, as every varint on the wire.
  put("block_encoding", "versions-65-bits",
      mode(0,
           bytes({0x01, 0x01, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03})));
  put("block_encoding", "versions-trailing", mode(0, encode_versions({{m1, 1}}) + "x"));
  put("block_encoding", "versions-cut", mode(0, encode_versions({{m1, 300}}).substr(0, 10)));
  // Base64 (mode 1).
  put("block_encoding", "base64-hello", mode(1, "aGVsbG8gd29ybGQ="));
  put("block_encoding", "base64-one-pad", mode(1, "QUI="));
  put("block_encoding", "base64-stray-bits", mode(1, "AB=="));
  put("block_encoding", "base64-pad-only", mode(1, "===="));
  put("block_encoding", "base64-binary", mode(1, bytes({0x00, 0xff, 0x10, '=', '\n'})));
  // Hex (mode 2).
  put("block_encoding", "hex-mixed-case", mode(2, "00fFaB9c"));
  put("block_encoding", "hex-odd", mode(2, "abc"));
  put("block_encoding", "hex-not-hex", mode(2, "0g"));
  // Version hashes (mode 3): a block drawn from the bytes (id, type, two
  // times, deleted and its time, schema, modified_by, a vector of two, a
  // blob, a seq), then the change to make.
  put("block_encoding", "hash-block",
      mode(3, bytes({4}) + "note" + bytes({4}) + "task" + std::string(16, '\x01') + bytes({1}) +
                  std::string(8, '\x02') + bytes({0, 0, 0, 7}) + bytes({3}) + "abc" +
                  bytes({2, 1}) + "m" + bytes({0, 5, 5}) + "hello" + bytes({0, 9, 5}) + "bytes" +
                  bytes({0, 1}) + bytes({8}) + "blob"));
  put("block_encoding", "hash-swap-id-type",
      mode(3, bytes({2}) + "ab" + bytes({2}) + "ba" + std::string(30, '\x00') + bytes({10})));
}

// ---- JSON-lines import ----

void import_files() {
  auto line = [](const Block& b) {
    std::string out;
    append_block_json(out, b);
    return out + "\n";
  };
  Block b;
  b.id = "milk";
  b.type = "task";
  b.created_at = 1718000000000;
  b.modified_at = 1718000005000;
  b.blob = "buy milk\n";
  b.schema = 1;
  Block c = b;
  c.id = "photo-1";
  c.type = "photo";
  c.blob = std::string("\x89PNG\r\n\x1a\n\0\0", 10);
  Block t = b;
  t.id = "gone";
  t.deleted_at = 1718000005000;
  t.blob.clear();
  put("import_jsonl", "export", line(b) + line(c) + line(t));
  put("import_jsonl", "empty", "");
  put("import_jsonl", "blank-lines-crlf",
      "\r\n" + line(b).substr(0, line(b).size() - 1) + "\r\n \t\n\n" + line(c));
  put("import_jsonl", "no-final-newline", line(b) + R"({"type":"note","blob":"aGk="})");
  put("import_jsonl", "generated-ids",
      R"({"type":"note","blob":"aGk="})"
      "\n"
      R"({"type":"note","blob":"aGk="})"
      "\n");
  Block b2 = b;
  b2.modified_at = 1718000009000;
  b2.blob = "buy oat milk\n";
  put("import_jsonl", "update-same-id", line(b) + line(b2));
  Block revived = t;
  revived.deleted_at.reset();
  revived.modified_at = 1718000007000;
  revived.blob = "back";
  put("import_jsonl", "delete-then-revive", line(t) + line(revived));
  put("import_jsonl", "bad-line-3",
      line(b) + "\n" + R"({"type":"note","blob":"AB="})" + "\n" + line(c));
  put("import_jsonl", "bad-id", line(b) + R"({"id":"no spaces","type":"note"})" + "\n");
  put("import_jsonl", "created-after-modified",
      R"({"id":"x","type":"note","created_at":5,"modified_at":4})"
      "\n");
  put("import_jsonl", "nul-in-line", line(b) + std::string("{\"type\":\"n\0\"}\n", 14));
}

// ---- simulator schedules ----

void sim_schedules() {
  // Byte 0: bit 0 picks 2 or 3 machines; the rest are the run's first
  // choices (an empty schedule is an ordinary run of the fixed seed).
  put("sim_schedule", "two-machines", std::string(1, '\0'));
  put("sim_schedule", "three-machines", std::string(1, '\1'));
  // Schedules from a SplitMix64 stream: ordinary runs, the first choices
  // from these bytes.
  std::uint64_t state = 0x5eed;
  auto next = [&] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (int k = 0; k < 4; ++k) {
    std::string s(1, static_cast<char>(k));
    for (int i = 0; i < 32 * (k + 1); ++i) s += static_cast<char>(next());
    put("sim_schedule", "random-" + std::to_string(k), s);
  }
  // All zeros: every percent() draw comes out true for as long as they last
  // (cuts, corruption, crashes, partitions, full and watch syncs).
  put("sim_schedule", "zeros", std::string(200, '\0'));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_corpus OUT SOURCE_ROOT\n";
    return 2;
  }
  fuzz::init_sodium();
  g_out = argv[1];
  hellos();
  handshakes();
  records();
  block_json();
  manifests(argv[2]);
  sync_messages();
  negentropy_inputs();
  block_encodings();
  import_files();
  sim_schedules();
  return 0;
}
