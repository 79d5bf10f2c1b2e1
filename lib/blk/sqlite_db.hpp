// Thin RAII wrappers over the SQLite C API, private to the library: a
// connection, a reusable prepared statement, and the mapping from SQLite
// result codes to blk error codes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk::sqlite {

class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) { o.db_ = nullptr; }
  ~Db();

  // Opens an existing database read-write (never creates one unless
  // `create`), with the busy timeout set before anything else touches it.
  static Result<Db> open(const std::string& path, bool create, int busy_timeout_ms);

  // Runs SQL with no results (pragmas, DDL, BEGIN/COMMIT).
  Result<void> exec(const char* sql);

  // An error (Code::no_store) if the database file was removed, renamed or
  // replaced since it was opened: what is written through this connection
  // then lands in a file that no store path leads to.
  Result<void> check_not_moved() const;

  // Checkpoints the WAL and truncates it if it is over 4 MiB (as closing
  // does). The next write then starts a new WAL, whose header SQLite syncs
  // (one fsync, even at synchronous = NORMAL): a writer that is about to
  // close after a big transaction can take that fsync on itself with its
  // last small write, instead of leaving it to the next command.
  void truncate_wal_if_large();

  // The error for a failed call: maps rc to a Code and names the file.
  Error error(int rc, std::string_view doing) const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement, reset after each use so it can be reused.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : st_(o.st_), db_(o.db_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  ~Stmt();

  static Result<Stmt> prepare(const Db& db, const char* sql);
  bool prepared() const { return st_ != nullptr; }

  // Binds by 1-based index. Text and blobs are copied only if `transient`.
  void bind(int i, std::int64_t v);
  void bind(int i, std::string_view text);
  void bind_blob(int i, std::string_view bytes);
  void bind_null(int i);

  // One step: true for a row, false when done; errors carry the SQLite code.
  Result<bool> step();
  // Steps to completion, expecting no rows.
  Result<void> run();
  void reset();

  std::int64_t int64(int col) const;
  bool is_null(int col) const;
  std::string_view text(int col) const;
  std::string_view blob(int col) const;

 private:
  sqlite3_stmt* st_ = nullptr;
  const Db* db_ = nullptr;
};

// Resets a statement when it leaves scope, so an early return cannot leave a
// read transaction open.
class ResetGuard {
 public:
  explicit ResetGuard(Stmt& s) : s_(s) {}
  ~ResetGuard() { s_.reset(); }

 private:
  Stmt& s_;
};

}  // namespace blk::sqlite
