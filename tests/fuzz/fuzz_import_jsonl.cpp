// Fuzz target: the whole of `blk import`, blk::import_json_lines, into a
// real SQLite store: reading lines (getline, NULs and all), blank lines,
// line numbers, one parser reused across lines, the store's checks of each
// write, and the one transaction.
//
// Input: a file of JSON lines.
//
// Invariants:
// - The import does what writing its lines one by one does: a second store
//   gets, in one transaction, each line (split at '\n', without its
//   trailing '\r's; lines of only spaces and tabs skipped) parsed by a
//   fresh BlockJsonParser and put. If a line fails there, the import fails
//   with that error, named by its number ("line N: ..."; a bad line is
//   Code::invalid_input), and its store is left empty: all or nothing.
//   Otherwise it reports the number of lines written and both stores hold
//   exactly the same blocks (seqs, version vectors and hashes included;
//   generated ids are the same because the randomness restarts).
// - What was imported, exported as JSON lines (append_block_json) and
//   imported into a third store, gives the same blocks: ids, types, blobs,
//   schemas, times and deletions.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "blk/block_json.hpp"
#include "blk/encoding.hpp"
#include "blk/sqlite_store.hpp"
#include "fuzz_common.hpp"

using namespace blk;
namespace fs = std::filesystem;

namespace {

constexpr Millis kNow = 1'700'000'000'000;

std::string g_dir;  // this process's stores
// A new, empty store's files: the database and its WAL (blk does not
// checkpoint on close).
std::string g_template_db, g_template_wal;

StoreIdentity identity() {
  const KeyPair& k = fuzz::responder_keys();
  std::string pk(reinterpret_cast<const char*>(k.public_key.data()), k.public_key.size());
  return StoreIdentity{machine_id_for(pk), base64_encode(pk), std::string(32, 'e')};
}

void remove_store(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

std::string read_file(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[8192];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(
      f && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fclose(f) == 0,
      "cannot write %s", path.c_str());
}

// A new, empty store: a copy of one made once (making the schema costs more
// than the rest of a run).
std::unique_ptr<Store> fresh_store(const std::string& name) {
  std::string path = g_dir + "/" + name + ".db";
  remove_store(path);
  write_file(path, g_template_db);
  if (!g_template_wal.empty()) write_file(path + "-wal", g_template_wal);
  auto store = open_sqlite_store(path);
  FUZZ_CHECK(store, "open_sqlite_store: %s", store.error().message.c_str());
  (*store)->set_clock([] { return kNow; });
  return std::move(*store);
}

std::vector<Block> blocks_of(Store& store) {
  std::vector<Block> out;
  ScanFilter f;
  f.include_deleted = true;
  auto r = store.scan(f, [&](const Block& b) {
    out.push_back(b);
    return true;
  });
  FUZZ_CHECK(r, "scan: %s", r.error().message.c_str());
  return out;
}

std::string text(const Block& b) {
  std::string out;
  append_block_json(out, b);
  return out;
}

bool same_user_fields(const Block& a, const Block& b) {
  return a.id == b.id && a.type == b.type && a.blob == b.blob && a.schema == b.schema &&
         a.created_at == b.created_at && a.modified_at == b.modified_at &&
         a.deleted_at == b.deleted_at;
}

bool same_row(const Block& a, const Block& b) {
  return same_user_fields(a, b) && a.modified_by == b.modified_by && a.versions == b.versions &&
         a.version_hash == b.version_hash && a.seq == b.seq;
}

Result<ImportSummary> import_text(Store& store, std::string data) {
  // fmemopen refuses a size of 0 on some C libraries.
  std::FILE* f =
      data.empty() ? std::fopen("/dev/null", "r") : fmemopen(data.data(), data.size(), "r");
  FUZZ_CHECK(f, "cannot open the input as a FILE");
  auto r = import_json_lines(store, f);
  std::fclose(f);
  return r;
}

// The lines of `in` as import must see them: split at '\n', trailing '\r's
// dropped. Blank ones are kept (they count for line numbers).
std::vector<std::string> lines_of(std::string_view in) {
  std::vector<std::string> out;
  while (!in.empty()) {
    auto eol = in.find('\n');
    std::string line(in.substr(0, eol));
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    while (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  std::error_code ec;
  fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                      ? fs::path("/dev/shm")
                      : fs::temp_directory_path();
  std::string templ = (base / "blk-fuzz-import-XXXXXX").string();
  FUZZ_CHECK(::mkdtemp(templ.data()), "mkdtemp in %s", base.c_str());
  g_dir = templ;
  std::string path = g_dir + "/template.db";
  auto made = create_sqlite_store(path, identity());
  FUZZ_CHECK(made, "create_sqlite_store: %s", made.error().message.c_str());
  g_template_db = read_file(path);
  g_template_wal = read_file(path + "-wal");
  FUZZ_CHECK(!g_template_db.empty(), "cannot read %s", path.c_str());
  remove_store(path);
  std::atexit([] {
    std::error_code e;
    fs::remove_all(g_dir, e);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // The import.
  auto a = fresh_store("a");
  fuzz::rng_reset(0);
  auto got = import_text(*a, std::string(in));

  // The same lines, one by one, into another store.
  auto b = fresh_store("b");
  fuzz::rng_reset(0);
  std::optional<Error> want_error;
  std::uint64_t written = 0;
  {
    auto tx = b->begin();
    FUZZ_CHECK(tx, "begin: %s", tx.error().message.c_str());
    auto lines = lines_of(in);
    for (std::size_t i = 0; i < lines.size() && !want_error; ++i) {
      if (blank(lines[i])) continue;
      BlockJsonParser fresh;
      auto w = fresh.parse(lines[i]);
      auto put = w ? (*tx)->put(std::move(*w)) : Result<std::string>(w.error());
      if (!put) {
        Error e = put.error();
        if (e.code == Code::usage || e.code == Code::invalid_input) {
          e.code = Code::invalid_input;
          e.message = fmt::format("line {}: {}", i + 1, e.message);
        }
        want_error = e;
      } else {
        ++written;
      }
    }
    if (!want_error) {
      auto c = (*tx)->commit();
      FUZZ_CHECK(c, "commit: %s", c.error().message.c_str());
    }
  }

  auto in_a = blocks_of(*a);
  if (want_error) {
    FUZZ_CHECK(!got, "import accepted what fails at %s", want_error->message.c_str());
    FUZZ_CHECK(got.error().code == want_error->code && got.error().message == want_error->message,
               "import failed with (%d) %s, the lines one by one with (%d) %s",
               static_cast<int>(got.error().code), got.error().message.c_str(),
               static_cast<int>(want_error->code), want_error->message.c_str());
    FUZZ_CHECK(in_a.empty(), "a failed import left %zu blocks in the store", in_a.size());
    return 0;
  }
  FUZZ_CHECK(got, "import failed (%s), the lines one by one did not", got.error().message.c_str());
  FUZZ_CHECK(got->blocks == written, "import says %llu blocks, %llu lines were written",
             static_cast<unsigned long long>(got->blocks),
             static_cast<unsigned long long>(written));
  auto in_b = blocks_of(*b);
  FUZZ_CHECK(in_a.size() == in_b.size(), "import made %zu blocks, the lines one by one %zu",
             in_a.size(), in_b.size());
  for (std::size_t i = 0; i < in_a.size(); ++i)
    FUZZ_CHECK(same_row(in_a[i], in_b[i]), "import and the lines one by one differ:\n  %s\n  %s",
               text(in_a[i]).c_str(), text(in_b[i]).c_str());

  // Exported and imported again.
  std::string exported;
  for (const auto& x : in_a) {
    append_block_json(exported, x);
    exported += '\n';
  }
  auto c = fresh_store("c");
  auto again = import_text(*c, exported);
  FUZZ_CHECK(again, "its export does not import: %s", again.error().message.c_str());
  auto in_c = blocks_of(*c);
  FUZZ_CHECK(in_c.size() == in_a.size(), "export then import: %zu blocks, not %zu", in_c.size(),
             in_a.size());
  for (std::size_t i = 0; i < in_a.size(); ++i)
    FUZZ_CHECK(same_user_fields(in_a[i], in_c[i]),
               "export then import changed a block:\n  %s\n  %s", text(in_a[i]).c_str(),
               text(in_c[i]).c_str());
  return 0;
}
