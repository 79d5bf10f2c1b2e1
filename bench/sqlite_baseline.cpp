// blk_bench: the helper program behind scripts/bench.
//
//   blk_bench gen N [SEED]          JSON lines for `blk import` on stdout: N blocks
//                                   {"id","type","blob"} with 1 KiB random blobs
//   blk_bench insert DB N [SEED]    the raw-SQLite baseline: creates DB with blk's
//                                   schema (blk::kSchemaSql) and inserts the same N
//                                   rows with one prepared statement in one
//                                   transaction; prints the seconds it took
//
// Both walk the same deterministic row sequence (ids, types, blob bytes), so
// the baseline stores exactly the rows `blk import` stores from gen's output.
// The baseline is the limit of the engine: no JSON, no base64, no lookup
// before the insert, no hashing; the same pragmas as blk (WAL, synchronous =
// FULL) and SQLite's defaults for everything else.
#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "blk/block.hpp"
#include "blk/encoding.hpp"
#include "blk/sqlite_store.hpp"

namespace {

constexpr std::size_t kBlobBytes = 1024;
constexpr std::uint64_t kDefaultSeed = 42;
// ids are UUIDv7 like the ones blk generates: time-ordered, about 16 per ms.
constexpr std::int64_t kIdEpochMs = 1'700'000'000'000;
constexpr const char* kTypes[] = {"note", "task", "photo", "contact"};
// A plausible identity for the baseline store (blk init makes a real one).
constexpr const char* kMachineId = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5";

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "blk_bench: %s\n", msg.c_str());
  std::exit(1);
}

// xoshiro256** seeded with splitmix64: fast, and the same everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  void fill(char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      std::uint64_t v = next();
      std::memcpy(p + i, &v, n - i < 8 ? n - i : 8);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// One block of the benchmark data set; `next` overwrites it in place.
struct Row {
  std::string id;
  std::string_view type;
  std::string blob = std::string(kBlobBytes, '\0');
};

class RowGen {
 public:
  explicit RowGen(std::uint64_t seed) : rng_(seed) {}

  void next(Row& r) {
    auto ms = static_cast<std::uint64_t>(kIdEpochMs + static_cast<std::int64_t>(i_ / 16));
    unsigned char b[16];
    std::uint64_t r1 = rng_.next(), r2 = rng_.next();
    std::memcpy(b + 0, &r1, 8);
    std::memcpy(b + 8, &r2, 8);
    for (int k = 0; k < 6; ++k) b[k] = static_cast<unsigned char>(ms >> (40 - 8 * k));
    b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant
    static const char hex[] = "0123456789abcdef";
    r.id.clear();
    for (int k = 0; k < 16; ++k) {
      if (k == 4 || k == 6 || k == 8 || k == 10) r.id += '-';
      r.id += hex[b[k] >> 4];
      r.id += hex[b[k] & 15];
    }
    r.type = kTypes[rng_.next() % std::size(kTypes)];
    rng_.fill(r.blob.data(), r.blob.size());
    ++i_;
  }

 private:
  Rng rng_;
  std::uint64_t i_ = 0;
};

std::uint64_t parse_count(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || !end || *end || end == s) die(std::string("bad ") + what + ": " + s);
  return v;
}

int gen(std::uint64_t n, std::uint64_t seed) {
  RowGen g(seed);
  Row r;
  std::string out;
  out.reserve(1 << 20);
  for (std::uint64_t i = 0; i < n; ++i) {
    g.next(r);
    out += "{\"id\":\"";
    out += r.id;
    out += "\",\"type\":\"";
    out += r.type;
    out += "\",\"blob\":\"";
    blk::append_base64(out, r.blob);
    out += "\"}\n";
    if (out.size() > (1u << 20) - 4096 || i + 1 == n) {
      if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) die("write failed");
      out.clear();
    }
  }
  if (std::fflush(stdout) != 0) die("write failed");
  return 0;
}

void check(sqlite3* db, int rc, const char* doing) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    die(std::string(doing) + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const char* sql) {
  check(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), sql);
}

int insert(const char* path, std::uint64_t n, std::uint64_t seed) {
  auto t0 = std::chrono::steady_clock::now();
  sqlite3* db = nullptr;
  // The same open flags and pragmas as blk (lib/blk/sqlite_db.cpp, sqlite_store.cpp).
  int rc = sqlite3_open_v2(
      path, &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  if (rc != SQLITE_OK) die(std::string("cannot open ") + path);
  sqlite3_busy_timeout(db, blk::kBusyTimeoutMs);
  exec(db, "PRAGMA journal_mode = WAL");
  exec(db, "PRAGMA synchronous = FULL");

  // The schema and a store identity, as `blk init` writes them, so that the
  // result is a store blk itself can read.
  exec(db, "BEGIN IMMEDIATE");
  exec(db, blk::kSchemaSql);
  std::string meta = std::string("INSERT INTO meta (key, value) VALUES ('machine_id', '") +
                     kMachineId +
                     "'), ('public_key', 'MCowBQYDK2VwAyEAbmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaA=='), "
                     "('epoch', '0b5e4d3c2a1f09e8d7c6b5a493827160')";
  exec(db, meta.c_str());
  exec(db, ("PRAGMA user_version = " + std::to_string(blk::kSchemaVersion)).c_str());
  exec(db, "COMMIT");

  sqlite3_stmt* st = nullptr;
  check(db,
        sqlite3_prepare_v3(db,
                           "INSERT INTO blocks (seq, id, type, created_at, modified_at, "
                           "deleted_at, schema, modified_by, versions, version_hash, blob) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                           -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr),
        "prepare");

  RowGen g(seed);
  Rng hash_rng(seed ^ 0x5eed);
  Row r;
  std::string version_hash(32, '\0');
  const std::string machine = kMachineId;
  exec(db, "BEGIN IMMEDIATE");
  for (std::uint64_t i = 0; i < n; ++i) {
    g.next(r);
    auto seq = static_cast<std::int64_t>(i + 1);
    blk::Millis now = blk::now_millis();
    // What blk stores: the version vector {this machine: seq}, and a
    // 32-byte version hash (random bytes here: hashing is blk's work, not
    // the engine's).
    std::string versions = blk::encode_versions({{machine, static_cast<std::uint64_t>(seq)}});
    hash_rng.fill(version_hash.data(), version_hash.size());
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r.type.data(), static_cast<int>(r.type.size()), SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, 0);
    sqlite3_bind_text(st, 8, machine.data(), static_cast<int>(machine.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, versions.data(), static_cast<int>(versions.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, version_hash.data(), static_cast<int>(version_hash.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, r.blob.data(), static_cast<int>(r.blob.size()), SQLITE_STATIC);
    check(db, sqlite3_step(st), "insert");
    sqlite3_reset(st);
  }
  exec(db, "COMMIT");
  sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) die("close failed");
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  std::printf("%.6f\n", dt.count());
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: blk_bench gen N [SEED] > FILE.jsonl\n"
               "       blk_bench insert DB N [SEED]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage();
  std::string_view cmd = argv[1];
  if (cmd == "gen" && (argc == 3 || argc == 4))
    return gen(parse_count(argv[2], "N"), argc == 4 ? parse_count(argv[3], "seed") : kDefaultSeed);
  if (cmd == "insert" && (argc == 4 || argc == 5))
    return insert(argv[2], parse_count(argv[3], "N"),
                  argc == 5 ? parse_count(argv[4], "seed") : kDefaultSeed);
  usage();
}
