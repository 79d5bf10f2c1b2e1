// blk_sim: the deterministic sync simulator (see README.md).
//
//   blk_sim --seed N                 run one seed, print its trace and PASS/FAIL
//   blk_sim --seeds A..B             run seeds A to B (both included), quietly
//   blk_sim --from A --count N       the same as --seeds A..A+N-1
//   blk_sim --regressions FILE       run every seed listed in FILE
// Options (README.md has more):
//   --machines K          2 to 6 (default: drawn per seed)
//   --far-skew, --no-far-skew   one clock beyond the 24 h future-skew limit
//                         (default: drawn per seed, 1 in 10)
//   --check-determinism   run each seed twice and compare the traces too
//   --determinism-only    the same, and only that counts, not the checks
//   --jobs J              run the seeds in J processes
//   --quiet               with --seed: no trace, only the result
//   --states              log every version each machine holds after the
//                         drain and after each sync of the rounds
//   --bound R             rounds within which the machines must agree
//                         (default 1); more looks for bugs behind a missed one
//   --extra-rounds R      after a missed bound, rounds run to diagnose it
#include <fmt/format.h>
#include <poll.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "rng.hpp"
#include "world.hpp"

namespace fs = std::filesystem;
using namespace blk::sim;

namespace {

struct Run {
  std::uint64_t seed = 0;
  int machines = 0;
  int far_skew = -1;
};

struct Args {
  std::vector<Run> runs;
  bool single = false;
  bool quiet = false;
  bool determinism = false;
  bool determinism_only = false;  // the runs' own checks do not count
  bool states = false;
  int jobs = 1;
  int extra_rounds = -1;
  int bound = 1;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "blk_sim: %s\n"
               "usage: blk_sim --seed N | --seeds A..B | --from A --count N | --regressions FILE\n"
               "       [--machines K] [--far-skew|--no-far-skew] [--check-determinism]\n"
               "       [--determinism-only] [--jobs J] [--quiet] [--states] [--bound R]\n"
               "       [--extra-rounds R]\n",
               why.c_str());
  std::exit(2);
}

std::uint64_t number(const std::string& s) {
  try {
    std::size_t used = 0;
    auto v = std::stoull(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  usage(fmt::format("not a number: '{}'", s));
}

// Applies one per-run option; false if `flag` is not one.
bool run_option(Run& run, const std::string& flag, const std::function<std::string()>& value) {
  if (flag == "--machines") {
    run.machines = static_cast<int>(number(value()));
    if (run.machines < 2 || run.machines > 6) usage("--machines takes 2 to 6");
  } else if (flag == "--far-skew") {
    run.far_skew = 1;
  } else if (flag == "--no-far-skew") {
    run.far_skew = 0;
  } else {
    return false;
  }
  return true;
}

// One seed per line, with its options: "1234 --machines 3  # why it is here".
std::vector<Run> read_regressions(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage(fmt::format("cannot read {}", path));
  std::vector<Run> runs;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
    if (w.empty()) continue;
    Run r;
    r.seed = number(w[0]);
    for (std::size_t i = 1; i < w.size(); ++i) {
      auto value = [&] {
        if (i + 1 >= w.size()) usage(fmt::format("{}: {} needs a value", path, w[i]));
        return w[++i];
      };
      if (!run_option(r, w[i], value)) usage(fmt::format("{}: unknown option {}", path, w[i]));
    }
    runs.push_back(r);
  }
  return runs;
}

Args parse(int argc, char** argv) {
  Args a;
  Run shared;
  std::optional<std::uint64_t> from, count;
  std::string regressions;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) usage(f + " needs a value");
      return std::string(argv[++i]);
    };
    if (run_option(shared, f, value)) continue;
    if (f == "--seed") {
      a.single = true;
      from = number(value());
      count = 1;
    } else if (f == "--seeds") {
      std::string v = value();
      auto dots = v.find("..");
      if (dots == std::string::npos) usage("--seeds takes A..B");
      from = number(v.substr(0, dots));
      auto to = number(v.substr(dots + 2));
      if (to < *from) usage("--seeds A..B needs A <= B");
      count = to - *from + 1;
    } else if (f == "--from") {
      from = number(value());
    } else if (f == "--count") {
      count = number(value());
    } else if (f == "--regressions") {
      regressions = value();
    } else if (f == "--check-determinism") {
      a.determinism = true;
    } else if (f == "--determinism-only") {
      a.determinism = a.determinism_only = true;
    } else if (f == "--states") {
      a.states = true;
    } else if (f == "--quiet") {
      a.quiet = true;
    } else if (f == "--jobs") {
      a.jobs = static_cast<int>(number(value()));
      if (a.jobs < 1 || a.jobs > 64) usage("--jobs takes 1 to 64");
    } else if (f == "--bound") {
      a.bound = static_cast<int>(number(value()));
      if (a.bound < 1) usage("--bound takes 1 or more");
    } else if (f == "--extra-rounds") {
      a.extra_rounds = static_cast<int>(number(value()));
    } else {
      usage("unknown option " + f);
    }
  }
  if (!regressions.empty()) {
    if (from) usage("--regressions does not go with --seed/--seeds/--from");
    a.runs = read_regressions(regressions);
    for (auto& r : a.runs) {
      if (shared.machines) r.machines = shared.machines;
      if (shared.far_skew >= 0) r.far_skew = shared.far_skew;
    }
    return a;
  }
  if (!from || !count) usage("which seeds? --seed N, --seeds A..B or --from A --count N");
  for (std::uint64_t s = *from; s < *from + *count; ++s) {
    Run r = shared;
    r.seed = s;
    a.runs.push_back(r);
  }
  return a;
}

// Stores go to /dev/shm when there is one: SQLite's fsyncs cost nothing there.
std::string make_root() {
  std::error_code ec;
  fs::path base = fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0
                      ? fs::path("/dev/shm")
                      : fs::temp_directory_path();
  std::string templ = (base / "blk-sim-XXXXXX").string();
  if (!mkdtemp(templ.data())) usage(fmt::format("cannot create a directory in {}", base.string()));
  return templ;
}

std::string replay_command(const char* argv0, const Args& args, const Run& r) {
  std::string cmd = fmt::format("{} --seed {}", argv0, r.seed);
  if (args.bound != 1) cmd += fmt::format(" --bound {}", args.bound);
  if (r.machines) cmd += fmt::format(" --machines {}", r.machines);
  if (r.far_skew == 1) cmd += " --far-skew";
  if (r.far_skew == 0) cmd += " --no-far-skew";
  return cmd;
}

// Runs one seed (twice with --check-determinism); the failure reason, or "".
std::string run_one(const Args& args, const Run& r, const std::string& root, bool echo,
                    Outcome* shown = nullptr) {
  auto once = [&](bool with_echo) {
    Config c;
    c.seed = r.seed;
    c.machines = r.machines;
    c.far_skew = r.far_skew;
    c.echo = with_echo;
    c.states = args.states;
    c.extra_rounds = args.extra_rounds;
    c.bound = args.bound;
    c.dir = fmt::format("{}/s{}", root, r.seed);
    std::error_code ec;
    fs::remove_all(c.dir, ec);
    fs::create_directories(c.dir, ec);
    Outcome o = run_seed(c);
    fs::remove_all(c.dir, ec);
    return o;
  };
  Outcome first = once(echo);
  if (shown) *shown = first;
  std::string reason = first.pass || args.determinism_only ? "" : first.reason;
  if (args.determinism) {
    Outcome second = once(false);
    if (second.trace_hash != first.trace_hash || second.trace_lines != first.trace_lines)
      reason =
          fmt::format("not deterministic: trace {:016x} ({} lines), then {:016x} ({} lines)",
                      first.trace_hash, first.trace_lines, second.trace_hash, second.trace_lines) +
          (reason.empty() ? "" : "; and: " + reason);
  }
  return reason;
}

int run_single(const Args& args, const Run& r, const std::string& root, const char* argv0) {
  Outcome o;
  std::string reason = run_one(args, r, root, !args.quiet, &o);
  if (reason.empty() && args.determinism_only) {
    fmt::print("DETERMINISTIC seed {}: trace {:016x} twice{}\n", r.seed, o.trace_hash,
               o.pass ? "" : fmt::format(" (the run failed: {})", o.reason));
    return 0;
  }
  if (reason.empty()) {
    fmt::print("PASS seed {}: {} machines{}, {} events, trace {:016x}{}\n", r.seed, o.machines,
               o.far_skew ? " (far skew)" : "", o.events, o.trace_hash,
               args.determinism ? " (twice, identical)" : "");
    return 0;
  }
  if (args.quiet)
    for (const auto& line : o.tail) fmt::print("{}\n", line);
  fmt::print("FAIL seed {}: {}\n  replay: {}\n", r.seed, reason, replay_command(argv0, args, r));
  return 1;
}

// A worker process: runs runs[k] for k = job, job + jobs, ... and reports on
// `out`: "RUN k" before each, then a failure report if it failed.
void run_share(const Args& args, const std::string& root, int job, const char* argv0,
               std::FILE* out) {
  for (std::size_t k = static_cast<std::size_t>(job); k < args.runs.size();
       k += static_cast<std::size_t>(args.jobs)) {
    const Run& r = args.runs[k];
    fmt::print(out, "RUN {}\n", k);
    std::fflush(out);
    std::string reason = run_one(args, r, root, false);
    if (reason.empty()) continue;
    fmt::print(out, "FAIL seed {}: {}\n  replay: {}\n", r.seed, reason,
               replay_command(argv0, args, r));
    std::fflush(out);
  }
}

// Seeds run in worker processes (--jobs), so that a crash in the core is
// reported with its seed like any other failure.
int run_many(const Args& args, const std::string& root, const char* argv0) {
  auto started = std::chrono::steady_clock::now();
  std::fflush(stdout);
  struct Worker {
    pid_t pid;
    int fd;
    std::string pending;
    std::optional<std::size_t> running;  // index into args.runs
  };
  std::vector<Worker> workers;
  for (int j = 0; j < args.jobs; ++j) {
    int p[2];
    if (pipe(p) != 0) usage("pipe failed");
    pid_t pid = fork();
    if (pid < 0) usage("fork failed");
    if (pid == 0) {
      close(p[0]);
      std::FILE* out = fdopen(p[1], "w");
      run_share(args, root, j, argv0, out);
      std::fclose(out);
      _exit(0);
    }
    close(p[1]);
    workers.push_back(Worker{pid, p[0], {}, std::nullopt});
  }
  int failed = 0;
  std::vector<pollfd> polls;
  for (const auto& w : workers) polls.push_back(pollfd{w.fd, POLLIN, 0});
  for (std::size_t open = workers.size(); open > 0;) {
    if (poll(polls.data(), polls.size(), -1) < 0) continue;
    for (std::size_t k = 0; k < polls.size(); ++k) {
      if (polls[k].fd < 0 || !(polls[k].revents & (POLLIN | POLLHUP))) continue;
      Worker& w = workers[k];
      char buf[4096];
      ssize_t n = read(w.fd, buf, sizeof buf);
      if (n <= 0) {
        close(w.fd);
        polls[k].fd = -1;
        --open;
        continue;
      }
      w.pending.append(buf, static_cast<std::size_t>(n));
      for (std::size_t eol; (eol = w.pending.find('\n')) != std::string::npos;) {
        std::string line = w.pending.substr(0, eol + 1);
        w.pending.erase(0, eol + 1);
        if (line.starts_with("RUN ")) {
          w.running = static_cast<std::size_t>(number(line.substr(4, line.size() - 5)));
          continue;
        }
        if (line.starts_with("FAIL seed")) ++failed;
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
      std::fflush(stdout);
    }
  }
  for (auto& w : workers) {
    int status = 0;
    waitpid(w.pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    ++failed;
    std::string how = WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                          : fmt::format("exit code {}", WEXITSTATUS(status));
    if (w.running)
      fmt::print("FAIL seed {}: the simulator died ({})\n  replay: {}\n",
                 args.runs[*w.running].seed, how,
                 replay_command(argv0, args, args.runs[*w.running]));
    else
      fmt::print("FAIL a worker process died ({})\n", how);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("{} seeds{}: {} passed, {} failed in {:.1f} s ({:.1f} seeds/s, {} job{})\n",
             args.runs.size(), args.determinism ? " (each twice)" : "",
             args.runs.size() - std::min(args.runs.size(), static_cast<std::size_t>(failed)),
             failed, secs, static_cast<double>(args.runs.size()) / secs, args.jobs,
             args.jobs > 1 ? "s" : "");
  return failed > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  install_deterministic_randombytes();
  if (sodium_init() < 0) {
    std::fprintf(stderr, "blk_sim: libsodium failed to initialize\n");
    return 1;
  }
  std::string root = make_root();
  int rc = 0;
  if (args.single)
    rc = run_single(args, args.runs.front(), root, argv[0]);
  else if (args.runs.empty())
    fmt::print("no seeds to run\n");
  else
    rc = run_many(args, root, argv[0]);
  std::error_code ec;
  fs::remove_all(root, ec);
  return rc;
}
