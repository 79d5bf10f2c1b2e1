#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "blk/manifest.hpp"
#include "blk/permissions.hpp"
#include "cli.hpp"

namespace blk::cli {
namespace {           // names unique across cmd/: it is built as one unit
int write_errno = 0;  // the first failed write's errno; 0 while all is well
bool stdin_closed = false;

bool failed() {
  if (write_errno == 0) write_errno = errno ? errno : EIO;
  return false;
}
}  // namespace

bool out(std::string_view bytes) {
  if (write_errno) return false;
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size()) return failed();
  return true;
}

Result<void> flush_out() {
  if (!write_errno && std::fflush(stdout) != 0) failed();
  if (write_errno == 0 || write_errno == EPIPE) return {};
  return make_error(Code::failure,
                    fmt::format("cannot write to standard output: {}", std::strerror(write_errno)));
}

bool out_closed() {
  return write_errno != 0;
}

void note_closed_stdin() {
  stdin_closed = fcntl(0, F_GETFD) == -1 && errno == EBADF;
}

Result<std::FILE*> open_input(const std::string& file) {
  if (file == "-") {
    if (stdin_closed)
      return make_error(Code::invalid_input, "cannot read -: standard input is closed");
    return stdin;
  }
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f)
    return make_error(Code::invalid_input,
                      fmt::format("cannot open {}: {}", file, std::strerror(errno)));
  return f;
}

}  // namespace blk::cli

namespace blk::cli {

Result<std::unique_ptr<Store>> Context::open_for_write() const {
  auto p = paths();
  if (!p) return std::move(p).error();
  auto store = open_store(*p);
  if (!store) return store;
  // A manifest that cannot be read restricts nothing here: sync, which
  // needs it, reports it.
  auto manifest = load_manifest(p->manifest());
  auto self = (*store)->identity();
  if (manifest && self) apply_write_policy(**store, *manifest, self->machine_id);
  return store;
}

}  // namespace blk::cli
