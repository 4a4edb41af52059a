#include "tools/kinexctl/record_command.h"

#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/status_macros.h"
#include "tools/kinexctl/record_format.h"

namespace kinex::ctl {
namespace {

namespace cv1 = kinex::common::v1;
namespace ev1 = kinex::exchange::v1;

constexpr char kRecordUsage[] =
    "usage: kinexctl record get CHILD --purpose=PURPOSE [--justification=TEXT]\n"
    "                           [--break-glass] [--receipt-out=FILE]\n"
    "       kinexctl record publish --from-json=FILE [CHILD] [--etag=ETAG]\n"
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
    "         --etag override the file. Prints the child's Kinex id, the new etag\n"
    "         and version.\n";

constexpr char kChildrenUsage[] =
    "usage: kinexctl children list --purpose=PURPOSE [--page-size=N] [--page-token=T]\n"
    "                              [--all] [--justification=TEXT]\n"
    "\n"
    "Lists your cohort for a purpose (e.g. a virtual school head's children for\n"
    "EDUCATION_SUPPORT), each record with exactly the fields you may see.\n"
    "--output=csv gives a spreadsheet: one row per child, one column per visible\n"
    "field (repeated values joined with \"; \"). --all follows every page.\n";

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(CommandContext& ctx) {
  return ctx.Channel();
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
  const std::optional<std::string> receipt_out = args.Flag("receipt-out");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = Connect(ctx);
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = ev1::Exchange::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call);
  ev1::GetChildRecordResponse resp;
  grpc::Status s = stub->GetChildRecord(&call, req, &resp);
  if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
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
    ctx.err() << "request " << resp.request_id() << ": audit leaf "
              << resp.receipt().leaf_index() << ", tree size "
              << resp.receipt().signed_tree_head().tree_size() << ", "
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
  const bool has_child_flag = args.Flag("kinex-id") || args.Flag("nhs") || args.Flag("upn") ||
                              args.Flag("la-child-id");
  if (has_child_flag) {
    absl::StatusOr<cv1::ChildRef> child = ChildRefFromArgs(args);
    if (!child.ok()) return ctx.Fail(child.status());
    *req.mutable_child() = *child;
  }
  if (auto etag = args.Flag("etag")) req.set_etag(*etag);
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = Connect(ctx);
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = ev1::Exchange::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call);
  ev1::PublishRecordResponse resp;
  grpc::Status s = stub->PublishRecord(&call, req, &resp);
  if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
  WriteRows(ctx.out(), ctx.output(), {"kinex_id", "etag", "version"},
            {{resp.kinex_id(), resp.etag(), absl::StrCat(resp.version())}});
  return 0;
}

int RunRecord(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"break-glass"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (args->Bool("help") || args->positional().empty()) {
    (args->Bool("help") ? ctx.out() : ctx.err()) << kRecordUsage;
    return args->Bool("help") ? 0 : 2;
  }
  const std::string sub = args->positional()[0];
  if (args->positional().size() > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args->positional()[1], "\"")));
  }
  if (sub == "get") return RunGet(ctx, *args);
  if (sub == "publish") return RunPublish(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"record ", sub, "\" (get, publish)")));
}

int RunChildrenList(CommandContext& ctx, Args& args) {
  std::optional<std::string> purpose_text = args.Flag("purpose");
  if (!purpose_text) return ctx.Fail(absl::InvalidArgumentError("--purpose is required"));
  absl::StatusOr<cv1::Purpose> purpose = ParsePurpose(*purpose_text);
  if (!purpose.ok()) return ctx.Fail(purpose.status());
  int page_size = 0;
  if (auto ps = args.Flag("page-size")) {
    if (!absl::SimpleAtoi(*ps, &page_size) || page_size < 1) {
      return ctx.Fail(absl::InvalidArgumentError(
          absl::StrCat("--page-size must be a positive number, not \"", *ps, "\"")));
    }
  }
  std::string token = args.FlagOr("page-token", "");
  const bool all = args.Bool("all");
  const std::string justification = args.FlagOr("justification", "");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = Connect(ctx);
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = ev1::Exchange::NewStub(*channel);

  std::vector<std::map<std::string, std::string>> children;
  std::vector<ev1::CohortEntry> entries;
  std::string next;
  do {
    ev1::ListChildrenRequest req;
    req.set_purpose(*purpose);
    req.set_page_size(page_size);
    req.set_page_token(token);
    req.set_justification(justification);
    grpc::ClientContext call;
    ctx.Prepare(call, 120);
    ev1::ListChildrenResponse resp;
    grpc::Status s = stub->ListChildren(&call, req, &resp);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    for (const auto& c : resp.children()) {
      children.push_back(FlattenRecord(c.record()));
      entries.push_back(c);
    }
    next = resp.next_page_token();
    token = next;
  } while (all && !token.empty());

  if (ctx.output() == OutputFormat::kJson) {
    ev1::ListChildrenResponse out;
    for (auto& e : entries) *out.add_children() = std::move(e);
    out.set_next_page_token(next);
    ctx.out() << ToJson(out) << "\n";
    return 0;
  }
  // Columns: every field visible in at least one child, kinex id first.
  std::set<std::string> columns;
  for (const auto& c : children) {
    for (const auto& [path, v] : c) columns.insert(path);
  }
  std::vector<std::string> header = {"identity.kinex_id"};
  for (const auto& c : columns) {
    if (c != "identity.kinex_id") header.push_back(c);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : children) {
    std::vector<std::string> row;
    for (const auto& h : header) {
      auto it = c.find(h);
      row.push_back(it == c.end() ? "" : it->second);
    }
    rows.push_back(std::move(row));
  }
  WriteRows(ctx.out(), ctx.output(), header, rows);
  ctx.out().flush();
  if (!next.empty() && !all) ctx.err() << "more: --page-token=" << next << "\n";
  return 0;
}

int RunChildren(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"all"});
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

}  // namespace

absl::StatusOr<cv1::ChildRef> ChildRefFromArgs(Args& args) {
  cv1::ChildRef ref;
  int given = 0;
  if (auto v = args.Flag("kinex-id")) { ref.set_kinex_id(*v); ++given; }
  if (auto v = args.Flag("nhs")) { ref.set_nhs_number(*v); ++given; }
  if (auto v = args.Flag("upn")) { ref.set_upn(*v); ++given; }
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

CommandGroup MakeChildrenCommandGroup() {
  return {"children", "List your cohort for a purpose (CSV for spreadsheets)", RunChildren};
}

}  // namespace kinex::ctl
