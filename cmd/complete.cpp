// blk __complete WORD...: the candidates for the last word of a command line
// (WORD... are the words after `blk`; the last may be empty), one per line. The bash, zsh and fish
// shims in completions/ call it, so the completions always know exactly the subcommands and options
// of this blk.
#include <algorithm>

#include "blk/manifest.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace complete_cmd {

bool takes_value(const CLI::Option* opt) {
  return opt->nonpositional() && opt->get_items_expected_min() > 0;
}

const CLI::Option* find_option(CLI::App* app, const std::string& word) {
  for (CLI::App* a = app; a; a = a->get_parent())
    for (const CLI::Option* opt : a->get_options())
      if (opt->check_name(word)) return opt;
  return nullptr;
}

// The peers' names in the manifest of the store the command line names (or
// the default one); none if there is no readable manifest.
std::vector<std::string> peer_names(const std::optional<std::string>& store_dir,
                                    const std::optional<std::string>& app_name) {
  std::vector<std::string> names;
  auto paths = resolve_store(store_dir, app_name);
  if (!paths) return names;
  auto manifest = load_manifest(paths->manifest());
  if (!manifest) return names;
  for (const Peer& p : manifest->peers) names.push_back(p.name);
  return names;
}

void run(CLI::App* root, const std::vector<std::string>& words) {
  std::string current = words.empty() ? "" : words.back();
  CLI::App* app = root;
  bool value_expected = false;
  std::optional<std::string> store_dir, app_name;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (value_expected) {
      value_expected = false;
      if (words[i - 1] == "--store") store_dir = w;
      if (words[i - 1] == "--app") app_name = w;
      continue;
    }
    if (w.rfind("--store=", 0) == 0) store_dir = w.substr(8);
    if (w.rfind("--app=", 0) == 0) app_name = w.substr(6);
    if (!w.empty() && w[0] == '-') {
      const CLI::Option* opt = find_option(app, w.substr(0, w.find('=')));
      value_expected = opt && takes_value(opt) && w.find('=') == std::string::npos;
      continue;
    }
    for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
      if (sub->get_name() == w) app = sub;
  }
  if (value_expected) return;        // a value: let the shell complete file names
  std::vector<std::string> offered;  // --help is on every level: say it once
  auto offer = [&](const std::string& s) {
    if (s.rfind(current, 0) != 0 || std::find(offered.begin(), offered.end(), s) != offered.end())
      return;
    offered.push_back(s);
    out(s + "\n");
  };
  if (!current.empty() && current[0] == '-') {
    for (CLI::App* a = app; a; a = a->get_parent())
      for (const CLI::Option* opt : a->get_options())
        if (opt->nonpositional())
          for (const auto& name : opt->get_lnames()) offer("--" + name);
    return;
  }
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    if (!sub->get_group().empty()) offer(sub->get_name());
  // Commands that take peers: their names (an address is typed out).
  std::string name = app->get_name();
  bool takes_peers = name == "sync" || name == "ping" ||
                     (name == "rm" && app->get_parent() && app->get_parent()->get_name() == "peer");
  if (takes_peers)
    for (const auto& peer : peer_names(store_dir, app_name)) offer(peer);
}

}  // namespace complete_cmd

void complete(CLI::App& app, const std::vector<std::string>& words) {
  complete_cmd::run(&app, words);
}

}  // namespace blk::cli
