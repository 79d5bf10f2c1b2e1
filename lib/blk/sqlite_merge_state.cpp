#include "blk/sqlite_merge_state.hpp"

#include <fmt/format.h>

#include <charconv>

#include "blk/block.hpp"

namespace blk::merge_state {
namespace {

using sqlite::Db;
using sqlite::Stmt;

Result<Stmt> prepare(const Db& db, const char* sql) {
  return Stmt::prepare(db, sql);
}

}  // namespace

std::string encode_types(const std::vector<PluginType>& types) {
  std::string out;
  for (const auto& t : types) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}:{}", t.type, t.max_schema);
  }
  return out;
}

std::vector<PluginType> decode_types(std::string_view text) {
  std::vector<PluginType> out;
  while (!text.empty()) {
    auto end = text.find(' ');
    std::string_view item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    auto colon = item.rfind(':');
    if (colon == std::string_view::npos) continue;
    PluginType t;
    t.type = item.substr(0, colon);
    std::string_view n = item.substr(colon + 1);
    std::from_chars(n.data(), n.data() + n.size(), t.max_schema);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<PluginRecord>> plugins(const Db& db) {
  auto s = prepare(db,
                   "SELECT name, file, types, in_process, failures, disabled FROM merge_plugins "
                   "ORDER BY name");
  if (!s) return std::move(s).error();
  std::vector<PluginRecord> out;
  for (;;) {
    auto row = s->step();
    if (!row) return std::move(row).error();
    if (!*row) return out;
    PluginRecord p;
    p.name = s->text(0);
    p.file = s->text(1);
    p.types = decode_types(s->text(2));
    p.in_process = s->int64(3) != 0;
    p.failures = static_cast<int>(s->int64(4));
    p.disabled = s->text(5);
    out.push_back(std::move(p));
  }
}

Result<void> put_plugin(const Db& db, const PluginRecord& p) {
  auto s = prepare(db,
                   "INSERT OR REPLACE INTO merge_plugins (name, file, types, in_process, "
                   "failures, disabled) VALUES (?1, ?2, ?3, ?4, 0, '')");
  if (!s) return std::move(s).error();
  s->bind(1, p.name);
  s->bind(2, p.file);
  std::string types = encode_types(p.types);  // bound, not copied: keep it
  s->bind(3, types);
  s->bind(4, std::int64_t{p.in_process ? 1 : 0});
  return s->run();
}

Result<bool> remove_plugin(const Db& db, std::string_view name) {
  auto s = prepare(db, "DELETE FROM merge_plugins WHERE name = ?1");
  if (!s) return std::move(s).error();
  s->bind(1, name);
  BLK_TRY(s->run());
  return sqlite3_changes(db.handle()) > 0;
}

Result<void> record_merge(const Db& db, std::string_view plugin, bool failed,
                          std::string_view reason) {
  auto s = prepare(db, failed ? "UPDATE merge_plugins SET failures = failures + 1, disabled = "
                                "CASE WHEN failures + 1 >= ?2 AND disabled = '' THEN ?3 "
                                "ELSE disabled END WHERE name = ?1"
                              : "UPDATE merge_plugins SET failures = 0 WHERE name = ?1 AND "
                                "failures > 0");
  if (!s) return std::move(s).error();
  std::string why;  // bound, not copied: lives until run()
  s->bind(1, plugin);
  if (failed) {
    s->bind(2, std::int64_t{kPluginFailureLimit});
    why = fmt::format("failed {} merges in a row; the last: {}", kPluginFailureLimit, reason);
    s->bind(3, why);
  }
  return s->run();
}

Result<void> hold(const Db& db, const Block& v, std::string_view from, std::string_view reason,
                  Millis now) {
  auto s = prepare(db,
                   "INSERT OR REPLACE INTO held (id, version_hash, type, created_at, modified_at, "
                   "deleted_at, schema, modified_by, versions, blob, reason, held_at, peer) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!s) return std::move(s).error();
  s->bind(1, v.id);
  s->bind_blob(2, v.version_hash);
  s->bind(3, v.type);
  s->bind(4, v.created_at);
  s->bind(5, v.modified_at);
  if (v.deleted_at)
    s->bind(6, *v.deleted_at);
  else
    s->bind_null(6);
  s->bind(7, static_cast<std::int64_t>(v.schema));
  s->bind(8, v.modified_by);
  std::string versions = encode_versions(v.versions);  // bound, not copied: keep it
  s->bind_blob(9, versions);
  s->bind_blob(10, v.blob);
  s->bind(11, reason);
  s->bind(12, now);
  s->bind(13, from);
  return s->run();
}

Result<void> unhold(const Db& db, std::string_view id, std::string_view version_hash) {
  auto s = prepare(db, "DELETE FROM held WHERE id = ?1 AND version_hash = ?2");
  if (!s) return std::move(s).error();
  s->bind(1, id);
  s->bind_blob(2, version_hash);
  return s->run();
}

Result<void> scan_held(const Db& db, std::string_view id,
                       const std::function<bool(const HeldVersion&)>& visit) {
  std::string sql =
      "SELECT id, version_hash, type, created_at, modified_at, deleted_at, schema, modified_by, "
      "versions, blob, reason, held_at, peer FROM held ";
  sql += id.empty() ? "ORDER BY id, version_hash" : "WHERE id = ?1 ORDER BY version_hash";
  auto s = prepare(db, sql.c_str());
  if (!s) return std::move(s).error();
  if (!id.empty()) s->bind(1, id);
  for (;;) {
    auto row = s->step();
    if (!row) return std::move(row).error();
    if (!*row) return {};
    HeldVersion h;
    Block& b = h.block;
    b.id = s->text(0);
    b.version_hash = s->blob(1);
    b.type = s->text(2);
    b.created_at = s->int64(3);
    b.modified_at = s->int64(4);
    if (!s->is_null(5)) b.deleted_at = s->int64(5);
    b.schema = static_cast<std::uint32_t>(s->int64(6));
    b.modified_by = s->text(7);
    auto vv = decode_versions(s->blob(8));
    if (!vv) return std::move(vv).error();
    b.versions = std::move(*vv);
    b.blob = s->blob(9);
    h.reason = s->text(10);
    h.held_at = s->int64(11);
    h.from = s->text(12);
    if (!visit(h)) return {};
  }
}

Result<std::int64_t> count_held(const Db& db, std::string_view from) {
  auto s = prepare(
      db, from.empty() ? "SELECT count(*) FROM held" : "SELECT count(*) FROM held WHERE peer = ?1");
  if (!s) return std::move(s).error();
  if (!from.empty()) s->bind(1, from);
  auto row = s->step();
  if (!row) return std::move(row).error();
  return s->int64(0);
}

}  // namespace blk::merge_state
