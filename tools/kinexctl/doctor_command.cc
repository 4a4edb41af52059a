#include "tools/kinexctl/doctor_command.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/identity.h"
#include "services/common/log.h"

namespace kinex::ctl {
namespace {

constexpr char kUsage[] =
    "usage: kinexctl [--address=HOST:PORT --ca=FILE --cert=FILE --key=FILE] doctor\n"
    "\n"
    "Checks your setup with the connection flags (or KINEX_ADDRESS, KINEX_CA,\n"
    "KINEX_CERT, KINEX_KEY) and says, per check, OK or what is wrong and what\n"
    "to do. The checks, in order (each skipped when one it needs failed):\n"
    "  files      the CA, certificate and key files exist and are PEM; the key\n"
    "             file is mode 0600 or stricter\n"
    "  key        the private key belongs to the certificate\n"
    "  chain      the certificate was issued by the CA in --ca\n"
    "  validity   the certificate is valid now (a warning within 30 days of expiry)\n"
    "  identity   exactly one URI SAN, a Kinex SPIFFE ID, and whom it names\n"
    "  reachable  --address accepts TCP connections, the TLS handshake is\n"
    "             accepted and the gRPC health service says SERVING\n"
    "Exits 0 when every check passes (a warning passes), 1 otherwise.\n"
    "--output=json (or csv) prints the checks as a list of\n"
    "{check, ok, status, detail, fix}; status is ok, warn, fail or skip.\n";

constexpr int kExpiryWarningDays = 30;
constexpr int kConnectTimeoutMs = 3000;
constexpr int kHealthTimeoutSeconds = 5;

enum class State { kOk, kWarn, kFail, kSkip };

struct Check {
  std::string name;
  State state = State::kOk;
  std::string detail;
  std::string fix;
  bool passed() const { return state == State::kOk || state == State::kWarn; }
};

Check Ok(const std::string& name, std::string detail) {
  return {name, State::kOk, std::move(detail), ""};
}
Check Fail(const std::string& name, std::string detail, std::string fix) {
  return {name, State::kFail, std::move(detail), std::move(fix)};
}
Check Skip(const std::string& name, std::string detail) {
  return {name, State::kSkip, std::move(detail), ""};
}

const char* StateWord(State s) {
  switch (s) {
    case State::kOk:
      return "ok";
    case State::kWarn:
      return "warn";
    case State::kFail:
      return "fail";
    case State::kSkip:
      return "skip";
  }
  return "";
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Never prompts for a passphrase: an encrypted key simply does not parse.
int NoPassphrase(char*, int, int, void*) { return 0; }

// What the files check loaded, for the checks after it.
struct Material {
  std::vector<X509Ptr> ca;     // empty unless the CA file parsed
  std::vector<X509Ptr> chain;  // [0] the certificate; empty unless it parsed
  PkeyPtr key;                 // null unless the key file parsed
};

// The PEM certificates in `path`, or why not (a sentence naming the file).
std::vector<X509Ptr> ReadCertificates(const std::string& path, std::string& problem) {
  std::vector<X509Ptr> certs;
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    problem = absl::StrCat(path, ": cannot read it (", std::strerror(errno), ")");
    return certs;
  }
  while (X509* x = PEM_read_bio_X509(bio, nullptr, NoPassphrase, nullptr)) certs.emplace_back(x);
  BIO_free(bio);
  ERR_clear_error();
  if (certs.empty()) problem = absl::StrCat(path, ": no PEM certificate in it");
  return certs;
}

std::string NameOf(const X509_NAME* name) {
  char* text = X509_NAME_oneline(name, nullptr, 0);
  std::string out = text != nullptr ? text : "";
  OPENSSL_free(text);
  return out;
}

// "2021-01-01 00:00:00 UTC".
std::string TimeText(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable date)";
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Check 1. Fills `m` with whatever parsed, even when the check fails, so
// the later checks run on what they need.
Check CheckFiles(const CommandContext::Connection& conn, Material& m) {
  std::vector<std::string> problems;
  std::vector<std::string> fixes;
  struct Named {
    const char* flag;
    const char* env;
    const std::string& path;
  };
  for (const Named& f :
       {Named{"ca", "KINEX_CA", conn.ca_file}, Named{"cert", "KINEX_CERT", conn.cert_file},
        Named{"key", "KINEX_KEY", conn.key_file}}) {
    if (f.path.empty()) {
      problems.push_back(absl::StrCat("no --", f.flag, " given"));
      fixes.push_back(absl::StrCat("give --", f.flag, "=FILE or set ", f.env));
      continue;
    }
    struct stat st;
    if (stat(f.path.c_str(), &st) != 0) {
      problems.push_back(absl::StrCat(f.path, ": ", std::strerror(errno)));
      fixes.push_back(absl::StrCat("check the path given to --", f.flag));
      continue;
    }
    std::string problem;
    if (std::string(f.flag) == "ca") {
      m.ca = ReadCertificates(f.path, problem);
    } else if (std::string(f.flag) == "cert") {
      m.chain = ReadCertificates(f.path, problem);
    } else {
      if ((st.st_mode & 077) != 0) {
        problems.push_back(absl::StrFormat(
            "%s is mode %04o: the private key is readable by group or others, and Kinex "
            "refuses to use it",
            f.path, st.st_mode & 07777));
        fixes.push_back(absl::StrCat("chmod 600 ", f.path));
      }
      BIO* bio = BIO_new_file(f.path.c_str(), "r");
      if (bio == nullptr) {
        problem = absl::StrCat(f.path, ": cannot read it (", std::strerror(errno), ")");
      } else {
        m.key.reset(PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr));
        BIO_free(bio);
        if (m.key == nullptr) {
          problem = absl::StrCat(f.path, ": no unencrypted PEM private key in it");
        }
      }
      ERR_clear_error();
    }
    if (!problem.empty()) {
      problems.push_back(problem);
      fixes.push_back(absl::StrCat("give --", f.flag, " the PEM file made by the PKI (",
                                   std::string(f.flag) == "ca"    ? "the CA's ca.pem"
                                   : std::string(f.flag) == "key" ? "your certificate's .key"
                                                                  : "your certificate's .pem",
                                   ")"));
    }
  }
  if (!problems.empty()) {
    return Fail("files", absl::StrJoin(problems, "; "), absl::StrJoin(fixes, "; "));
  }
  struct stat st;
  stat(conn.key_file.c_str(), &st);
  return Ok("files",
            absl::StrFormat("CA %s, certificate %s and key %s are PEM; the key is mode %04o",
                            conn.ca_file, conn.cert_file, conn.key_file, st.st_mode & 07777));
}

// Check 2: a key of another certificate (which gRPC alone reports as
// TSI_INVALID_ARGUMENT; kinex and kinexctl now refuse it at start).
Check CheckKey(const CommandContext::Connection& conn, const Material& m) {
  if (m.chain.empty() || m.key == nullptr) {
    return Skip("key", "skipped: needs the certificate and key files to parse (see files)");
  }
  const bool match = X509_check_private_key(m.chain[0].get(), m.key.get()) == 1;
  ERR_clear_error();
  if (match) return Ok("key", "the private key belongs to the certificate");
  return Fail(
      "key",
      absl::StrCat("the private key in ", conn.key_file, " does not belong to the certificate in ",
                   conn.cert_file, " (every other command refuses it too)"),
      "use the key made together with this certificate (the .key file beside its .pem), "
      "or have a new certificate issued for this key");
}

// Check 3: issued by the CA (dates are check 4's, revocation the server's).
Check CheckChain(const CommandContext::Connection& conn, const Material& m) {
  if (m.chain.empty() || m.ca.empty()) {
    return Skip("chain", "skipped: needs the CA and certificate files to parse (see files)");
  }
  if (X509_check_ca(m.chain[0].get()) != 0) {
    return Fail("chain",
                absl::StrCat("the certificate in ", conn.cert_file,
                             " is a CA certificate, not a certificate for a caller"),
                "give --cert your own certificate (an agency's or service's .pem) and --ca the CA "
                "certificate");
  }
  X509_STORE* store = X509_STORE_new();
  for (const X509Ptr& ca : m.ca) X509_STORE_add_cert(store, ca.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < m.chain.size(); ++i) sk_X509_push(untrusted, m.chain[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, m.chain[0].get(), untrusted);
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
  const bool ok = X509_verify_cert(ctx) == 1;
  const int error = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  ERR_clear_error();
  const std::string ca_name = NameOf(X509_get_subject_name(m.ca[0].get()));
  if (ok) return Ok("chain", absl::StrCat("the certificate was issued by this CA (", ca_name, ")"));
  const std::string issuer = NameOf(X509_get_issuer_name(m.chain[0].get()));
  if (error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
      error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
      error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
      error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || error == X509_V_ERR_CERT_SIGNATURE_FAILURE) {
    return Fail("chain",
                absl::StrCat("the certificate was not issued by this CA: its issuer is ", issuer,
                             ", the CA in ", conn.ca_file, " is ", ca_name),
                absl::StrCat("Kinex accepts only certificates issued by its own CA: give --ca "
                             "the Kinex CA certificate (ca.pem) and --cert a certificate that CA "
                             "issued to you (ask the Kinex operator for one)"));
  }
  return Fail("chain",
              absl::StrCat("the certificate does not verify against ", conn.ca_file, ": ",
                           X509_verify_cert_error_string(error)),
              "ask the Kinex operator for a certificate issued by the Kinex CA, and give --ca "
              "that CA's certificate");
}

// Check 4.
Check CheckValidity(const Material& m) {
  if (m.chain.empty()) {
    return Skip("validity", "skipped: needs the certificate file to parse (see files)");
  }
  X509* cert = m.chain[0].get();
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  const std::string from = TimeText(not_before);
  const std::string until = TimeText(not_after);
  constexpr char kRenew[] =
      "have the Kinex CA issue you a new certificate (in development: certs/make-dev-pki.sh "
      "OUT_DIR --force)";
  if (X509_cmp_current_time(not_before) > 0) {
    return Fail("validity", absl::StrCat("not valid yet: valid from ", from, " until ", until),
                "check this machine's clock, or wait until the certificate's start date");
  }
  if (X509_cmp_current_time(not_after) < 0) {
    return Fail("validity", absl::StrCat("expired on ", until, " (valid from ", from, ")"), kRenew);
  }
  int days = 0;
  int seconds = 0;
  ASN1_TIME_diff(&days, &seconds, nullptr, not_after);
  if (seconds > 0) ++days;  // whole days, rounded up: "10 days" for a 10-day certificate
  if (days <= kExpiryWarningDays) {
    Check c = {"validity", State::kWarn,
               absl::StrCat("expires in ", days, days == 1 ? " day" : " days", ", on ", until,
                            " (valid from ", from, ")"),
               absl::StrCat("renew it before then: ", kRenew)};
    return c;
  }
  return Ok("validity", absl::StrCat("valid from ", from, " until ", until));
}

// Check 5.
Check CheckIdentity(const Material& m) {
  if (m.chain.empty()) {
    return Skip("identity", "skipped: needs the certificate file to parse (see files)");
  }
  constexpr char kForm[] =
      "spiffe://<trust-domain>/<agency-kind>/<agency-code>/<role> (or "
      "spiffe://<trust-domain>/service/<name>)";
  const std::string fix = absl::StrCat(
      "have the Kinex CA issue a certificate whose only URI SAN is your SPIFFE ID, ", kForm);
  std::vector<std::string> uris;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(m.chain[0].get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = n->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      ASN1_STRING_length(s));
  }
  GENERAL_NAMES_free(names);
  if (uris.empty()) {
    return Fail("identity", "the certificate has no URI SAN, so it names no Kinex identity", fix);
  }
  if (uris.size() > 1) {
    return Fail("identity",
                absl::StrCat("the certificate has ", uris.size(), " URI SANs (",
                             absl::StrJoin(uris, ", "), "); Kinex needs exactly one"),
                fix);
  }
  const std::string& uri = uris[0];
  std::string trust_domain;
  if (absl::StartsWith(uri, "spiffe://")) {
    trust_domain = uri.substr(
        9, uri.find('/', 9) == std::string::npos ? std::string::npos : uri.find('/', 9) - 9);
  }
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(uri, trust_domain);
  if (!id.ok()) {
    return Fail("identity", absl::StrCat(uri, " is not a Kinex SPIFFE ID: ", id.status().message()),
                fix);
  }
  if (id->is_service) {
    return Ok("identity", absl::StrCat(uri, ": the Kinex service ", id->service_name,
                                       " (trust domain ", id->trust_domain, ")"));
  }
  return Ok("identity", absl::StrCat(uri, ": the ", AgencyKindSlug(id->agency_kind), " agency ",
                                     id->agency_code, ", role ", id->role, " (trust domain ",
                                     id->trust_domain, ")"));
}

// Splits a gRPC target "host:port", "[v6]:port" or "dns:///host:port".
bool SplitAddress(std::string address, std::string& host, std::string& port) {
  if (absl::StartsWith(address, "dns:///")) address = address.substr(7);
  if (absl::StartsWith(address, "ipv4:") || absl::StartsWith(address, "ipv6:")) {
    address = address.substr(5);
  }
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == std::string::npos) return false;
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') return false;
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) return false;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int n = 0;
  return !host.empty() && absl::SimpleAtoi(port, &n) && n > 0 && n < 65536;
}

// "" when a TCP connection to host:port opens within the timeout; else why not.
std::string TcpConnect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, kConnectTimeoutMs);
      if (rc == 0) {
        last = absl::StrCat("no answer within ", kConnectTimeoutMs / 1000, " seconds");
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        if (err != 0) last = std::strerror(err);
      } else {
        last = std::strerror(errno);
      }
    } else if (rc != 0) {
      last = std::strerror(errno);
    }
    close(fd);
    if (rc == 0) {
      freeaddrinfo(found);
      return "";
    }
  }
  freeaddrinfo(found);
  return last;
}

// Check 6.
Check CheckReachable(CommandContext& ctx, bool material_ok) {
  const std::string& address = ctx.connection().address;
  std::string host;
  std::string port;
  if (!SplitAddress(address, host, port)) {
    return Fail("reachable", absl::StrCat("\"", address, "\" is not HOST:PORT"),
                "give --address=HOST:PORT (or KINEX_ADDRESS), e.g. localhost:7443");
  }
  if (std::string why = TcpConnect(host, port); !why.empty()) {
    return Fail("reachable", absl::StrCat("cannot connect to ", address, ": ", why),
                "check --address (or KINEX_ADDRESS), that the Kinex server is running and "
                "listening there, and that no firewall blocks the port");
  }
  if (!material_ok) {
    return Skip("reachable", absl::StrCat(address,
                                          " accepts TCP connections; the TLS handshake and "
                                          "health check wait until the checks above pass"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctx.Channel();
  if (!channel.ok()) {
    return Fail("reachable", absl::StrCat("cannot set up TLS: ", channel.status().message()),
                "fix the files named");
  }
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call, kHealthTimeoutSeconds);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&call, req, &resp);
  if (s.ok()) {
    const std::string status =
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
    if (resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return Ok("reachable", absl::StrCat(address, " accepted the TLS handshake; health: SERVING"));
    }
    return Fail("reachable", absl::StrCat(address, " accepted the TLS handshake; health: ", status),
                "the server is up but not serving (starting, stopping, or a service it needs "
                "is down): see its log, then try again");
  }
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Fail("reachable",
                absl::StrCat(address,
                             " accepts TCP connections but the TLS handshake failed (UNAVAILABLE)"),
                "your files pass the checks above, so the likely causes are: your certificate "
                "is revoked, or this server does not accept it (it trusts another CA), or the "
                "server's own certificate is not issued by the CA in --ca or does not name this "
                "host. The server's log has a \"tls handshake refused\" line with the reason");
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Fail("reachable",
                absl::StrCat(address, " did not answer the health check within ",
                             kHealthTimeoutSeconds, " seconds"),
                "check that --address is a Kinex server's gRPC port (not its metrics port) and "
                "that the server is not overloaded");
  }
  return Fail("reachable",
              absl::StrCat(address, " accepted the TLS handshake but the health check failed: ",
                           absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())),
                           ": ", s.error_message()),
              "check that --address is a Kinex server's gRPC port (a Kinex server always serves "
              "grpc.health.v1.Health)");
}

void Print(CommandContext& ctx, const std::vector<Check>& checks) {
  if (ctx.output() == OutputFormat::kJson) {
    ctx.out() << "[";
    for (size_t i = 0; i < checks.size(); ++i) {
      const Check& c = checks[i];
      ctx.out() << (i ? ",\n " : "\n ") << "{\"check\": \"" << JsonEscape(c.name)
                << "\", \"ok\": " << (c.passed() ? "true" : "false") << ", \"status\": \""
                << StateWord(c.state) << "\", \"detail\": \"" << JsonEscape(c.detail)
                << "\", \"fix\": \"" << JsonEscape(c.fix) << "\"}";
    }
    ctx.out() << "\n]\n";
    return;
  }
  if (ctx.output() != OutputFormat::kTable) {
    std::vector<std::vector<std::string>> rows;
    for (const Check& c : checks) {
      rows.push_back({c.name, c.passed() ? "true" : "false", StateWord(c.state), c.detail, c.fix});
    }
    WriteRows(ctx.out(), ctx.output(), {"check", "ok", "status", "detail", "fix"}, rows);
    return;
  }
  int failed = 0;
  int skipped = 0;
  int warned = 0;
  for (const Check& c : checks) {
    std::string word = StateWord(c.state);
    for (char& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    ctx.out() << absl::StrFormat("%-5s %-10s %s\n", word, c.name, c.detail);
    if (!c.fix.empty()) ctx.out() << absl::StrFormat("%-16s fix: %s\n", "", c.fix);
    failed += c.state == State::kFail;
    skipped += c.state == State::kSkip;
    warned += c.state == State::kWarn;
  }
  if (failed == 0 && skipped == 0) {
    ctx.out() << "all " << checks.size() << " checks passed"
              << (warned ? absl::StrCat(" (", warned, warned == 1 ? " warning)" : " warnings)")
                         : "")
              << "\n";
  } else {
    ctx.out() << failed << " of " << checks.size() << " checks failed"
              << (skipped ? absl::StrCat(", ", skipped, " skipped") : "")
              << ": see the fix lines\n";
  }
}

int RunDoctor(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kUsage);
  absl::StatusOr<Args> args = Args::Parse(words, {});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) return ctx.PrintUsage(kUsage, true);
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (!args->positional().empty()) {
    return ctx.Fail(absl::InvalidArgumentError(absl::StrCat("doctor takes no arguments, not \"",
                                                            args->positional()[0],
                                                            "\" (see kinexctl doctor "
                                                            "--help)")));
  }
  Material m;
  std::vector<Check> checks;
  checks.push_back(CheckFiles(ctx.connection(), m));
  checks.push_back(CheckKey(ctx.connection(), m));
  checks.push_back(CheckChain(ctx.connection(), m));
  checks.push_back(CheckValidity(m));
  checks.push_back(CheckIdentity(m));
  bool material_ok = true;
  for (const Check& c : checks) material_ok = material_ok && c.passed();
  checks.push_back(CheckReachable(ctx, material_ok));
  Print(ctx, checks);
  for (const Check& c : checks) {
    if (!c.passed()) return 1;
  }
  return 0;
}

}  // namespace

CommandGroup MakeDoctorCommandGroup() {
  return {"doctor", "Check your certificates and connection, and say what to fix", RunDoctor};
}

}  // namespace kinex::ctl
