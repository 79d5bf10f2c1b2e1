// blk __complete WORD...: the candidates for the last word of a command line
// (WORD... are the words after `blk`; the last may be empty), one per line. The bash, zsh and fish
// shims in completions/ call it, so the completions always know exactly the subcommands and options
// of this blk.
#include <algorithm>

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

void run(CLI::App* root, const std::vector<std::string>& words) {
  std::string current = words.empty() ? "" : words.back();
  CLI::App* app = root;
  bool value_expected = false;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (value_expected) {
      value_expected = false;
      continue;
    }
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
}

}  // namespace complete_cmd

void complete(CLI::App& app, const std::vector<std::string>& words) {
  complete_cmd::run(&app, words);
}

}  // namespace blk::cli
