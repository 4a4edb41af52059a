// Uses OpenSSL after every other exit handler has run, as a gRPC thread
// still running while the process exits would, and prints whether it could:
// "ok" with exit code 0. Linked like every Kinex executable (kinex_cc_binary:
// services/common/openssl_at_exit.cc); without that object OpenSSL's own exit
// handler frees its state first and this process dies of SIGSEGV inside
// RAND_bytes (OpenSSL 3.0, Debian 12). Run by openssl_at_exit_test.

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace {

void UseOpenSslLast() {
  unsigned char random[16];
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  const bool ok = RAND_bytes(random, sizeof random) == 1 &&
                  EVP_Digest(random, sizeof random, digest, &digest_size, EVP_sha256(), nullptr) ==
                      1 &&
                  digest_size == 32;
  std::printf("RAND_bytes and SHA-256 after every exit handler: %s\n", ok ? "ok" : "failed");
  std::fflush(stdout);
  if (!ok) std::_Exit(1);
}

// Registered before anything initialises OpenSSL (priority 101 runs before
// openssl_at_exit.cc's 102), so it runs after any handler OpenSSL registers.
__attribute__((constructor(101))) void RegisterFirst() { std::atexit(UseOpenSslLast); }

}  // namespace

int main() {
  unsigned char random[16];
  return RAND_bytes(random, sizeof random) == 1 ? 0 : 1;  // OpenSSL in use before exit
}
