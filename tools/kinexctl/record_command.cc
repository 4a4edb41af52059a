#include "tools/kinexctl/record_command.h"

#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"
#include "services/common/status_macros.h"
#include "tools/kinexctl/record_format.h"

namespace kinex::ctl {
namespace {

namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

constexpr char kRecordUsage[] =
    "usage: kinexctl record get CHILD --purpose=PURPOSE [--justification=TEXT]\n"
    "                           [--stated-function=TEXT] [--break-glass]\n"
    "                           [--receipt-out=FILE]\n"
    "       kinexctl record publish --from-json=FILE [CHILD] [--etag=ETAG]\n"
    "                               [--proof-dob=YYYY-MM-DD]\n"
    "       kinexctl record mine CHILD\n"
    "       kinexctl record transfer CHILD --to-la=ONS_CODE --reason=TEXT\n"
    "\n"
    "CHILD is one of --kinex-id=ID, --nhs=NUMBER, --upn=UPN, --la-child-id=LACODE:ID.\n"
    "PURPOSE is SAFEGUARDING, EDUCATION_SUPPORT, HEALTH_CARE, CARE_PLANNING or\n"
    "FINANCIAL_SUPPORT (or kebab-case: education-support).\n"
    "\n"
    "get      prints the fields you may see (--output=table: one row per field;\n"
    "         json: the record and its disclosure receipt). --receipt-out writes the\n"
    "         receipt as JSON for `kinexctl audit receipt verify`.\n"
    "publish  sends your agency's part of a child's record. FILE holds a\n"
    "         kinex.exchange.v1.PublishRecordRequest in the protobuf JSON mapping\n"
    "         ({\"child\": {...}, \"record\": {...}, \"etag\": \"...\"}); CHILD and\n"
    "         --etag override the file. Prints the child's Kinex id, the new etag,\n"
    "         version and your link to the child. Only a local authority creates a\n"
    "         child; any other agency's first part must prove the child's date of\n"
    "         birth (--proof-dob) and is CLAIMED until the responsible LA confirms it.\n"
    "mine     prints your own current part's etag, version and link state (json:\n"
    "         the part itself): how to recover a lost etag.\n"
    "transfer hands responsibility for a child to another local authority\n"
    "         (the responsible LA only; audited with the reason).\n";

constexpr char kLinksUsage[] =
    "usage: kinexctl links list [--state=claimed|confirmed|rejected] [--all]\n"
    "       kinexctl links confirm|reject CHILD --agency=KIND/CODE\n"
    "\n"
    "For a local authority: the links other agencies (schools, health providers,\n"
    "forces) hold to the children it is responsible for. A CLAIMED link gives its\n"
    "agency nothing until you confirm it; rejecting it keeps that agency's part out\n"
    "of the record and stops it publishing for the child. KIND is school, health or\n"
    "police, e.g. --agency=school/100001. Every decision is audited.\n";

// "2016-08-04" -> Date.
absl::StatusOr<kinex::record::v1::Date> ParseDate(const std::string& text, absl::string_view flag) {
  int y = 0, m = 0, d = 0;
  std::vector<std::string> f = absl::StrSplit(text, '-');
  if (f.size() != 3 || !absl::SimpleAtoi(f[0], &y) || !absl::SimpleAtoi(f[1], &m) ||
      !absl::SimpleAtoi(f[2], &d) || m < 1 || m > 12 || d < 1 || d > 31) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be a date YYYY-MM-DD, not \"", text, "\""));
  }
  kinex::record::v1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

std::string LinkStateName(int state) {
  return state == 0
             ? ""
             : kinex::record::v1::LinkState_Name(static_cast<kinex::record::v1::LinkState>(state));
}

constexpr char kChildrenUsage[] =
    "usage: kinexctl children list --purpose=PURPOSE [--justification=TEXT]\n"
    "                              [--stated-function=TEXT]\n"
    "                              [--page-size=N] [--page-token=T]\n"
    "\n"
    "Lists your cohort for a purpose (e.g. a virtual school head's children for\n"
    "EDUCATION_SUPPORT), each record with exactly the fields you may see. Every\n"
    "page by default; --page-size or --page-token asks for one page only (for\n"
    "scripts: the next token is printed on stderr).\n"
    "\n"
    "--output=csv or xlsx gives a spreadsheet (xlsx is binary: redirect it to a\n"
    "file): one row per child, a fixed column set per purpose with friendly\n"
    "headers (docs/cohort-export.md). A column the policy did not grant reads\n"
    "\"not available\" in every row; CSV starts with a UTF-8 BOM; text starting\n"
    "with = + - @ is prefixed with '. --output=table shows the same columns;\n"
    "json gives the records and their receipts.\n";

// An Exchange stub on the command's channel.
absl::StatusOr<std::unique_ptr<ev1::Exchange::Stub>> ExchangeStub(CommandContext& ctx) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctx.Channel();
  if (!channel.ok()) return channel.status();
  return ev1::Exchange::NewStub(*channel);
}

// One unary Exchange call with the command's metadata and deadline.
template <typename Req, typename Resp>
absl::Status CallExchange(CommandContext& ctx,
                          grpc::Status (ev1::Exchange::Stub::*method)(grpc::ClientContext*,
                                                                      const Req&, Resp*),
                          const Req& req, Resp* resp) {
  absl::StatusOr<std::unique_ptr<ev1::Exchange::Stub>> stub = ExchangeStub(ctx);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext call;
  ctx.Prepare(call);
  return FromGrpcStatus(((**stub).*method)(&call, req, resp));
}

// The subcommand word of a command group's arguments. Prints `usage` and
// sets *exit for --help (stdout, 0), no subcommand (stderr, 2) or a parse
// error or stray argument (the error, 2); returns nullopt then.
std::optional<std::string> Subcommand(CommandContext& ctx, absl::StatusOr<Args>& args,
                                      const char* usage, int* exit) {
  ctx.SetUsage(usage);
  if (!args.ok()) {
    *exit = ctx.Fail(args.status());
    return std::nullopt;
  }
  if (args->Bool("help") || args->positional().empty()) {
    (args->Bool("help") ? ctx.out() : ctx.err()) << usage;
    *exit = args->Bool("help") ? 0 : 2;
    return std::nullopt;
  }
  if (args->positional().size() > 1) {
    *exit = ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args->positional()[1], "\"")));
    return std::nullopt;
  }
  return args->positional()[0];
}

int RunGet(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  std::optional<std::string> purpose_text = args.Flag("purpose");
  if (!purpose_text) return ctx.Fail(absl::InvalidArgumentError("--purpose is required"));
  absl::StatusOr<cv1::Purpose> purpose = ParsePurpose(*purpose_text);
  if (!purpose.ok()) return ctx.Fail(purpose.status());
  ev1::GetChildRecordRequest req;
  *req.mutable_child() = *child;
  req.set_purpose(*purpose);
  req.set_justification(args.FlagOr("justification", ""));
  req.set_break_glass(args.Bool("break-glass"));
  req.set_stated_function(args.FlagOr("stated-function", ""));
  const std::optional<std::string> receipt_out = args.Flag("receipt-out");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::GetChildRecordResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::GetChildRecord, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  if (receipt_out) {
    if (absl::Status w = WriteFileAtomically(*receipt_out, ToJson(resp.receipt()), 0644); !w.ok()) {
      return ctx.Fail(w);
    }
  }
  if (ctx.output() == OutputFormat::kJson) {
    ctx.out() << ToJson(resp) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [path, value] : FlattenRecord(resp.record())) rows.push_back({path, value});
  WriteRows(ctx.out(), ctx.output(), {"field", "value"}, rows);
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out().flush();
    ctx.err() << "request " << resp.request_id() << ": audit leaf " << resp.receipt().leaf_index()
              << ", tree size " << resp.receipt().signed_tree_head().tree_size() << ", "
              << resp.receipt().withheld_size() << " categories withheld\n";
  }
  return 0;
}

int RunPublish(CommandContext& ctx, Args& args) {
  std::optional<std::string> file = args.Flag("from-json");
  if (!file) return ctx.Fail(absl::InvalidArgumentError("--from-json=FILE is required"));
  absl::StatusOr<std::string> text = ReadFileToString(*file);
  if (!text.ok()) return ctx.Fail(text.status());
  ev1::PublishRecordRequest req;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto st = google::protobuf::util::JsonStringToMessage(*text, &req, options); !st.ok()) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat(*file, ": not a PublishRecordRequest: ", st.message().as_string())));
  }
  const bool has_child_flag =
      args.Flag("kinex-id") || args.Flag("nhs") || args.Flag("upn") || args.Flag("la-child-id");
  if (has_child_flag) {
    absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
    if (!child.ok()) return ctx.Fail(child.status());
    *req.mutable_child() = *child;
  }
  if (auto etag = args.Flag("etag")) req.set_etag(*etag);
  if (auto dob = args.Flag("proof-dob")) {
    absl::StatusOr<kinex::record::v1::Date> date = ParseDate(*dob, "proof-dob");
    if (!date.ok()) return ctx.Fail(date.status());
    *req.mutable_proof_date_of_birth() = *date;
  }
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::PublishRecordResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::PublishRecord, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  WriteRows(ctx.out(), ctx.output(), {"kinex_id", "etag", "version", "link_state"},
            {{resp.kinex_id(), resp.etag(), absl::StrCat(resp.version()),
              LinkStateName(resp.link_state())}});
  return 0;
}

int RunMine(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::GetMyPartRequest req;
  *req.mutable_child() = *child;
  ev1::GetMyPartResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::GetMyPart, req, &resp); !s.ok()) {
    return ctx.Fail(s);
  }
  if (ctx.output() == OutputFormat::kJson) {
    ctx.out() << ToJson(resp) << "\n";
    return 0;
  }
  WriteRows(ctx.out(), ctx.output(), {"kinex_id", "etag", "version", "link_state"},
            {{resp.kinex_id(), resp.etag(), absl::StrCat(resp.version()),
              LinkStateName(resp.link_state())}});
  return 0;
}

int RunTransfer(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  std::optional<std::string> to = args.Flag("to-la");
  std::optional<std::string> reason = args.Flag("reason");
  if (!to || !reason) {
    return ctx.Fail(absl::InvalidArgumentError("--to-la and --reason are required"));
  }
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::TransferResponsibilityRequest req;
  *req.mutable_child() = *child;
  req.set_to_la_code(*to);
  req.set_reason(*reason);
  ev1::TransferResponsibilityResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::TransferResponsibility, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  WriteRows(ctx.out(), ctx.output(), {"kinex_id", "responsible_la_code"},
            {{resp.kinex_id(), resp.responsible_la_code()}});
  return 0;
}

int RunLinks(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"all"});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, kLinksUsage, &exit);
  if (!word) return exit;
  const std::string& sub = *word;
  if (sub == "list") {
    int state = 0;
    if (auto st = args->Flag("state")) {
      absl::StatusOr<int> parsed =
          ParseEnumFlag(kinex::record::v1::LinkState_descriptor(), "state", *st);
      if (!parsed.ok()) return ctx.Fail(parsed.status());
      state = *parsed;
    }
    const bool all = args->Bool("all");
    if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
    auto stub = ExchangeStub(ctx);
    if (!stub.ok()) return ctx.Fail(stub.status());
    std::vector<std::vector<std::string>> rows;
    std::string token;
    do {
      grpc::ClientContext call;
      ctx.Prepare(call);
      ev1::ListLinkClaimsRequest req;
      req.set_state(static_cast<kinex::record::v1::LinkState>(state));
      req.set_page_token(token);
      ev1::ListLinkClaimsResponse resp;
      grpc::Status s = (*stub)->ListLinkClaims(&call, req, &resp);
      if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
      for (const auto& l : resp.links()) {
        rows.push_back(
            {l.kinex_id(),
             absl::StrCat(AgencyKindSlug(l.agency().agency_kind()), "/", l.agency().agency_code()),
             LinkStateName(l.state()), l.updated_by()});
      }
      token = resp.next_page_token();
    } while (all && !token.empty());
    WriteRows(ctx.out(), ctx.output(), {"kinex_id", "agency", "state", "updated_by"}, rows);
    if (!token.empty()) ctx.err() << "more: --all lists every page\n";
    return 0;
  }
  if (sub == "confirm" || sub == "reject") {
    absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(*args);
    if (!child.ok()) return ctx.Fail(child.status());
    std::optional<std::string> agency = args->Flag("agency");
    const size_t slash = agency ? agency->find('/') : std::string::npos;
    if (!agency || slash == std::string::npos) {
      return ctx.Fail(absl::InvalidArgumentError(
          "--agency=KIND/CODE is required, e.g. --agency=school/100001"));
    }
    const cv1::AgencyKind kind = AgencyKindFromSlug(agency->substr(0, slash));
    if (kind == cv1::AGENCY_KIND_UNSPECIFIED) {
      return ctx.Fail(
          absl::InvalidArgumentError(absl::StrCat("--agency: \"", agency->substr(0, slash),
                                                  "\" is not an agency kind (school, health, "
                                                  "police)")));
    }
    if (absl::Status s = args->CheckAllUsed(); !s.ok()) return ctx.Fail(s);
    ev1::DecideLinkClaimRequest req;
    *req.mutable_child() = *child;
    req.mutable_agency()->set_agency_kind(kind);
    req.mutable_agency()->set_agency_code(agency->substr(slash + 1));
    req.set_decision(sub == "confirm" ? kinex::record::v1::CONFIRMED : kinex::record::v1::REJECTED);
    ev1::DecideLinkClaimResponse resp;
    if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::DecideLinkClaim, req, &resp);
        !s.ok()) {
      return ctx.Fail(s);
    }
    WriteRows(ctx.out(), ctx.output(), {"kinex_id", "agency", "state"},
              {{resp.link().kinex_id(), *agency, LinkStateName(resp.link().state())}});
    return 0;
  }
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"links ", sub, "\" (list, confirm, reject)")));
}

int RunRecord(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"break-glass"});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, kRecordUsage, &exit);
  if (!word) return exit;
  const std::string& sub = *word;
  if (sub == "get") return RunGet(ctx, *args);
  if (sub == "publish") return RunPublish(ctx, *args);
  if (sub == "mine") return RunMine(ctx, *args);
  if (sub == "transfer") return RunTransfer(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"record ", sub, "\" (get, publish, mine, transfer)")));
}

int RunChildrenList(CommandContext& ctx, Args& args) {
  std::optional<std::string> purpose_text = args.Flag("purpose");
  if (!purpose_text) return ctx.Fail(absl::InvalidArgumentError("--purpose is required"));
  absl::StatusOr<cv1::Purpose> purpose = ParsePurpose(*purpose_text);
  if (!purpose.ok()) return ctx.Fail(purpose.status());
  int page_size = 0;
  std::optional<std::string> ps = args.Flag("page-size");
  if (ps) {
    if (!absl::SimpleAtoi(*ps, &page_size) || page_size < 1) {
      return ctx.Fail(absl::InvalidArgumentError(
          absl::StrCat("--page-size must be a positive number, not \"", *ps, "\"")));
    }
  }
  std::optional<std::string> page_token = args.Flag("page-token");
  std::string token = page_token.value_or("");
  // Every page unless the caller asked for one (--all, once needed for
  // that, is still accepted).
  const bool all = args.Bool("all");
  const bool one_page = (ps.has_value() || page_token.has_value()) && !all;
  const std::string justification = args.FlagOr("justification", "");
  const std::string stated_function = args.FlagOr("stated-function", "");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto stub = ExchangeStub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());

  std::vector<ev1::CohortEntry> entries;
  std::string next;
  do {
    ev1::ListChildrenRequest req;
    req.set_purpose(*purpose);
    req.set_page_size(page_size);
    req.set_page_token(token);
    req.set_justification(justification);
    req.set_stated_function(stated_function);
    grpc::ClientContext call;
    ctx.Prepare(call, 120);
    ev1::ListChildrenResponse resp;
    grpc::Status s = (*stub)->ListChildren(&call, req, &resp);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    for (const auto& c : resp.children()) entries.push_back(c);
    next = resp.next_page_token();
    token = next;
  } while (!one_page && !token.empty());

  if (ctx.output() == OutputFormat::kJson) {
    ev1::ListChildrenResponse out;
    for (auto& e : entries) *out.add_children() = std::move(e);
    out.set_next_page_token(next);
    ctx.out() << ToJson(out) << "\n";
  } else {
    const CohortTable table = BuildCohortTable(*purpose, entries, absl::Now());
    if (ctx.output() == OutputFormat::kCsv) {
      ctx.out() << CohortCsv(table);
    } else if (ctx.output() == OutputFormat::kXlsx) {
      absl::StatusOr<std::string> xlsx = CohortXlsx(table);
      if (!xlsx.ok()) return ctx.Fail(xlsx.status());
      ctx.out() << *xlsx;
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& row : table.rows) {
        std::vector<std::string>& cells = rows.emplace_back();
        for (const CohortCell& c : row) cells.push_back(CohortCellText(c));
      }
      WriteRows(ctx.out(), ctx.output(), table.header, rows);
    }
  }
  ctx.out().flush();
  if (one_page && !next.empty()) ctx.err() << "more: --page-token=" << next << "\n";
  return 0;
}

int RunChildren(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"all"});
  ctx.SetUsage(kChildrenUsage);
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help") || args->positional().empty()) {
    (args->Bool("help") ? ctx.out() : ctx.err()) << kChildrenUsage;
    return args->Bool("help") ? 0 : 2;
  }
  if (args->positional()[0] != "list" || args->positional().size() > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unknown subcommand \"children ", args->positional()[0], "\" (list)")));
  }
  return RunChildrenList(ctx, *args);
}

constexpr char kSharingUsage[] =
    "usage: kinexctl sharing record CHILD --kind=KIND --reason=REASON --rationale=TEXT\n"
    "                               [--paths=PATH,...] [--locating]\n"
    "                               [--recipient=KIND[/CODE]] [--purpose=PURPOSE]\n"
    "                               [--about-request-id=ID]\n"
    "       kinexctl sharing list [CHILD] [--kinds=KIND,...] [--include-removed]\n"
    "                             [--page-size=N] [--all]\n"
    "       kinexctl sharing unshield CHILD --decision-id=ID --reason=TEXT\n"
    "\n"
    "record   records your decision about sharing a child's information, with its\n"
    "         reason and rationale (audited). KIND is not-shared, shared-in-part,\n"
    "         deferred or shield; REASON e.g. more-detrimental-to-child (Children\n"
    "         Act 2004 s16LA(3)) or risk-of-harm-to-a-person. A shield (the\n"
    "         responsible LA's social worker or team manager only) withholds the\n"
    "         --paths, and with --locating every field that locates the child,\n"
    "         from everyone but the LA until removed; it names no recipient.\n"
    "list     the decisions you may see, newest first: your own; for a local\n"
    "         authority every decision about its children; for an auditor all.\n"
    "         Every listing is audited.\n"
    "unshield removes a shield (the responsible LA only; audited with the reason).\n";

// "a,b,c" -> {"a", "b", "c"}; "" -> {}.
std::vector<std::string> CommaList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipEmpty());
}

std::string EnumText(const google::protobuf::EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  return v == nullptr ? absl::StrCat(value) : v->name();
}

std::vector<std::string> DecisionRow(const kinex::records::v1::SharingDecision& d) {
  std::string recipient;
  if (d.recipient_kind() != cv1::AGENCY_KIND_UNSPECIFIED) {
    recipient = std::string(AgencyKindSlug(d.recipient_kind()));
    if (!d.recipient_code().empty()) absl::StrAppend(&recipient, "/", d.recipient_code());
  }
  std::vector<std::string> paths(d.field_paths().begin(), d.field_paths().end());
  if (d.locating()) paths.push_back("(locates)");
  return {d.decision_id(),
          d.kinex_id(),
          EnumText(cv1::SharingDecisionKind_descriptor(), d.kind()),
          EnumText(cv1::SharingDecisionReason_descriptor(), d.reason()),
          absl::StrCat(AgencyKindSlug(d.decider_kind()), "/", d.decider_code()),
          recipient,
          absl::StrJoin(paths, "; "),
          d.has_decided_at() ? google::protobuf::util::TimeUtil::ToString(d.decided_at()) : "",
          d.has_removed_at() ? google::protobuf::util::TimeUtil::ToString(d.removed_at()) : ""};
}

const std::vector<std::string>& DecisionHeader() {
  static const auto* const kHeader =
      new std::vector<std::string>{"decision_id", "kinex_id", "kind",       "reason",    "decider",
                                   "recipient",   "paths",    "decided_at", "removed_at"};
  return *kHeader;
}

int RunSharingRecord(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  std::optional<std::string> kind = args.Flag("kind");
  std::optional<std::string> reason = args.Flag("reason");
  std::optional<std::string> rationale = args.Flag("rationale");
  if (!kind || !reason || !rationale) {
    return ctx.Fail(absl::InvalidArgumentError("--kind, --reason and --rationale are required"));
  }
  ev1::RecordSharingDecisionRequest req;
  *req.mutable_child() = *child;
  kinex::records::v1::SharingDecision* d = req.mutable_decision();
  absl::StatusOr<int> k = ParseEnumFlag(cv1::SharingDecisionKind_descriptor(), "kind", *kind);
  if (!k.ok()) return ctx.Fail(k.status());
  d->set_kind(static_cast<cv1::SharingDecisionKind>(*k));
  absl::StatusOr<int> r = ParseEnumFlag(cv1::SharingDecisionReason_descriptor(), "reason", *reason);
  if (!r.ok()) return ctx.Fail(r.status());
  d->set_reason(static_cast<cv1::SharingDecisionReason>(*r));
  d->set_rationale(*rationale);
  for (const std::string& p : CommaList(args.FlagOr("paths", ""))) d->add_field_paths(p);
  d->set_locating(args.Bool("locating"));
  if (auto recipient = args.Flag("recipient")) {
    const size_t slash = recipient->find('/');
    const cv1::AgencyKind rk = AgencyKindFromSlug(recipient->substr(0, slash));
    if (rk == cv1::AGENCY_KIND_UNSPECIFIED) {
      return ctx.Fail(absl::InvalidArgumentError(
          absl::StrCat("--recipient: \"", recipient->substr(0, slash),
                       "\" is not an agency kind (e.g. school or school/100001)")));
    }
    d->set_recipient_kind(rk);
    if (slash != std::string::npos) d->set_recipient_code(recipient->substr(slash + 1));
  }
  if (auto purpose = args.Flag("purpose")) {
    absl::StatusOr<cv1::Purpose> p = ParsePurpose(*purpose);
    if (!p.ok()) return ctx.Fail(p.status());
    d->set_purpose(*p);
  }
  d->set_about_request_id(args.FlagOr("about-request-id", ""));
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  kinex::records::v1::SharingDecision resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::RecordSharingDecision, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  WriteRows(ctx.out(), ctx.output(), DecisionHeader(), {DecisionRow(resp)});
  return 0;
}

int RunSharingList(CommandContext& ctx, Args& args) {
  ev1::ListSharingDecisionsRequest req;
  // The child is optional: read it only when one of its flags is given.
  if (args.Flag("kinex-id") || args.Flag("nhs") || args.Flag("upn") || args.Flag("la-child-id")) {
    absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
    if (!child.ok()) return ctx.Fail(child.status());
    *req.mutable_child() = *child;
  }
  for (const std::string& k : CommaList(args.FlagOr("kinds", ""))) {
    absl::StatusOr<int> kind = ParseEnumFlag(cv1::SharingDecisionKind_descriptor(), "kinds", k);
    if (!kind.ok()) return ctx.Fail(kind.status());
    req.add_kinds(static_cast<cv1::SharingDecisionKind>(*kind));
  }
  req.set_include_removed(args.Bool("include-removed"));
  if (auto size = args.Flag("page-size")) {
    int n = 0;
    if (!absl::SimpleAtoi(*size, &n)) {
      return ctx.Fail(absl::InvalidArgumentError("--page-size must be a number"));
    }
    req.set_page_size(n);
  }
  const bool all = args.Bool("all");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  std::vector<std::vector<std::string>> rows;
  std::string token;
  do {
    req.set_page_token(token);
    kinex::records::v1::ListSharingDecisionsResponse resp;
    if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::ListSharingDecisions, req, &resp);
        !s.ok()) {
      return ctx.Fail(s);
    }
    for (const auto& d : resp.decisions()) rows.push_back(DecisionRow(d));
    token = resp.next_page_token();
  } while (all && !token.empty());
  WriteRows(ctx.out(), ctx.output(), DecisionHeader(), rows);
  if (!token.empty()) ctx.err() << "more: --all lists every page\n";
  return 0;
}

int RunSharingUnshield(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  std::optional<std::string> id = args.Flag("decision-id");
  std::optional<std::string> reason = args.Flag("reason");
  if (!id || !reason) {
    return ctx.Fail(absl::InvalidArgumentError("--decision-id and --reason are required"));
  }
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::RemoveShieldRequest req;
  *req.mutable_child() = *child;
  req.set_decision_id(*id);
  req.set_reason(*reason);
  kinex::records::v1::SharingDecision resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::RemoveShield, req, &resp); !s.ok()) {
    return ctx.Fail(s);
  }
  WriteRows(ctx.out(), ctx.output(), DecisionHeader(), {DecisionRow(resp)});
  return 0;
}

int RunSharing(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"locating", "include-removed", "all"});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, kSharingUsage, &exit);
  if (!word) return exit;
  const std::string& sub = *word;
  if (sub == "record") return RunSharingRecord(ctx, *args);
  if (sub == "list") return RunSharingList(ctx, *args);
  if (sub == "unshield") return RunSharingUnshield(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"sharing ", sub, "\" (record, list, unshield)")));
}

}  // namespace

absl::StatusOr<cv1::ChildRef> ChildRefFromArgs(Args& args) {
  cv1::ChildRef ref;
  int given = 0;
  if (auto v = args.Flag("kinex-id")) {
    ref.set_kinex_id(*v);
    ++given;
  }
  if (auto v = args.Flag("nhs")) {
    ref.set_nhs_number(*v);
    ++given;
  }
  if (auto v = args.Flag("upn")) {
    ref.set_upn(*v);
    ++given;
  }
  if (auto v = args.Flag("la-child-id")) {
    const size_t colon = v->find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError("--la-child-id must be LACODE:ID, e.g. E09000033:WCC-123");
    }
    ref.mutable_la_child_id()->set_la_code(v->substr(0, colon));
    ref.mutable_la_child_id()->set_id(v->substr(colon + 1));
    ++given;
  }
  if (given != 1) {
    return absl::InvalidArgumentError(
        "name the child with exactly one of --kinex-id, --nhs, --upn, --la-child-id");
  }
  return ref;
}

absl::StatusOr<cv1::Purpose> ParsePurpose(const std::string& text) {
  KINEX_ASSIGN_OR_RETURN(int p, ParseEnumFlag(cv1::Purpose_descriptor(), "purpose", text));
  return static_cast<cv1::Purpose>(p);
}

CommandGroup MakeRecordCommandGroup() {
  return {"record", "Get what you may see of a child's record; publish your agency's part",
          RunRecord};
}

CommandGroup MakeLinksCommandGroup() {
  return {"links", "For a local authority: list, confirm or reject agencies' links to its children",
          RunLinks};
}

CommandGroup MakeSharingCommandGroup() {
  return {"sharing", "Record and list decisions not to share; shield fields (LA)", RunSharing};
}

CommandGroup MakeChildrenCommandGroup() {
  return {"children", "List your cohort for a purpose (CSV for spreadsheets)", RunChildren};
}

}  // namespace kinex::ctl
