// Fuzz target: the handshake as the initiator: it has sent its hello and msg1;
// the input is what came back (hello_R || msg2 || record bytes...).
// The invariants are in handshake_harness.hpp.
#include "handshake_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  blk::fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  blk::fuzz::check_handshake(blk::wire::Role::initiator, data, size);
  return 0;
}
