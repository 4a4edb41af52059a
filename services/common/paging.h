// AIP-158 pagination, written once for every List/Query RPC: the page size
// and opaque page tokens.
//
// Page size: one behaviour everywhere. 0 means the RPC's default, a value
// above its maximum is served as the maximum (AIP-158: clamp, never fail),
// a negative one is INVALID_ARGUMENT "page_size: must not be negative (got
// -1)" (reason INVALID_FIELD, field page_size).
//
// Page tokens: opaque to clients and bound to what they continue. A token
// carries the RPC's resume position (whatever the RPC needs: a last key, an
// offset) and an HMAC-SHA256 over the caller (the agency's identity), the
// RPC name, the request's filter and that position, under a key made at
// process start. So a token is refused (INVALID_ARGUMENT "page_token: ...",
// reason PAGE_TOKEN_INVALID) when it was altered or forged (a client cannot
// make up an offset), when another caller replays it, when the filter
// changed between pages, or when it came from another RPC or another
// process (a restarted server: the client lists again from the first page).
// A front that forwards a list to another service (the gateway) wraps that
// service's token in its own, bound to the agency calling it.
//
// The key is made at random per process unless one is configured
// (config.proto: KinexConfig.page_token_key_file, set once at start-up
// through SetProcessKey): replicas of one service behind a load balancer
// without sticky sessions must share one, or they refuse each other's
// tokens.
//
// Example:
//   constexpr paging::PageLimits kLimits{.default_size = 100, .max_size = 1000};
//   KINEX_ASSIGN_OR_RETURN(int size, paging::PageSize(request.page_size(), kLimits));
//   const std::string filter = absl::StrCat("state=", request.state());
//   KINEX_ASSIGN_OR_RETURN(std::string after, paging::PageTokens::Process().Open(
//       request.page_token(), {"ListLinks", caller, filter}));
//   ...
//   if (more) response.set_next_page_token(paging::PageTokens::Process().Issue(
//       {"ListLinks", caller, filter}, last_key));
#ifndef KINEX_SERVICES_COMMON_PAGING_H_
#define KINEX_SERVICES_COMMON_PAGING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kinex::paging {

// One RPC's documented page sizes.
struct PageLimits {
  // The size served for page_size 0.
  int default_size = 0;
  // The largest size served; larger requests are served this many.
  int max_size = 0;
};

// The page size to serve for `requested` (see the overview). Thread-safe.
absl::StatusOr<int> PageSize(int64_t requested, PageLimits limits);

// What a token is bound to. All three must match when it comes back.
struct TokenScope {
  // The RPC, e.g. "ListChildren": a token of one RPC is no token of another.
  absl::string_view rpc;
  // The caller's identity (the agency's SPIFFE ID, or kind and code).
  absl::string_view caller;
  // The request's filter, canonically encoded by the RPC (every request
  // field that selects rows, none that only pages).
  absl::string_view filter;
};

// Issues and opens page tokens under one HMAC key. Thread-safe.
class PageTokens {
 public:
  // `key`: the HMAC-SHA256 key (at least 16 bytes; tests pass a fixed one).
  explicit PageTokens(std::string key) : key_(std::move(key)) {}

  // The process's tokens: under the key SetProcessKey gave, or else under a
  // random key made at first use.
  static const PageTokens& Process();

  // Makes `key` (at least 32 bytes) the process's key, for replicas that
  // must accept each other's tokens. Call at start-up, before serving:
  // tokens issued under an earlier key stop opening. INVALID_ARGUMENT for a
  // short key.
  static absl::Status SetProcessKey(std::string key);

  // A token that resumes at `position`, bound to `scope`.
  std::string Issue(const TokenScope& scope, absl::string_view position) const;

  // The position of `token`, or "" for an empty token (the first page).
  // INVALID_ARGUMENT "page_token: ..." when it does not check against
  // `scope` (see the overview).
  absl::StatusOr<std::string> Open(absl::string_view token, const TokenScope& scope) const;

 private:
  std::string Mac(const TokenScope& scope, absl::string_view position) const;

  const std::string key_;
};

}  // namespace kinex::paging

#endif  // KINEX_SERVICES_COMMON_PAGING_H_
