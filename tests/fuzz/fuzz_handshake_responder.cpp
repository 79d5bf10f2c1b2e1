// Fuzz target: the handshake as the responder: the input is what an initiator sent
// (hello_I || msg1 || msg3 || record bytes...).
// The invariants are in handshake_harness.hpp.
#include "handshake_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  blk::fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  blk::fuzz::check_handshake(blk::wire::Role::responder, data, size);
  return 0;
}
