// blk merge-plugin add|ls|rm|test: the merge plugins a store uses
// (man 1 blk-merge-plugin). A plugin is checked in the worker process
// before it is trusted, and copied into the store so the store stays
// self-contained.
#include "blk/merge_plugin.h"

#include <sys/stat.h>

#include <cctype>
#include <filesystem>

#include "blk/encoding.hpp"
#include "blk/plugins/host.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace merge_plugin_cmd {

namespace fs = std::filesystem;

struct AddOptions {
  std::string path;
  std::optional<std::string> name;  // --name; an empty one is refused, not the default
  bool in_process = false;
};

struct TestOptions {
  std::string plugin;
  std::string type;
  std::string a, b;
  std::optional<std::string> schema;  // checked by parse_number
  bool in_process = false;
};

std::string types_text(const std::vector<PluginType>& types) {
  std::string out;
  for (const auto& t : types)
    out += fmt::format("{}{}:{}", out.empty() ? "" : ",", t.type, t.max_schema);
  return out;
}

std::string types_json(const std::vector<PluginType>& types) {
  std::string out = "[";
  for (const auto& t : types) {
    if (out.size() > 1) out += ',';
    out += "{\"type\":";
    append_json_string(out, t.type);
    out += fmt::format(",\"max_schema\":{}}}", t.max_schema);
  }
  return out + "]";
}

// Loads the plugin at `path` the way it will run, to check it: in a worker
// process (a crash at load costs only that), or in blk for --in-process.
Result<plugins::PluginInfo> check_plugin(const std::string& path) {
  plugins::Worker worker(plugins::self_exe());
  plugins::PluginInfo info;
  auto slot = worker.load(path, &info, 10 * plugins::merge_timeout_ms());
  if (!slot && slot.error().code == Code::failure)
    return make_error(Code::invalid_input, fmt::format("{} is not a usable merge plugin: {}", path,
                                                       slot.error().message));
  if (!slot) return std::move(slot).error();
  return info;
}

// Copies the file into the store's plugins/ folder under NAME.so, by way of
// a temporary file, so a half-copied plugin is never in place.
Result<std::string> copy_into_store(const StorePaths& paths, const std::string& from,
                                    const std::string& name) {
  std::error_code ec;
  fs::create_directories(paths.plugins(), ec);
  std::string file = name + ".so";
  std::string to = paths.plugins() + "/" + file;
  std::string tmp = to + ".tmp";
  if (!ec) fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(tmp, fs::perms(0755), ec);
  if (!ec) fs::rename(tmp, to, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return make_error(
        ec == std::errc::permission_denied || ec == std::errc::read_only_file_system
            ? Code::store_readonly
            : Code::failure,
        fmt::format("cannot copy {} into {}: {}", from, paths.plugins(), ec.message()));
  }
  return file;
}

// A plugin's name is also its file's name in STORE/plugins/: letters,
// digits, '-' and '_' only, so it can never point elsewhere.
Result<void> check_plugin_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (!ok)
    return make_error(Code::usage, fmt::format("a plugin name is 1 to 64 letters, digits, '-' "
                                               "or '_', not '{}'",
                                               name.substr(0, 64)));
  return {};
}

Result<void> run_add(Context& ctx, const AddOptions& o) {
  if (o.name) BLK_TRY(check_plugin_name(*o.name));
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  // Held versions are applied below: checked against the manifest as a
  // sync would check them.
  auto store = ctx.open_for_write();
  if (!store) return std::move(store).error();
  std::error_code ec;
  if (!fs::is_regular_file(o.path, ec))
    return make_error(Code::invalid_input, fmt::format("{} is not a file", o.path));
  std::string path = fs::absolute(o.path, ec).string();
  auto info = check_plugin(path);
  if (!info) return std::move(info).error();
  std::string name = o.name ? *o.name : info->name;

  // One plugin per type: which one merges a type must not depend on luck.
  auto installed = (*store)->plugins();
  if (!installed) return std::move(installed).error();
  for (const auto& p : *installed) {
    if (p.name == name) continue;  // replaced
    for (const auto& t : p.types)
      for (const auto& mine : info->types)
        if (t.type == mine.type)
          return make_error(Code::usage,
                            fmt::format("type '{}' is already merged by plugin '{}'; 'blk "
                                        "merge-plugin rm {}' first",
                                        t.type, p.name, p.name));
  }

  auto tx = (*store)->begin();
  if (!tx) return std::move(tx).error();
  auto file = copy_into_store(*paths, path, name);
  if (!file) return std::move(file).error();
  PluginRecord record{name, *file, info->types, o.in_process, 0, ""};
  BLK_TRY((*tx)->put_plugin(record));
  // Versions held for want of this plugin are merged now, in the same
  // transaction: the new plugin set is what merges them.
  plugins::HostOptions options;
  options.warn = [](const std::string& m) { fmt::print(stderr, "blk: warning: {}\n", m); };
  auto merger = plugins::merger_for(**store, paths->plugins(), std::move(options));
  if (!merger) return std::move(merger).error();
  (*store)->set_merger(*merger);
  auto retried = (*tx)->retry_held();
  if (!retried) return std::move(retried).error();
  BLK_TRY((*tx)->commit());

  if (ctx.json) {
    std::string line = "{\"name\":";
    append_json_string(line, name);
    line += fmt::format(",\"types\":{},\"in_process\":{},\"held_applied\":{},\"held\":{}}}\n",
                        types_json(info->types), o.in_process, retried->applied, retried->held);
    out(line);
  } else {
    note(ctx, "added merge plugin '{}' for {}{}", name, types_text(info->types),
         retried->applied + retried->held ? fmt::format("; held versions: {} merged, {} still held",
                                                        retried->applied, retried->held)
                                          : "");
  }
  return {};
}

Result<void> run_ls(Context& ctx) {
  auto store = ctx.open();
  if (!store) return std::move(store).error();
  auto installed = (*store)->plugins();
  if (!installed) return std::move(installed).error();
  for (const auto& p : *installed) {
    std::string line;
    if (ctx.json) {
      line = "{\"name\":";
      append_json_string(line, p.name);
      line += ",\"file\":";
      append_json_string(line, p.file);
      line += fmt::format(",\"types\":{},\"in_process\":{},\"failures\":{},\"disabled\":",
                          types_json(p.types), p.in_process, p.failures);
      append_json_string(line, p.disabled);
      line += "}";
    } else {
      line = fmt::format("{}\t{}\t{}\t{}", p.name, types_text(p.types),
                         p.in_process ? "in-process" : "worker",
                         !p.disabled.empty() ? "disabled: " + p.disabled
                         : p.failures        ? fmt::format("{} failures", p.failures)
                                             : std::string("ok"));
    }
    if (!out(line + "\n")) break;
  }
  return {};
}

Result<void> run_rm(Context& ctx, const std::string& name) {
  BLK_TRY(check_plugin_name(name));
  auto paths = ctx.paths();
  if (!paths) return std::move(paths).error();
  auto store = open_store(*paths);
  if (!store) return std::move(store).error();
  auto installed = (*store)->plugins();
  if (!installed) return std::move(installed).error();
  std::string file;
  for (const auto& p : *installed)
    if (p.name == name) file = p.file;
  auto tx = (*store)->begin();
  if (!tx) return std::move(tx).error();
  auto removed = (*tx)->remove_plugin(name);
  if (!removed) return std::move(removed).error();
  if (!*removed)
    return make_error(Code::not_found, fmt::format("no merge plugin named '{}'", name));
  BLK_TRY((*tx)->commit());
  std::error_code ec;
  if (!file.empty()) fs::remove(paths->plugins() + "/" + file, ec);
  if (ctx.verbose) note(ctx, "removed merge plugin '{}'", name);
  return {};
}

// A version made from a file, as `test` hands it to the plugin: its time
// is the file's modification time, its writer a made-up machine.
Result<Block> version_from_file(const std::string& file, const std::string& type,
                                std::uint32_t schema, char writer) {
  auto blob = read_blob(file);
  if (!blob) return std::move(blob).error();
  Block v;
  v.id = "test";
  v.type = type;
  v.schema = schema;
  v.blob = std::move(*blob);
  struct stat st;
  if (file != "-" && stat(file.c_str(), &st) == 0)
    v.modified_at = Millis{st.st_mtim.tv_sec} * 1000 + st.st_mtim.tv_nsec / 1000000;
  v.created_at = v.modified_at;
  v.modified_by = std::string(32, writer);
  v.versions[v.modified_by] = 1;
  v.version_hash = compute_version_hash(v);
  return v;
}

Result<void> run_test(Context& ctx, const TestOptions& o) {
  BLK_TRY(validate_name("type", o.type));
  std::optional<std::uint32_t> schema_flag;
  if (o.schema) {
    auto n = parse_number(*o.schema, UINT32_MAX, "--schema takes a number");
    if (!n) return std::move(n).error();
    schema_flag = static_cast<std::uint32_t>(*n);
  }
  if (o.a == "-" && o.b == "-") return make_error(Code::usage, "A and B cannot both be stdin");
  // An installed plugin by name, or else a plugin file not yet added.
  std::string path;
  std::error_code ec;
  if (o.plugin.find('/') == std::string::npos) {
    auto paths = ctx.paths();
    auto store = paths ? open_store(*paths) : Result<std::unique_ptr<Store>>(paths.error());
    auto installed = store ? (*store)->plugins() : Result<std::vector<PluginRecord>>(store.error());
    if (installed)
      for (const auto& p : *installed)
        if (p.name == o.plugin) path = paths->plugins() + "/" + p.file;
    if (path.empty() && !fs::exists(o.plugin, ec)) {
      if (!installed) return std::move(installed).error();
      return make_error(
          Code::not_found,
          fmt::format("no merge plugin named '{}' (nor a file of that name)", o.plugin));
    }
  }
  if (path.empty()) path = o.plugin;
  path = fs::absolute(path, ec).string();

  // The plugin, loaded the way it would run.
  std::optional<plugins::LoadedPlugin> local;
  plugins::Worker worker(plugins::self_exe());
  plugins::PluginInfo info;
  std::uint32_t slot = 0;
  if (o.in_process) {
    auto loaded = plugins::LoadedPlugin::load(path);
    if (!loaded) return std::move(loaded).error();
    info = loaded->info();
    local.emplace(std::move(*loaded));
  } else {
    auto s = worker.load(path, &info, 10 * plugins::merge_timeout_ms());
    if (!s) return std::move(s).error();
    slot = *s;
  }
  std::int64_t max = plugins::max_schema(info, o.type);
  if (max < 0)
    return make_error(Code::usage,
                      fmt::format("plugin '{}' does not merge type '{}' (it merges {})", info.name,
                                  o.type, types_text(info.types)));
  std::uint32_t schema = schema_flag.value_or(static_cast<std::uint32_t>(max));

  auto a = version_from_file(o.a, o.type, schema, 'a');
  if (!a) return std::move(a).error();
  auto b = version_from_file(o.b, o.type, schema, 'b');
  if (!b) return std::move(b).error();
  auto merge = [&](const Block& x, const Block& y) -> Result<plugins::MergeReply> {
    Result<plugins::MergeReply> r = local ? Result<plugins::MergeReply>(local->merge(x, y))
                                          : worker.merge(slot, x, y, plugins::merge_timeout_ms());
    if (r) plugins::check_reply(info, o.type, *r);
    return r;
  };
  // blk passes the last-write-wins loser first; the swapped call checks
  // that the result does not hang on the order of the arguments.
  bool b_wins = wins_lww(*b, *a);
  const Block& first = b_wins ? *a : *b;
  const Block& second = b_wins ? *b : *a;
  auto r = merge(first, second);
  if (!r) return std::move(r).error();
  if (r->status != BLK_MERGE_MERGED)
    return make_error(Code::failure,
                      fmt::format("plugin '{}' did not merge them ({}): {}", info.name,
                                  r->status == BLK_MERGE_CANNOT        ? "cannot merge"
                                  : r->status == BLK_MERGE_NOT_HANDLED ? "not handled"
                                                                       : "failed",
                                  r->error));
  auto swapped = merge(second, first);
  if (!swapped) return std::move(swapped).error();
  if (swapped->status != r->status || swapped->blob != r->blob || swapped->schema != r->schema)
    return make_error(Code::failure,
                      fmt::format("plugin '{}' gives another result when A and B are swapped: "
                                  "machines would not agree",
                                  info.name));
  out(r->blob);
  if (ctx.verbose) note(ctx, "merged with schema {}; the same with A and B swapped", r->schema);
  return flush_out();
}

}  // namespace merge_plugin_cmd

void add_merge_plugin(CLI::App& app, Context& ctx) {
  using namespace merge_plugin_cmd;
  auto* cmd = app.add_subcommand("merge-plugin", "Add, list, remove and test merge plugins");
  cmd->require_subcommand(1);

  auto* add = cmd->add_subcommand("add", "Check a merge plugin and copy it into the store");
  auto ao = std::make_shared<AddOptions>();
  add->add_option("path", ao->path, "The plugin's shared object (.so)")
      ->required()
      ->type_name("PATH");
  add->add_option("--name", ao->name, "Its name in the store (default: the name it gives)")
      ->type_name("NAME");
  add->add_flag("--in-process", ao->in_process,
                "Run it inside blk, not in the worker process (trusted plugins only: a crash "
                "then takes blk down)");
  add->footer(
      "Loads the plugin in a worker process, checks its ABI and lists its types; then copies\n"
      "it into STORE/plugins/ and merges the versions held for want of it. Adding a plugin\n"
      "again (same name) replaces it and re-enables it if it was disabled.");
  add->callback([&ctx, ao] { ctx.result = run_add(ctx, *ao); });

  auto* ls = cmd->add_subcommand("ls", "List the store's merge plugins");
  ls->footer(
      "Columns: NAME, TYPES (type:max_schema,...), MODE (worker or in-process), STATUS (ok,\n"
      "N failures, or disabled: why), tab-separated. --json: one object per line.");
  ls->callback([&ctx] { ctx.result = run_ls(ctx); });

  auto* rm = cmd->add_subcommand("rm", "Remove a merge plugin from the store");
  auto name = std::make_shared<std::string>();
  rm->add_option("name", *name, "The plugin's name (blk merge-plugin ls)")
      ->required()
      ->type_name("NAME");
  rm->footer("Its type falls back to last-write-wins. Held versions stay held.");
  rm->callback([&ctx, name] { ctx.result = run_rm(ctx, *name); });

  auto* test = cmd->add_subcommand("test", "Merge two files with a plugin, in both orders");
  auto to = std::make_shared<TestOptions>();
  test->add_option("plugin", to->plugin, "An installed plugin's name, or a plugin file")
      ->required()
      ->type_name("NAME|PATH");
  test->add_option("--type,-t", to->type, "The block type to merge them as")
      ->required()
      ->type_name("TYPE");
  test->add_option("a", to->a, "One version's blob (a file, or - for stdin)")
      ->required()
      ->type_name("A");
  test->add_option("b", to->b, "The other's")->required()->type_name("B");
  test->add_option("--schema", to->schema,
                   "The versions' schema (default: the highest the plugin understands)")
      ->type_name("N");
  test->add_flag("--in-process", to->in_process, "Load it into blk instead of the worker");
  test->footer(
      "Prints the merged blob. The later-modified file (by mtime) wins last-write-wins. Fails\n"
      "(exit 1) if the plugin cannot merge them, or if swapping A and B changes the result.");
  test->callback([&ctx, to] { ctx.result = run_test(ctx, *to); });
}

}  // namespace blk::cli
