#include "world.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "blk/sync/negentropy.hpp"
#include "checks.hpp"
#include "workload.hpp"

namespace blk::sim {
namespace {

constexpr Millis kStart = 1'700'000'000'000;  // virtual time starts in November 2023
constexpr Millis kHour = 3'600'000;
constexpr Millis kMaxSkew = 6 * kHour;       // ordinary clocks: within ±6 h of true time
constexpr Millis kDrainLimit = 30 * 60'000;  // after the faults, every connection ends by then
constexpr Millis kSyncLimit = 60 * 60'000;   // one sync of the rounds, at most
constexpr std::uint64_t kMaxEvents = 5'000'000;

bool later(const auto& a, const auto& b) {
  return a.at != b.at ? a.at > b.at : a.seq > b.seq;
}

// Each session gets its own options: the defaults, or small windows,
// messages and batches so that a small workload still spans many of them.
sync::Options random_options(Rng& rng, bool full, bool watch) {
  sync::Options o;
  o.full = full;
  o.watch = watch;
  if (rng.percent(50)) {
    o.window = static_cast<std::size_t>(rng.range(1, 4));
    o.max_unacked_offers = static_cast<std::size_t>(rng.range(1, 3));
    o.message_bytes = static_cast<std::size_t>(rng.skewed(64, 4096));
    o.pump_bytes = static_cast<std::size_t>(rng.skewed(256, 16384));
    o.batch_versions = static_cast<std::size_t>(rng.range(1, 4));
    o.batch_bytes = static_cast<std::size_t>(rng.skewed(256, 32768));
  }
  if (rng.percent(30)) o.type_priority = {{"task", 2}, {"photo", -1}};
  if (rng.percent(20)) o.negentropy_frame_limit = negentropy::kMinFrameSizeLimit + rng.below(4096);
  o.poll_interval = rng.range(100, 2000);
  return o;
}

std::string options_text(const sync::Options& o) {
  std::string out;
  if (o.full) out += " full";
  if (o.watch) out += " watch";
  if (o.window < 1000)
    out += fmt::format(" window={} unacked={} batch={}", o.window, o.max_unacked_offers,
                       o.batch_versions);
  return out;
}

}  // namespace

World::World(const Config& config)
    : cfg_(config),
      rng_(config.seed, config.schedule),
      trace_(config.echo),
      start_(kStart),
      now_(kStart) {}

World::~World() {
  conns_.clear();  // sessions before the stores they use
  heap_.clear();
}

void World::at(Millis when, std::function<void()> fn) {
  heap_.push_back(Event{std::max(when, now_), seq_++, std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(),
                 [](const Event& a, const Event& b) { return later(a, b); });
}

bool World::step() {
  if (heap_.empty()) return false;
  std::pop_heap(heap_.begin(), heap_.end(),
                [](const Event& a, const Event& b) { return later(a, b); });
  Event ev = std::move(heap_.back());
  heap_.pop_back();
  now_ = std::max(now_, ev.at);
  ++events_;
  ev.fn();
  return true;
}

bool World::run_until(const std::function<bool()>& done, Millis limit) {
  while (!done()) {
    if (heap_.empty() || heap_.front().at > limit) return false;
    if (events_ >= kMaxEvents) {
      fail(fmt::format("over {} events: something never stops", kMaxEvents));
      return false;
    }
    step();
  }
  return true;
}

void World::log(std::string_view who, std::string_view what) {
  trace_.add(now_ - start_, who, what);
}

void World::fail(std::string why) {
  log("sim", "FAIL: " + why);
  failures_.push_back(std::move(why));
}

bool World::reachable(int a, int b) const {
  for (const auto& p : partitions_)
    if (p.from <= now_ && now_ < p.until &&
        p.group[static_cast<std::size_t>(a)] != p.group[static_cast<std::size_t>(b)])
      return false;
  return true;
}

Millis World::heals_at(int a, int b) const {
  Millis t = now_;
  for (bool moved = true; moved;) {
    moved = false;
    for (const auto& p : partitions_)
      if (p.from <= t && t < p.until &&
          p.group[static_cast<std::size_t>(a)] != p.group[static_cast<std::size_t>(b)]) {
        t = p.until;
        moved = true;
      }
  }
  return t;
}

bool World::all_closed() const {
  return std::all_of(conns_.begin(), conns_.end(),
                     [](const auto& c) { return c.second->closed(); });
}

// --- setup and the fault phase ------------------------------------------

Result<void> World::setup() {
  int n = cfg_.machines > 0 ? cfg_.machines : static_cast<int>(rng_.range(2, 6));
  far_skew_ = cfg_.far_skew >= 0 ? cfg_.far_skew == 1 : rng_.percent(10);
  int far = far_skew_ ? static_cast<int>(rng_.below(static_cast<std::uint64_t>(n))) : -1;
  log("sim", fmt::format("seed {}: {} machines{}", cfg_.seed, n,
                         far_skew_ ? ", one clock beyond the future-skew limit" : ""));
  machines_.resize(static_cast<std::size_t>(n));  // never resized again: channels borrow keys
  for (int i = 0; i < n; ++i) {
    Millis skew = i == far           ? rng_.range(31 * kHour, 36 * kHour)
                  : rng_.percent(30) ? 0
                                     : rng_.range(-kMaxSkew, kMaxSkew);
    Machine& m = machine(i);
    BLK_TRY(create_machine(m, i, cfg_.dir, rng_, skew, &now_));
    log(m.name, fmt::format("store id={:.8} epoch={:.8} clock {}", m.id, m.epoch, skew_text(skew)));
  }
  workload_ = std::make_unique<Workload>(*this, static_cast<int>(rng_.range(2, 3 + 2 * n)));
  return {};
}

void World::plan_faults(Millis end) {
  int n = machine_count();
  auto when = [&] {
    return now_ + static_cast<Millis>(rng_.below(static_cast<std::uint64_t>(end - now_)));
  };
  auto any = [&] { return static_cast<int>(rng_.below(static_cast<std::uint64_t>(n))); };
  auto other = [&](int m) {
    int o = static_cast<int>(rng_.below(static_cast<std::uint64_t>(n - 1)));
    return o >= m ? o + 1 : o;
  };
  for (auto k = rng_.range(4, 6 + 4 * n); k > 0; --k) {
    int m = any();
    at(when(), [this, m] { workload_->transaction(m); });
  }
  for (auto k = rng_.range(0, 3); k > 0; --k) {
    std::vector<int> ms;
    for (int m = 0; m < n; ++m)
      if (rng_.percent(60)) ms.push_back(m);
    if (ms.size() < 2) {
      int m = any();
      ms = {m, other(m)};
    }
    at(when(), [this, ms] { workload_->conflict(ms); });
  }
  for (auto k = rng_.range(2, 4 + 3 * n); k > 0; --k) {
    int a = any(), b = other(a);
    bool full = rng_.percent(10), watch = rng_.percent(10);
    Millis watch_for = rng_.skewed(500, 60'000);
    at(when(), [this, a, b, full, watch, watch_for] {
      Connection* c = dial(a, b, full, watch, true);
      if (c && watch)
        at(now_ + watch_for, [this, c] {
          if (faults_ && c->is_open(0)) c->vanish(0, true, "watch stopped by the user");
        });
    });
  }
  for (auto k = rng_.percent(30) ? 0 : rng_.range(1, n); k > 0; --k) {
    int m = any();
    bool power = rng_.percent(50);
    Millis down = rng_.skewed(100, 120'000);
    at(when(), [this, m, power, down] {
      if (!machine(m).up()) return;
      crash(m, power);
      at(now_ + down, [this, m] { restart(m); });
    });
  }
  for (auto k = rng_.percent(40) ? rng_.range(1, 2) : 0; k > 0; --k) {
    Partition p;
    int lone = any();
    for (int m = 0; m < n; ++m) p.group.push_back(m == lone ? 1 : static_cast<int>(rng_.below(2)));
    p.group[static_cast<std::size_t>(other(lone))] = 0;  // both sides non-empty
    p.from = when();
    p.until = p.from + rng_.skewed(500, 240'000);
    at(p.from, [this, p] { partition(p); });
  }
}

Connection* World::dial(int from, int to, bool full, bool watch, bool faults) {
  Machine &a = machine(from), &b = machine(to);
  std::string what = fmt::format("dial {}->{}", a.name, b.name);
  if (!a.up()) return nullptr;
  if (!b.up()) {
    log("sim", what + ": refused, it is down");
    return nullptr;
  }
  if (!reachable(from, to)) {
    log("sim", what + ": unreachable, partitioned");
    return nullptr;
  }
  Link link = random_link(rng_, faults);
  SideSetup dialler{from, random_options(rng_, full, watch)};
  SideSetup listener{to, random_options(rng_, false, false)};
  what += options_text(dialler.options);
  what += fmt::format(" | {}+{}ms chunks<={} window={}", link.latency, link.jitter, link.max_chunk,
                      link.window);
  if (link.cut_at) what += fmt::format(" cut@{}", *link.cut_at);
  int id = next_conn_++;
  auto conn =
      std::make_unique<Connection>(*this, id, std::move(dialler), std::move(listener), link);
  Connection* c = conn.get();
  conns_.emplace(id, std::move(conn));
  log(c->name(), what);
  c->open();
  return c;
}

void World::crash(int m, bool power) {
  Machine& x = machine(m);
  log(x.name, power ? "crash: power lost" : "crash: process killed");
  for (auto& [id, c] : conns_)
    for (int s = 0; s < 2; ++s)
      if (c->machine(s) == m && c->is_open(s)) c->vanish(s, !power, "crashed");
  crash_machine(x);
}

void World::restart(int m) {
  Machine& x = machine(m);
  if (x.up()) return;
  if (auto r = start_machine(x, &now_); !r)
    return fail(fmt::format("{} restart: {}", x.name, r.error().message));
  log(x.name, "restarted");
}

void World::partition(Partition p) {
  std::string a, b;
  for (int m = 0; m < machine_count(); ++m)
    (p.group[static_cast<std::size_t>(m)] ? b : a) += " " + machine(m).name;
  log("sim", fmt::format("partition{} |{} for {} ms", a, b, p.until - p.from));
  partitions_.push_back(std::move(p));
}

// --- after the faults ----------------------------------------------------

bool World::drain() {
  faults_ = false;
  log("sim", "faults stop: partitions heal, machines restart, watch syncs stop");
  for (auto& p : partitions_) p.until = std::min(p.until, now_);
  for (auto& [id, c] : conns_) {
    c->stop_faults();
    if (c->watch() && c->is_open(0)) c->vanish(0, true, "watch stopped by the user");
  }
  for (int m = 0; m < machine_count(); ++m) restart(m);
  return run_until([this] { return all_closed(); }, now_ + kDrainLimit);
}

// One sync per pair, one at a time. Each machine then has synced directly
// with every other, each of which held at least its own versions: so every
// machine holds the join of all versions, the same everywhere (merges are
// order-independent). One round must converge, and a second must find
// nothing to do — given that cursors are right.
bool World::sync_round(int round, bool& silent) {
  // Round 0: the check after convergence.
  log("sim", round ? fmt::format("round {}", round) : std::string("round: after convergence"));
  std::vector<std::pair<int, int>> pairs;
  for (int a = 0; a < machine_count(); ++a)
    for (int b = a + 1; b < machine_count(); ++b) pairs.emplace_back(a, b);
  rng_.shuffle(pairs);
  silent = true;
  for (auto [a, b] : pairs) {
    if (rng_.percent(50)) std::swap(a, b);
    Connection* c = dial(a, b, round == 1 && rng_.percent(10), false, false);
    if (!c) {
      fail(fmt::format("round {}: {} could not dial {}", round, machine(a).name, machine(b).name));
      return false;
    }
    if (!run_until([c] { return c->closed(); }, now_ + kSyncLimit)) {
      fail(fmt::format("round {}: sync {} did not end within {} min", round, c->name(),
                       kSyncLimit / 60'000));
      return false;
    }
    if (!c->complete()) {
      fail(fmt::format("round {}: sync {} did not complete (ends: {}, {})", round, c->name(),
                       end_name(c->end(0)), end_name(c->end(1))));
      return false;
    }
    log_state(a);
    log_state(b);
    for (int s = 0; s < 2; ++s) {
      const auto& st = c->stats(s);
      if (st.versions_received || st.merged || st.refused || st.reconciled || st.round_trips > 1)
        silent = false;
    }
  }
  return true;
}

void World::run_rounds() {
  bool silent = false;
  int bound = std::max(cfg_.bound, 1);
  std::optional<std::string> diverged;
  for (int r = 1; r <= bound; ++r) {
    if (!sync_round(r, silent)) return;
    diverged = check_converged(machines_);
    if (!diverged) break;
  }
  if (diverged) {
    int extra = cfg_.extra_rounds >= 0 ? cfg_.extra_rounds : 2 * machine_count();
    int later = 0;
    for (int r = bound + 1; r <= bound + extra && !later; ++r) {
      if (!sync_round(r, silent)) break;
      if (!check_converged(machines_)) later = r;
    }
    fail(fmt::format("not converged after {} round{} of syncs ({}): {}", bound,
                     bound > 1 ? "s" : "",
                     later ? fmt::format("converged after round {}", later)
                           : fmt::format("nor after {} more", extra),
                     *diverged));
    return;
  }
  if (!sync_round(0, silent)) return;
  if (!silent)
    fail(
        "the round after convergence was not silent: a sync received, merged, refused or "
        "reconciled something, or took more than one round trip (see the trace)");
}

void World::log_state(int m) {
  if (!cfg_.states) return;
  auto blocks = all_blocks(*machine(m).store);
  if (!blocks) return log(machine(m).name, blocks.error().message);
  for (const auto& b : *blocks) log(machine(m).name, "holds " + version_text(b, machines_));
}

std::string World::state_digest(int m) {
  auto blocks = all_blocks(*machine(m).store);
  if (!blocks) return blocks.error().message;
  std::uint64_t h = 0xcbf29ce484222325ull;
  int deleted = 0;
  for (const auto& b : *blocks) {
    for (unsigned char c : b.id + b.version_hash) h = (h ^ c) * 0x100000001b3ull;
    deleted += b.deleted();
  }
  return fmt::format("{} blocks ({} deleted), digest {:016x}", blocks->size(), deleted, h);
}

Outcome World::run() {
  if (auto r = setup(); !r) {
    fail(fmt::format("setup: {}", r.error().message));
  } else {
    Millis end = now_ + rng_.range(60'000, 180'000);
    plan_faults(end);
    while (!heap_.empty() && heap_.front().at < end && events_ < kMaxEvents) step();
    now_ = std::max(now_, end);
    if (events_ >= kMaxEvents) fail("too many events during the faults");
    if (failures_.empty() && !drain())
      fail(fmt::format("connections still open {} min after the faults stopped",
                       kDrainLimit / 60'000));
    for (int m = 0; m < machine_count() && failures_.empty(); ++m) log_state(m);
    if (failures_.empty() && far_skew_) {
      Millis jump = 0;
      for (const auto& m : machines_) jump = std::max(jump, m.skew);
      now_ += jump;
      log("sim",
          fmt::format("time jumps {} ahead: no clock is too far ahead any more", skew_text(jump)));
    }
    if (failures_.empty()) run_rounds();
    if (failures_.empty()) {
      for (auto check :
           {check_converged(machines_), check_acknowledged(machines_, workload_->acked()),
            check_no_phantoms(machines_, workload_->acked_tags())})
        if (check) fail(*check);
    }
    for (int m = 0; m < machine_count(); ++m)
      if (machine(m).up()) log(machine(m).name, "final: " + state_digest(m));
  }
  Outcome out;
  out.pass = failures_.empty();
  if (!out.pass) out.reason = failures_.front();
  log("sim", out.pass ? "PASS" : "FAIL");
  out.trace_hash = trace_.hash();
  out.trace_lines = trace_.lines();
  out.tail = trace_.tail();
  out.machines = machine_count();
  out.far_skew = far_skew_;
  out.events = events_;
  return out;
}

Outcome run_seed(const Config& config) {
  seed_randombytes(config.seed);
  World world(config);
  return world.run();
}

}  // namespace blk::sim
