#include "tools/kinexctl/audit_command.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "kinex/audit/v1/audit.grpc.pb.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "services/audit/log_verifier.h"
#include "services/audit/tree_head.h"
#include "services/common/error_reason.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"

namespace kinex::ctl {
namespace {

namespace av1 = ::kinex::audit::v1;
namespace cv1 = ::kinex::common::v1;

constexpr char kUsage[] =
    "usage: kinexctl audit <query|verify|receipt verify> ...\n"
    "       kinexctl audit signing-key [--out=FILE]\n"
    "\n"
    "  query           list audit events matching filters (auditors)\n"
    "  verify          fetch every entry and the signed tree head, recompute\n"
    "                  the Merkle root and check the signature (auditors)\n"
    "  receipt verify  check a disclosure receipt's inclusion proof and head\n"
    "                  (any agency with --offline; online checks: auditors)\n"
    "  signing-key     save the log's public signing keys as PEM (any agency),\n"
    "                  to pin them for receipt verify --offline\n"
    "\n"
    "Run `kinexctl audit <command> --help` for each command's options.\n";

constexpr char kQueryUsage[] =
    "usage: kinexctl audit query [filters] [--page-size=N] [--max=N | --all]\n"
    "                            [--output=table|json|csv] [--wide]\n"
    "\n"
    "Lists audit events, oldest first. The table shows one narrow row per\n"
    "event (leaf, time to the minute in UTC, agency, actor, purpose, decision,\n"
    "method and how many paths were disclosed; long cells end in \"...\");\n"
    "--wide shows every column, as json and csv always do. Filters combine\n"
    "with AND:\n"
    "  --child-nhs=N        the child with this NHS number\n"
    "  --child-upn=U        the child with this UPN\n"
    "  --child-kinex-id=K   the child with this Kinex id\n"
    "  --child-la-child-id=LACODE:ID\n"
    "                       the child with this local authority identifier,\n"
    "                       e.g. E09000033:WCC-123\n"
    "  --agency-kind=KIND   local-authority, virtual-school, school, health,\n"
    "                       police or auditor\n"
    "  --agency-code=CODE   the agency's code (ONS, URN, ODS, force)\n"
    "  --practitioner=NAME  the practitioner the agency named (x-kinex-actor)\n"
    "  --purpose=PURPOSE    safeguarding, education-support, health-care,\n"
    "                       care-planning or financial-support\n"
    "  --decision=D         allow, partial or deny\n"
    "  --break-glass        only emergency (break-glass) access\n"
    "  --kind=K[,K...]      only these event kinds: disclosure, part-published,\n"
    "                       write-refused, consent-recorded, consent-withdrawn,\n"
    "                       sharing-agreement-created,\n"
    "                       responsibility-transferred, link-claimed,\n"
    "                       link-confirmed, link-rejected, audit-queried\n"
    "  --since=TIME         at or after TIME (RFC 3339 or YYYY-MM-DD, UTC)\n"
    "  --until=TIME         before TIME\n"
    "  --page-size=N        events per request (1-1000, default 100)\n"
    "  --max=N              stop after N events (default 10000)\n"
    "  --all                every matching event, however many\n"
    "  --wide               every column in the table\n"
    "\n"
    "Your query is itself recorded in the log (an audit-queried event).\n"
    "A query by child alone is checked end to end: each event's link to the\n"
    "child's previous event must point at the event listed before it, and\n"
    "the newest must be the newest the log holds; a row missing from the\n"
    "query index fails it, naming the leaf.\n";

constexpr char kVerifyUsage[] =
    "usage: kinexctl audit verify [--public-key=PEM[,PEM...]] [--saved-head=FILE]\n"
    "                             [--receipt=FILE]... [--save-head=FILE]\n"
    "\n"
    "Fetches every log entry, the signed tree heads the log stored and the\n"
    "latest one, recomputes the RFC 6962 root, checks every entry, its chain\n"
    "links and each head's Ed25519 signature and root, and compares the query\n"
    "index (child pseudonym rows) with the leaves. Fails naming the first bad\n"
    "leaf index (\"index: leaf N\" for a missing or altered index row). Entries\n"
    "rewritten together with their leaf hashes are named by the heads that\n"
    "bracket them (\"leaf range A-B: entries do not match the signed tree head\n"
    "at size B+1 (the head at size A still matches)\"). The signing key lives\n"
    "beside the log, so give heads held elsewhere too (--saved-head,\n"
    "--receipt); the output says which heads were checked.\n"
    "  --public-key=PEM   the pinned signing key (PEM public key file); after a\n"
    "                     key rotation, the current and retired keys,\n"
    "                     comma-separated: each head is checked with the key\n"
    "                     its key id names. Without it the keys are fetched\n"
    "                     from the server (trust on first use)\n"
    "  --saved-head=FILE  a head saved by an earlier run (JSON or binary):\n"
    "                     the log must extend it (no truncation or rewrite)\n"
    "  --receipt=FILE     a disclosure receipt an agency kept (JSON or binary),\n"
    "                     repeatable: each is checked on its own and its head\n"
    "                     against the log\n"
    "  --save-head=FILE   save the verified head (JSON, snake_case field names;\n"
    "                     camelCase files from older versions are still read)\n"
    "                     for the next run\n";

constexpr char kReceiptUsage[] =
    "usage: kinexctl audit receipt verify FILE [--public-key=PEM[,PEM...]]\n"
    "                                     [--offline]\n"
    "\n"
    "Checks a DisclosureReceipt (protobuf JSON or binary, e.g. from\n"
    "`kinexctl record get --receipt-out=FILE`): the signed tree head's\n"
    "signature and the inclusion proof of the receipt's leaf. Unless\n"
    "--offline, also fetches the logged entry and checks it matches the\n"
    "receipt, and that the current log is consistent with the receipt's head:\n"
    "those online checks read the log, so they need the auditor role.\n"
    "Any agency verifies the receipts it was given offline, with no server\n"
    "call: pin the keys once (kinexctl audit signing-key --out=keys.pem), then\n"
    "  kinexctl audit receipt verify r.json --offline --public-key=keys.pem\n"
    "  --public-key=PEM   the pinned signing keys: PEM public key files, each\n"
    "                     holding one or more keys (as signing-key writes\n"
    "                     them), comma-separated; after a key rotation give the\n"
    "                     current and retired keys (each head is checked by the\n"
    "                     key its key id names); required with --offline, else\n"
    "                     fetched from the server\n"
    "  --offline          check only what the receipt itself proves\n";

constexpr char kSigningKeyUsage[] =
    "usage: kinexctl audit signing-key [--out=FILE]\n"
    "\n"
    "Fetches the audit log's public signing keys (any agency may: they are\n"
    "not secret) and writes them as PEM: the current key first, then the keys\n"
    "it replaced in rotations, each after a \"# ... key id ...\" comment line.\n"
    "Check the key ids with the log's operator once, then pin the file:\n"
    "  kinexctl audit receipt verify r.json --offline --public-key=FILE\n"
    "  --out=FILE   write the PEM to FILE (mode 0644) and list the keys on\n"
    "               stdout; without it the PEM goes to stdout\n";

std::string Lower(absl::string_view s) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(s), {{"_", "-"}});
}

std::string EnumSlug(const std::string& name) { return Lower(name); }

// A disclosure's lawful bases in one cell: per tuple
// "<controller>: <art6>[+<art9>][+<art10>] <gateways>", tuples joined by "; ".
std::string LawfulBasesText(const google::protobuf::RepeatedPtrField<cv1::LawfulBasis>& bases) {
  std::vector<std::string> out;
  for (const cv1::LawfulBasis& b : bases) {
    std::string text =
        absl::StrCat(EnumSlug(cv1::AgencyKind_Name(b.controller_kind())), "/", b.controller_code(),
                     ": ", EnumSlug(cv1::Article6Basis_Name(b.article6())));
    if (b.regime() == cv1::DPA_2018_PART_3) absl::StrAppend(&text, " (dpa-2018-part-3)");
    if (b.special_category_condition() != 0) {
      absl::StrAppend(&text, " + art9 ",
                      EnumSlug(cv1::SensitiveDataCondition_Name(b.special_category_condition())));
    }
    if (b.criminal_offence_condition() != 0) {
      absl::StrAppend(&text, " + art10 ",
                      EnumSlug(cv1::SensitiveDataCondition_Name(b.criminal_offence_condition())));
    }
    std::vector<std::string> gateways;
    for (int g : b.gateways()) gateways.push_back(EnumSlug(cv1::StatutoryGateway_Name(g)));
    absl::StrAppend(&text, " [", absl::StrJoin(gateways, ","), "]");
    out.push_back(std::move(text));
  }
  return absl::StrJoin(out, "; ");
}

template <typename E>
absl::StatusOr<E> ParseEnum(const google::protobuf::EnumDescriptor* type, const char* flag,
                            const std::string& v) {
  absl::StatusOr<int> n = ParseEnumFlag(type, flag, v);
  if (!n.ok()) return n.status();
  return static_cast<E>(*n);
}

absl::StatusOr<google::protobuf::Timestamp> ParseTime(const std::string& flag,
                                                      const std::string& v) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, v, &t, &err) &&
      !absl::ParseTime("%Y-%m-%d", v, absl::UTCTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": \"", v, "\" is not an RFC 3339 time or YYYY-MM-DD date"));
  }
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(ts.seconds()))));
  return ts;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

// Parses a message from JSON (protobuf JSON mapping) or binary.
template <typename Message>
absl::Status ParseJsonOrBinary(const std::string& path, const std::string& data, Message* out) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(data);
  if (!trimmed.empty() && trimmed.front() == '{') {
    google::protobuf::util::JsonParseOptions options;
    auto s = google::protobuf::util::JsonStringToMessage(std::string(trimmed), out, options);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid ",
                                                     Message::descriptor()->full_name(),
                                                     " in JSON: ", s.message().as_string()));
    }
    return absl::OkStatus();
  }
  if (!out->ParseFromString(data)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": neither JSON nor a binary ", Message::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

// The public keys in the PEM file `path`: one or more PUBLIC KEY blocks (as
// `audit signing-key` writes them; text between blocks is ignored). A file
// holding a private key is refused (TreeHeadVerifier::FromPublicKeyFile).
absl::StatusOr<std::vector<std::shared_ptr<const audit::TreeHeadVerifier>>> LoadKeyFile(
    const std::string& path) {
  std::vector<std::shared_ptr<const audit::TreeHeadVerifier>> keys;
  KINEX_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(path));
  const std::string begin_marker = "-----BEGIN ";
  std::vector<size_t> starts;
  for (size_t at = pem.find(begin_marker); at != std::string::npos;
       at = pem.find(begin_marker, at + 1)) {
    starts.push_back(at);
  }
  if (starts.size() <= 1 || absl::StrContains(pem, "PRIVATE KEY")) {
    KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const audit::TreeHeadVerifier> key,
                           audit::TreeHeadVerifier::FromPublicKeyFile(path));
    keys.push_back(std::move(key));
    return keys;
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : pem.size();
    absl::StatusOr<std::unique_ptr<audit::TreeHeadVerifier>> key =
        audit::TreeHeadVerifier::FromPublicKeyPem(
            absl::string_view(pem).substr(starts[i], end - starts[i]));
    if (!key.ok()) {
      return CopyErrorReason(key.status(),
                             absl::Status(key.status().code(),
                                          absl::StrCat(path, ": key ", i + 1, " of ", starts.size(),
                                                       ": ", key.status().message())));
    }
    keys.push_back(*std::move(key));
  }
  return keys;
}

// The signing keys the server sends (current and retired), each checked
// against the key id the server names for it.
absl::StatusOr<std::vector<audit::TreeHeadKeyring::Key>> FetchKeys(CommandContext& ctx,
                                                                   av1::Audit::Stub* stub) {
  grpc::ClientContext call;
  ctx.Prepare(call);
  av1::SigningKey key;
  grpc::Status s = stub->GetSigningKey(&call, {}, &key);
  if (!s.ok()) return FromGrpcStatus(s);
  // A server older than key rotation sends only the current key.
  if (key.keys().empty()) {
    av1::TreeHeadKey* current = key.add_keys();
    current->set_public_key_pem(key.public_key_pem());
    current->set_key_id(key.key_id());
    current->set_current(true);
  }
  std::vector<audit::TreeHeadKeyring::Key> keys;
  for (const av1::TreeHeadKey& k : key.keys()) {
    KINEX_ASSIGN_OR_RETURN(std::shared_ptr<const audit::TreeHeadVerifier> v,
                           audit::TreeHeadVerifier::FromPublicKeyPem(k.public_key_pem()));
    if (!k.key_id().empty() && k.key_id() != v->key_id()) {
      return absl::DataLossError(absl::StrCat("the server sent key id ", k.key_id(),
                                              " for a public key whose id is ", v->key_id()));
    }
    keys.push_back({.verifier = std::move(v), .current = k.current()});
  }
  // The current key first.
  std::stable_partition(keys.begin(), keys.end(),
                        [](const audit::TreeHeadKeyring::Key& k) { return k.current; });
  return keys;
}

// The keys heads are checked with, each head by the key its key_id names:
// the --public-key files (comma-separated: after a signing key rotation, the
// current key and the retired ones), else the keys the server sends (trust on
// first use).
absl::StatusOr<audit::TreeHeadKeyring> LoadKeys(CommandContext& ctx,
                                                const std::optional<std::string>& public_key_files,
                                                av1::Audit::Stub* stub) {
  audit::TreeHeadKeyring keys;
  if (public_key_files.has_value()) {
    for (absl::string_view file : absl::StrSplit(*public_key_files, ',', absl::SkipWhitespace())) {
      KINEX_ASSIGN_OR_RETURN(auto in_file, LoadKeyFile(std::string(file)));
      for (auto& key : in_file) keys.Add(std::move(key));
    }
    if (keys.keys().empty()) {
      return absl::InvalidArgumentError("--public-key names no key file");
    }
    return keys;
  }
  if (stub == nullptr) {
    return absl::InvalidArgumentError("--public-key is required with --offline");
  }
  KINEX_ASSIGN_OR_RETURN(std::vector<audit::TreeHeadKeyring::Key> fetched, FetchKeys(ctx, stub));
  std::string current;
  std::vector<std::string> retired;
  for (audit::TreeHeadKeyring::Key& k : fetched) {
    (k.current ? current : retired.emplace_back()) = k.verifier->key_id();
    keys.Add(std::move(k.verifier), k.current);
  }
  ctx.err() << "kinexctl: warning: using the signing key the server sent (key id " << current
            << (retired.empty() ? ""
                                : absl::StrCat("; retired key ids ", absl::StrJoin(retired, ", ")))
            << "); pin it with --public-key (save it once with kinexctl audit signing-key "
               "--out=FILE)\n";
  return keys;
}

// `text` cut to `max` characters (UTF-8 code points), ending in "..." when
// cut.
std::string Ellipsize(const std::string& text, size_t max) {
  size_t chars = 0;
  size_t cut = std::string::npos;  // byte offset of character max-3
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max - 3) cut = i;
    ++chars;
  }
  if (chars <= max) return text;
  return text.substr(0, cut) + "...";
}

// The default table's row: one narrow line per event, within 120 columns
// up to leaf 99999 (time to the minute, UTC; --wide has the rest).
std::vector<std::string> NarrowRow(const av1::LogEntry& entry) {
  const av1::AuditEvent& e = entry.event();
  // An unset enum is "-", not "purpose-unspecified".
  auto slug = [](int value, const std::string& name) {
    return value == 0 ? std::string("-") : EnumSlug(name);
  };
  const std::string kind = slug(e.agency_kind(), cv1::AgencyKind_Name(e.agency_kind()));
  const std::string agency =
      e.agency_code().empty() ? kind : absl::StrCat(kind, "/", e.agency_code());
  return {absl::StrCat(entry.leaf_index()),
          absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(e.time().seconds()),
                           absl::UTCTimeZone()),
          Ellipsize(agency, 25),
          Ellipsize(e.actor(), 12),
          Ellipsize(slug(e.purpose(), cv1::Purpose_Name(e.purpose())), 17),
          Ellipsize(slug(e.decision(), av1::Decision_Name(e.decision())), 8),
          Ellipsize(e.method(), 14),
          absl::StrCat(e.disclosed_paths_size())};
}

absl::StatusOr<std::unique_ptr<av1::Audit::Stub>> Stub(CommandContext& ctx) {
  KINEX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, ctx.Channel());
  return av1::Audit::NewStub(channel);
}

// Applies a local --output, if given.
absl::StatusOr<OutputFormat> Output(CommandContext& ctx, Args& args) {
  std::optional<std::string> v = args.Flag("output");
  if (!v.has_value()) return ctx.output();
  if (*v == "table") return OutputFormat::kTable;
  if (*v == "json") return OutputFormat::kJson;
  if (*v == "csv") return OutputFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--output must be table, json or csv, got \"", *v, "\""));
}

int RunQuery(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"help", "break-glass", "all", "wide"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kQueryUsage;
    return 0;
  }
  av1::QueryEventsRequest req;
  int children = 0;
  if (auto v = args->Flag("child-nhs")) {
    req.mutable_child()->set_nhs_number(*v);
    ++children;
  }
  if (auto v = args->Flag("child-upn")) {
    req.mutable_child()->set_upn(*v);
    ++children;
  }
  if (auto v = args->Flag("child-kinex-id")) {
    req.mutable_child()->set_kinex_id(*v);
    ++children;
  }
  if (auto v = args->Flag("child-la-child-id")) {
    const size_t colon = v->find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == v->size()) {
      return ctx.Fail(absl::InvalidArgumentError(absl::StrCat(
          "--child-la-child-id must be LACODE:ID, e.g. E09000033:WCC-123, not \"", *v, "\"")));
    }
    req.mutable_child()->mutable_la_child_id()->set_la_code(v->substr(0, colon));
    req.mutable_child()->mutable_la_child_id()->set_id(v->substr(colon + 1));
    ++children;
  }
  if (children > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        "give at most one of --child-nhs, --child-upn, --child-kinex-id, --child-la-child-id"));
  }
  if (auto v = args->Flag("agency-kind")) {
    auto k = ParseEnum<cv1::AgencyKind>(cv1::AgencyKind_descriptor(), "agency-kind", *v);
    if (!k.ok()) return ctx.Fail(k.status());
    req.set_agency_kind(*k);
  }
  req.set_agency_code(args->FlagOr("agency-code", ""));
  // Not --actor: that global flag names the caller's own practitioner.
  req.set_actor(args->FlagOr("practitioner", ""));
  if (auto v = args->Flag("purpose")) {
    auto p = ParseEnum<cv1::Purpose>(cv1::Purpose_descriptor(), "purpose", *v);
    if (!p.ok()) return ctx.Fail(p.status());
    req.set_purpose(*p);
  }
  if (auto v = args->Flag("decision")) {
    auto d = ParseEnum<av1::Decision>(av1::Decision_descriptor(), "decision", *v);
    if (!d.ok()) return ctx.Fail(d.status());
    req.set_decision(*d);
  }
  req.set_break_glass_only(args->Bool("break-glass"));
  if (auto v = args->Flag("kind")) {
    for (absl::string_view k : absl::StrSplit(*v, ',', absl::SkipWhitespace())) {
      auto kind = ParseEnum<av1::EventKind>(av1::EventKind_descriptor(), "kind",
                                            std::string(absl::StripAsciiWhitespace(k)));
      if (!kind.ok()) return ctx.Fail(kind.status());
      req.add_kinds(*kind);
    }
    if (req.kinds().empty()) {
      return ctx.Fail(absl::InvalidArgumentError("--kind names no event kind"));
    }
  }
  if (auto v = args->Flag("since")) {
    auto t = ParseTime("since", *v);
    if (!t.ok()) return ctx.Fail(t.status());
    *req.mutable_start_time() = *t;
  }
  if (auto v = args->Flag("until")) {
    auto t = ParseTime("until", *v);
    if (!t.ok()) return ctx.Fail(t.status());
    *req.mutable_end_time() = *t;
  }
  int page_size = 100;
  if (!absl::SimpleAtoi(args->FlagOr("page-size", "100"), &page_size) || page_size < 1 ||
      page_size > 1000) {
    return ctx.Fail(absl::InvalidArgumentError("--page-size must be 1-1000"));
  }
  req.set_page_size(page_size);
  int max = 10000;
  if (!absl::SimpleAtoi(args->FlagOr("max", "10000"), &max) || max < 1) {
    return ctx.Fail(absl::InvalidArgumentError("--max must be a positive number"));
  }
  if (args->Bool("all")) max = std::numeric_limits<int>::max();
  // A query by child alone returns the child's whole chain: check it.
  av1::QueryEventsRequest only_child;
  *only_child.mutable_child() = req.child();
  only_child.set_page_size(req.page_size());
  const bool check_chain =
      req.has_child() && google::protobuf::util::MessageDifferencer::Equals(req, only_child);
  std::vector<av1::LogEntry> chain;
  std::string pseudonym;
  int64_t chain_head = -1;
  absl::StatusOr<OutputFormat> format = Output(ctx, *args);
  if (!format.ok()) return ctx.Fail(format.status());
  const bool narrow = *format == OutputFormat::kTable && !args->Bool("wide");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (!args->positional().empty()) {
    return ctx.Fail(absl::InvalidArgumentError("audit query takes no arguments"));
  }
  auto stub = Stub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());

  std::vector<std::vector<std::string>> rows;
  bool truncated = false;
  while (true) {
    grpc::ClientContext call;
    ctx.Prepare(call);
    av1::QueryEventsResponse resp;
    grpc::Status s = (*stub)->QueryEvents(&call, req, &resp);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    if (req.page_token().empty()) {
      pseudonym = resp.child_pseudonym();
      chain_head = resp.child_chain_head();
    }
    for (const auto& entry : resp.entries()) {
      const av1::AuditEvent& e = entry.event();
      if (check_chain) chain.push_back(entry);
      std::vector<std::string> withheld;
      for (const auto& w : e.withheld()) {
        withheld.push_back(
            absl::StrCat(EnumSlug(kinex::record::v1::Category_Name(w.category())), ":",
                         EnumSlug(kinex::policy::v1::WithheldReason_Name(w.reason())),
                         w.rule_id().empty() ? "" : absl::StrCat("(", w.rule_id(), ")")));
      }
      if (narrow) {
        rows.push_back(NarrowRow(entry));
        if (static_cast<int>(rows.size()) >= max) break;
        continue;
      }
      rows.push_back(
          {absl::StrCat(entry.leaf_index()), FormatTime(e.time()),
           e.kind() == av1::EVENT_KIND_UNSPECIFIED ? std::string("unspecified")
                                                   : EnumSlug(av1::EventKind_Name(e.kind())),
           e.request_id(), e.principal(), EnumSlug(cv1::AgencyKind_Name(e.agency_kind())),
           e.agency_code(), e.actor(), EnumSlug(cv1::Purpose_Name(e.purpose())),
           EnumSlug(cv1::LegalBasis_Name(e.legal_basis())), e.consent_id(),
           e.break_glass() ? "yes" : "no", EnumSlug(av1::Decision_Name(e.decision())),
           absl::StrJoin(e.disclosed_paths(), " "), absl::StrJoin(withheld, " "),
           LawfulBasesText(e.lawful_bases()), e.policy_version(), e.justification()});
      if (static_cast<int>(rows.size()) >= max) break;
    }
    if (static_cast<int>(rows.size()) >= max) {
      truncated =
          !resp.next_page_token().empty() || static_cast<int>(rows.size()) < resp.entries_size();
      break;
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  if (narrow) {
    WriteRows(ctx.out(), *format,
              {"leaf", "time", "agency", "actor", "purpose", "decision", "method", "disclosed"},
              rows);
  } else {
    WriteRows(ctx.out(), *format,
              {"index", "time", "kind", "request_id", "principal", "agency_kind", "agency_code",
               "actor", "purpose", "legal_basis", "consent_id", "break_glass", "decision",
               "disclosed", "withheld", "lawful_bases", "policy_version", "justification"},
              rows);
  }
  if (truncated) {
    ctx.err() << "kinexctl: stopped after " << max
              << " events; narrow the filters or raise --max (or --all)\n";
  } else if (check_chain) {
    if (pseudonym.empty()) {
      return ctx.Fail(absl::FailedPreconditionError(
          "the server did not name the child's pseudonym; cannot check the chain"));
    }
    if (absl::Status c = audit::CheckChildChain(pseudonym, chain, chain_head); !c.ok()) {
      ctx.err() << "kinexctl: the answer is incomplete: the query index was altered\n";
      return ctx.Fail(c);
    }
  }
  return 0;
}

absl::StatusOr<av1::SignedTreeHead> ReadHead(const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  av1::SignedTreeHead head;
  KINEX_RETURN_IF_ERROR(ParseJsonOrBinary(path, data, &head));
  return head;
}

// Takes every --receipt=FILE (or --receipt FILE) out of `words`: Args keeps
// one value per flag, and receipts repeat.
absl::StatusOr<std::vector<std::string>> TakeRepeated(std::vector<std::string>& words,
                                                      absl::string_view flag) {
  std::vector<std::string> values;
  std::vector<std::string> rest;
  const std::string eq = absl::StrCat("--", flag, "=");
  const std::string bare = absl::StrCat("--", flag);
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--") {
      rest.insert(rest.end(), words.begin() + i, words.end());
      break;
    }
    if (absl::StartsWith(words[i], eq)) {
      values.push_back(words[i].substr(eq.size()));
    } else if (words[i] == bare) {
      if (i + 1 >= words.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag ", bare, " needs a value"));
      }
      values.push_back(words[++i]);
    } else {
      rest.push_back(words[i]);
    }
  }
  words = std::move(rest);
  return values;
}

absl::StatusOr<kinex::exchange::v1::DisclosureReceipt> ReadReceipt(const std::string& path) {
  KINEX_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path));
  kinex::exchange::v1::DisclosureReceipt receipt;
  KINEX_RETURN_IF_ERROR(ParseJsonOrBinary(path, data, &receipt));
  return receipt;
}

int RunVerify(CommandContext& ctx, const std::vector<std::string>& given) {
  std::vector<std::string> words = given;
  absl::StatusOr<std::vector<std::string>> receipt_files = TakeRepeated(words, "receipt");
  if (!receipt_files.ok()) return ctx.Fail(receipt_files.status());
  absl::StatusOr<Args> args = Args::Parse(words, {"help"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kVerifyUsage;
    return 0;
  }
  const std::optional<std::string> public_key = args->Flag("public-key");
  const std::optional<std::string> saved_head_file = args->Flag("saved-head");
  const std::optional<std::string> save_head_file = args->Flag("save-head");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (!args->positional().empty()) {
    return ctx.Fail(absl::InvalidArgumentError("audit verify takes no arguments"));
  }
  std::vector<av1::SignedTreeHead> saved;
  if (saved_head_file.has_value()) {
    auto head = ReadHead(*saved_head_file);
    if (!head.ok()) return ctx.Fail(head.status());
    saved.push_back(*std::move(head));
  }
  audit::VerifyOptions options;
  options.check_index = true;
  for (const av1::SignedTreeHead& h : saved) {
    options.held_heads.push_back(
        {.head = h, .source = audit::SourcedHead::Source::kSaved, .file = *saved_head_file});
  }
  for (const std::string& file : *receipt_files) {
    auto receipt = ReadReceipt(file);
    if (!receipt.ok()) return ctx.Fail(receipt.status());
    options.receipts.emplace_back(*std::move(receipt), file);
  }
  audit::VerifyReport report;
  options.report = &report;
  auto stub = Stub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());
  auto keys = LoadKeys(ctx, public_key, stub->get());
  if (!keys.ok()) return ctx.Fail(keys.status());

  grpc::ClientContext call;
  ctx.Prepare(call);
  av1::SignedTreeHead head;
  grpc::Status gs = (*stub)->GetSignedTreeHead(&call, {}, &head);
  if (!gs.ok()) return ctx.Fail(FromGrpcStatus(gs));
  absl::StatusOr<audit::VerifiedLog> verified = audit::VerifyLog(
      [&](uint64_t start, uint64_t end) -> absl::StatusOr<av1::GetEntriesResponse> {
        grpc::ClientContext c;
        ctx.Prepare(c, 120);
        av1::GetEntriesRequest req;
        req.set_start_index(start);
        req.set_end_index(end);
        req.set_include_index(true);
        req.set_include_heads(true);
        av1::GetEntriesResponse resp;
        grpc::Status s = (*stub)->GetEntries(&c, req, &resp);
        if (!s.ok()) return FromGrpcStatus(s);
        return resp;
      },
      head, *keys, {}, std::move(options));
  if (!verified.ok()) {
    ctx.out() << "FAILED\n" << report.Summary() << "\n";
    return ctx.Fail(verified.status());
  }
  if (save_head_file.has_value()) {
    std::string json;
    google::protobuf::util::JsonPrintOptions json_options;
    json_options.add_whitespace = true;
    // snake_case, as receipts and every other JSON kinexctl writes;
    // ReadHead still accepts the camelCase files older versions saved.
    json_options.preserve_proto_field_names = true;
    auto s = google::protobuf::util::MessageToJsonString(head, &json, json_options);
    if (!s.ok()) {
      return ctx.Fail(absl::InternalError(s.message().as_string()));
    }
    if (absl::Status w = WriteFileAtomically(*save_head_file, json); !w.ok()) {
      return ctx.Fail(w);
    }
  }
  const std::string root = audit::HashToHex(verified->root);
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out() << "OK: verified " << verified->tree_size
              << " entries (leaves, chain links and query index)\n"
              << "  root       " << root << "\n"
              << "  signed at  " << FormatTime(head.timestamp()) << "\n"
              << "  key id     " << head.key_id() << "\n";
    for (const auto& s : saved) {
      ctx.out() << "  consistent with the saved head of " << s.tree_size() << " entries signed at "
                << FormatTime(s.timestamp()) << "\n";
    }
    ctx.out() << "  " << report.Summary() << "\n";
  } else {
    WriteRows(ctx.out(), ctx.output(), {"result", "tree_size", "root", "signed_at", "key_id"},
              {{"ok", absl::StrCat(verified->tree_size), root, FormatTime(head.timestamp()),
                head.key_id()}});
  }
  return 0;
}

int RunReceiptVerify(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"help", "offline"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kReceiptUsage;
    return 0;
  }
  const std::optional<std::string> public_key = args->Flag("public-key");
  const bool offline = args->Bool("offline");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (args->positional().size() != 1) {
    return ctx.Fail(
        absl::InvalidArgumentError("usage: kinexctl audit receipt verify FILE (see --help)"));
  }
  const std::string& path = args->positional()[0];
  absl::StatusOr<std::string> data = ReadFileToString(path);
  if (!data.ok()) return ctx.Fail(data.status());
  kinex::exchange::v1::DisclosureReceipt receipt;
  if (absl::Status s = ParseJsonOrBinary(path, *data, &receipt); !s.ok()) {
    return ctx.Fail(s);
  }
  std::unique_ptr<av1::Audit::Stub> stub;
  if (!offline) {
    auto made = Stub(ctx);
    if (!made.ok()) return ctx.Fail(made.status());
    stub = *std::move(made);
  }
  auto keys = LoadKeys(ctx, public_key, stub.get());
  if (!keys.ok()) return ctx.Fail(keys.status());
  if (absl::Status s = audit::VerifyReceipt(receipt, *keys); !s.ok()) {
    ctx.out() << "FAILED\n";
    return ctx.Fail(s);
  }
  std::vector<std::string> checks = {"head signature", "inclusion proof"};
  if (!offline) {
    // The logged entry must say what the receipt says.
    grpc::ClientContext c1;
    ctx.Prepare(c1);
    av1::GetEntriesRequest req;
    req.set_start_index(receipt.leaf_index());
    req.set_end_index(receipt.leaf_index() + 1);
    av1::GetEntriesResponse entries;
    grpc::Status s = stub->GetEntries(&c1, req, &entries);
    if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      // An agency: what the receipt proves by itself holds; the rest reads
      // the log, which only auditors may.
      const absl::Status refused = FromGrpcStatus(s);
      ctx.err() << "kinexctl: receipt " << path << ": the head signature and inclusion proof "
                << "verified, but the online checks (logged entry matches, current log "
                << "consistent) need the auditor role; run with --offline to check only what "
                << "the receipt proves\n";
      return ctx.Fail(refused);
    }
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    if (entries.entries_size() != 1) {
      return ctx.Fail(absl::DataLossError(
          absl::StrCat("leaf index ", receipt.leaf_index(), ": the log has no such entry")));
    }
    if (absl::Status m = audit::VerifyReceiptMatchesEntry(receipt, entries.entries(0)); !m.ok()) {
      ctx.out() << "FAILED\n";
      return ctx.Fail(m);
    }
    checks.push_back("logged entry matches");
    // The current log must extend the receipt's head.
    grpc::ClientContext c2;
    ctx.Prepare(c2);
    av1::SignedTreeHead current;
    s = stub->GetSignedTreeHead(&c2, {}, &current);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    std::vector<std::string> proof;
    if (current.tree_size() > receipt.signed_tree_head().tree_size() &&
        receipt.signed_tree_head().tree_size() > 0) {
      grpc::ClientContext c3;
      ctx.Prepare(c3);
      av1::GetConsistencyProofRequest creq;
      creq.set_first_tree_size(receipt.signed_tree_head().tree_size());
      creq.set_second_tree_size(current.tree_size());
      av1::GetConsistencyProofResponse cresp;
      s = stub->GetConsistencyProof(&c3, creq, &cresp);
      if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
      proof.assign(cresp.hashes().begin(), cresp.hashes().end());
    }
    if (absl::Status c =
            audit::VerifyHeadConsistency(receipt.signed_tree_head(), current, proof, *keys);
        !c.ok()) {
      ctx.out() << "FAILED\n";
      return ctx.Fail(c);
    }
    checks.push_back("current log consistent");
  }
  ctx.out() << "OK: receipt for leaf " << receipt.leaf_index() << " verified ("
            << absl::StrJoin(checks, ", ") << ")\n";
  return 0;
}

int RunSigningKey(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"help"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help")) {
    ctx.out() << kSigningKeyUsage;
    return 0;
  }
  const std::optional<std::string> out_file = args->Flag("out");
  if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (!args->positional().empty()) {
    return ctx.Fail(absl::InvalidArgumentError("audit signing-key takes no arguments"));
  }
  if (out_file.has_value() && out_file->empty()) {
    return ctx.Fail(absl::InvalidArgumentError("--out needs a file name"));
  }
  auto stub = Stub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());
  absl::StatusOr<std::vector<audit::TreeHeadKeyring::Key>> keys = FetchKeys(ctx, stub->get());
  if (!keys.ok()) return ctx.Fail(keys.status());
  std::string pem;
  std::vector<std::vector<std::string>> rows;
  for (const audit::TreeHeadKeyring::Key& k : *keys) {
    absl::StatusOr<std::string> block = k.verifier->PublicKeyPem();
    if (!block.ok()) return ctx.Fail(block.status());
    const char* state = k.current ? "current" : "retired";
    absl::StrAppend(&pem, "# Kinex audit log signing key, key id ", k.verifier->key_id(), " (",
                    state, ")\n", *block);
    if (!absl::EndsWith(pem, "\n")) pem += "\n";
    rows.push_back({k.verifier->key_id(), state});
  }
  if (!out_file.has_value()) {
    ctx.out() << pem;
    return 0;
  }
  if (absl::Status w = WriteFileAtomically(*out_file, pem, 0644); !w.ok()) return ctx.Fail(w);
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out() << "wrote " << rows.size() << (rows.size() == 1 ? " key" : " keys") << " to "
              << *out_file << "\n";
    for (const auto& row : rows) ctx.out() << "  key id " << row[0] << " (" << row[1] << ")\n";
  } else {
    WriteRows(ctx.out(), ctx.output(), {"key_id", "state"}, rows);
  }
  return 0;
}

int RunAudit(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kUsage);
  if (words.empty()) return ctx.PrintUsage(kUsage, false);
  const std::vector<std::string> rest(words.begin() + 1, words.end());
  if (words[0] == "query") {
    ctx.SetUsage(kQueryUsage);
    return RunQuery(ctx, rest);
  }
  if (words[0] == "verify") {
    ctx.SetUsage(kVerifyUsage);
    return RunVerify(ctx, rest);
  }
  if (words[0] == "signing-key") {
    ctx.SetUsage(kSigningKeyUsage);
    return RunSigningKey(ctx, rest);
  }
  if (words[0] == "receipt") {
    ctx.SetUsage(kReceiptUsage);
    if (!rest.empty() && rest[0] == "verify") {
      return RunReceiptVerify(ctx, std::vector<std::string>(rest.begin() + 1, rest.end()));
    }
    if (rest.empty() || WantsHelp(rest)) return ctx.PrintUsage(kReceiptUsage, !rest.empty());
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unknown audit command \"receipt ", rest[0], "\" (receipt verify)")));
  }
  if (WantsHelp(words)) return ctx.PrintUsage(kUsage, true);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown audit command \"", words[0], "\" (see kinexctl audit --help)")));
}

}  // namespace

CommandGroup MakeAuditCommandGroup() {
  return {"audit", "Query the audit log and verify it offline", RunAudit};
}

}  // namespace kinex::ctl
