#include "services/common/paging.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/error_reason.h"

namespace kinex::paging {
namespace {

// Token bytes: version, position, then the first kMacBytes of the HMAC.
constexpr char kVersion = '\x01';
constexpr size_t kMacBytes = 16;

absl::Status BadToken(absl::string_view why) {
  return WithErrorReason(absl::InvalidArgumentError(absl::StrCat("page_token: ", why)),
                         reason::kPageTokenInvalid, {{"field", "page_token"}});
}

// Length-prefixed, so no two scopes encode alike.
void AppendField(std::string* out, absl::string_view field) {
  absl::StrAppend(out, field.size(), ":", field);
}

}  // namespace

absl::StatusOr<int> PageSize(int64_t requested, PageLimits limits) {
  if (requested < 0) {
    return WithErrorReason(absl::InvalidArgumentError(absl::StrCat(
                               "page_size: must not be negative (got ", requested, ")")),
                           reason::kInvalidField, {{"field", "page_size"}});
  }
  if (requested == 0) return limits.default_size;
  return static_cast<int>(std::min<int64_t>(requested, limits.max_size));
}

namespace {

// The process's tokens. Set at most a few times (start-up, tests), read on
// every listing: an atomic pointer to the current instance. Every instance
// made stays owned by `all` until exit, because a reader may still hold a
// replaced one.
std::atomic<const PageTokens*> process_tokens{nullptr};

const PageTokens* Keep(std::unique_ptr<const PageTokens> tokens) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* all = new std::vector<std::unique_ptr<const PageTokens>>();
  absl::MutexLock lock(&mu);
  all->push_back(std::move(tokens));
  return all->back().get();
}

}  // namespace

const PageTokens& PageTokens::Process() {
  if (const PageTokens* tokens = process_tokens.load(std::memory_order_acquire)) return *tokens;
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    // No randomness means no unforgeable tokens: refuse to run.
    std::abort();
  }
  const PageTokens* made = Keep(std::make_unique<const PageTokens>(std::move(key)));
  const PageTokens* expected = nullptr;
  if (!process_tokens.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) {
    return *expected;  // another thread (or SetProcessKey) won; `made` stays kept, unused
  }
  return *made;
}

absl::Status PageTokens::SetProcessKey(std::string key) {
  if (key.size() < 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("page token key: must be at least 32 bytes (got ", key.size(), ")"));
  }
  process_tokens.store(Keep(std::make_unique<const PageTokens>(std::move(key))),
                       std::memory_order_release);
  return absl::OkStatus();
}

std::string PageTokens::Mac(const TokenScope& scope, absl::string_view position) const {
  std::string data;
  AppendField(&data, scope.rpc);
  AppendField(&data, scope.caller);
  AppendField(&data, scope.filter);
  AppendField(&data, position);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), std::min<size_t>(len, kMacBytes));
}

std::string PageTokens::Issue(const TokenScope& scope, absl::string_view position) const {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::string_view(&kVersion, 1), position, Mac(scope, position)));
}

absl::StatusOr<std::string> PageTokens::Open(absl::string_view token,
                                             const TokenScope& scope) const {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 1 + kMacBytes ||
      raw[0] != kVersion) {
    return BadToken(absl::StrCat("not a token from ", scope.rpc));
  }
  const absl::string_view position = absl::string_view(raw).substr(1, raw.size() - 1 - kMacBytes);
  const std::string expected = Mac(scope, position);
  if (CRYPTO_memcmp(expected.data(), raw.data() + raw.size() - kMacBytes, kMacBytes) != 0) {
    return BadToken(absl::StrCat("not a token from ", scope.rpc,
                                 " for this caller and filter (list again from the first page)"));
  }
  return std::string(position);
}

}  // namespace kinex::paging
