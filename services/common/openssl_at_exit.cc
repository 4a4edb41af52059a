// OpenSSL without its exit handler, in every Kinex executable (CMake links
// this object into each through kinex_link_process_support).
//
// OpenSSL 3 frees its global state from an atexit handler (OPENSSL_cleanup)
// unless its first initialisation says OPENSSL_INIT_NO_ATEXIT. gRPC's own
// threads (pollers, the executor, timers) can outlive main() and still use
// OpenSSL while exit handlers run. After that cleanup:
// - a call into OpenSSL may crash the process (a RAND_bytes call does:
//   tests/common/openssl_at_exit_test.cc), so a clean shutdown could end in
//   SIGSEGV;
// - a thread that ends loses its per-thread state (random generators, the
//   error queue), which LeakSanitizer reported from a kinex process in an
//   end-to-end test (7 objects from CRYPTO_zalloc; grpc/grpc#38539 is the
//   same race).
// Without the handler OpenSSL's state lives until the process ends, and the
// kernel takes the memory back then. Nothing Kinex writes depends on
// OpenSSL's cleanup: the audit log commits every event before answering.

#include <openssl/crypto.h>

namespace kinex {
namespace {

// Before every C++ static initializer of the executable (those have the
// default priority), so no other code can initialise OpenSSL first with the
// handler. Priority 101 (the first after the implementation's) is left to
// tests/common/openssl_exit_probe.cc, which must register its own exit
// handler before this runs.
__attribute__((constructor(102))) void InitOpenSslWithoutExitHandler() {
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
}

}  // namespace
}  // namespace kinex
