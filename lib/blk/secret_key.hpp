// Reading this machine's secret key back (identity.hpp writes it). The key
// is the machine's identity: whoever can read the file can be this machine,
// so blk refuses a key file others can read, as ssh does.
#pragma once

#include <string>
#include <string_view>

#include "blk/error.hpp"
#include "blk/identity.hpp"

namespace blk {

// Loads the key pair whose seed write_secret_key stored at `path` (base64,
// one line) and checks that its public key is `expected_public_key` (the
// store's, base64). Errors:
//   Code::failure         the file can be read by its group or by others
//                         (mode & 077, checked on the open file, for every
//                         user including root); the message says to run
//                         `chmod 600 PATH`. Also: not a regular file, or an
//                         I/O error.
//   Code::store_unusable  the file is missing, is not a base64 seed of 32
//                         bytes, or holds another machine's key.
// The file's text and the seed are wiped here; the returned secret key is
// the caller's to wipe (sodium_memzero) when done.
Result<KeyPair> load_secret_key(const std::string& path, std::string_view expected_public_key);

}  // namespace blk
