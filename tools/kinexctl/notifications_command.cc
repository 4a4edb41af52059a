#include "tools/kinexctl/notifications_command.h"

#include <memory>
#include <optional>
#include <vector>

#include <grpc/support/time.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "kinex/notifications/v1/notifications.grpc.pb.h"
#include "services/common/file_util.h"
#include "services/common/grpc_status.h"
#include "services/common/identity.h"

namespace kinex::ctl {
namespace {

namespace cv1 = kinex::common::v1;
namespace nv1 = kinex::notifications::v1;

constexpr char kNotificationsUsage[] =
    "usage: kinexctl notifications list [--after=ID] [--page-size=N] [--unacknowledged]\n"
    "                                   [--kind=KIND,...] [--all-pages]\n"
    "       kinexctl notifications watch [--after=ID] [--cursor-file=PATH] [--max=N]\n"
    "       kinexctl notifications ack ID\n"
    "\n"
    "Your agency's notifications: a disclosure of a child you are responsible for\n"
    "(ACCESS), a break-glass access awaiting review (BREAK_GLASS_REVIEW), Operation\n"
    "Encompass (ENCOMPASS, ENCOMPASS_ESCALATION), virtual school alerts (VSH_ALERT).\n"
    "Each is printed as one line:\n"
    "  <id> <KIND> <STATE> child=<kinex id> reason=<reason> [deadline=<time>]\n"
    "  [from=<agency-kind>/<code>] [actor=<actor>] [purpose=<PURPOSE>]\n"
    "  [break_glass=yes] [review=<OUTCOME>] [acked_by=<actor>]\n"
    "(--output=json: one JSON object per line; csv: one row each). The id is also\n"
    "the cursor: ids sort in the order the notifications were made. A notification\n"
    "names the child only; read the details with `kinexctl record get`.\n"
    "\n"
    "list   one page, oldest first (default page size: the server's); the last\n"
    "       line then reads \"next: --after=ID\" when there is more (json and csv:\n"
    "       on stderr). --all-pages lists every page. --unacknowledged leaves out\n"
    "       acknowledged (and reviewed) ones; --kind keeps only the kinds named\n"
    "       (access, break-glass-review, encompass, encompass-escalation, vsh-alert).\n"
    "watch  prints notifications as they are made, one line each as it arrives:\n"
    "       those after --after first (without it: every one not yet\n"
    "       acknowledged). --cursor-file=PATH resumes after the id in PATH (when\n"
    "       it exists and --after is not given) and, after printing each\n"
    "       notification, writes its id there (atomically): a restarted watcher\n"
    "       misses nothing and may print the last one again. --max=N exits 0\n"
    "       after N notifications; otherwise it runs until interrupted, or exits\n"
    "       1 when the server ends the stream (run it again to resume).\n"
    "ack    acknowledges a notification (audited); acknowledging it again prints\n"
    "       the first acknowledgement. A break-glass review is closed with\n"
    "       `kinexctl breakglass review` instead.\n"
    "\n"
    "Every listing and delivery is audited as delivered to you.\n";

constexpr char kBreakGlassUsage[] =
    "usage: kinexctl breakglass review ID --outcome=upheld|referred --note=TEXT\n"
    "\n"
    "Closes the review of a break-glass access to a child your local authority is\n"
    "responsible for (a BREAK_GLASS_REVIEW notification; see `kinexctl\n"
    "notifications list --kind=break-glass-review`). A team manager only.\n"
    "upheld: the emergency access was justified; referred: it needs answering for\n"
    "(passed to the data protection officer or the accessing agency). --note gives\n"
    "your reasons (10-2000 characters). Audited; the same review again prints the\n"
    "first, a different one is refused. Prints the notification, now reviewed.\n";

// The columns of --output=csv.
const std::vector<std::string>& CsvHeader() {
  static const auto* const kHeader = new std::vector<std::string>{
      "notification_id", "kind",    "state",       "kinex_id", "reason",  "deadline", "from",
      "actor",           "purpose", "break_glass", "review",   "acked_by"};
  return *kHeader;
}

std::string EnumText(const google::protobuf::EnumDescriptor* type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  return v == nullptr ? absl::StrCat(value) : v->name();
}

// Who the notification is from: the agency disclosed to (ACCESS, reviews);
// for Operation Encompass, the notifying force.
std::string FromText(const nv1::Notification& n) {
  if (n.has_accessor() && n.accessor().agency_kind() != cv1::AGENCY_KIND_UNSPECIFIED) {
    return absl::StrCat(AgencyKindSlug(n.accessor().agency_kind()), "/",
                        n.accessor().agency_code());
  }
  if (n.kind() == nv1::ENCOMPASS && !n.force_code().empty()) {
    return absl::StrCat(AgencyKindSlug(cv1::POLICE), "/", n.force_code());
  }
  return "";
}

// The cells of one notification, in CsvHeader order ("" for unset).
std::vector<std::string> Cells(const nv1::Notification& n) {
  return {n.notification_id(),
          EnumText(nv1::NotificationKind_descriptor(), n.kind()),
          EnumText(nv1::NotificationState_descriptor(), n.state()),
          n.kinex_id(),
          n.reason(),
          n.has_deadline() ? google::protobuf::util::TimeUtil::ToString(n.deadline()) : "",
          FromText(n),
          n.accessor().actor(),
          n.purpose() == cv1::PURPOSE_UNSPECIFIED
              ? ""
              : EnumText(cv1::Purpose_descriptor(), n.purpose()),
          n.break_glass() ? "yes" : "",
          n.review_outcome() == nv1::REVIEW_OUTCOME_UNSPECIFIED
              ? ""
              : EnumText(nv1::ReviewOutcome_descriptor(), n.review_outcome()),
          n.acked_by()};
}

// One RFC 4180 row, CRLF-terminated (as WriteRows writes CSV).
std::string CsvRow(const std::vector<std::string>& cells) {
  std::vector<std::string> quoted;
  for (const std::string& v : cells) {
    if (v.find_first_of(",\"\n\r") == std::string::npos) {
      quoted.push_back(v);
      continue;
    }
    std::string q = "\"";
    for (char c : v) {
      if (c == '"') q += '"';
      q += c;
    }
    quoted.push_back(q + "\"");
  }
  return absl::StrCat(absl::StrJoin(quoted, ","), "\r\n");
}

// `n` in the protobuf JSON mapping, on one line.
std::string JsonLine(const nv1::Notification& n) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(n, &json, options);
  return json;
}

// Prints the header the output format needs before the first notification.
void BeginNotifications(CommandContext& ctx) {
  if (ctx.output() == OutputFormat::kCsv) ctx.out() << CsvRow(CsvHeader());
}

// Prints one notification in the output format and flushes (watchers and
// pipes see each line as it arrives).
void PrintNotification(CommandContext& ctx, const nv1::Notification& n) {
  switch (ctx.output()) {
    case OutputFormat::kJson:
      ctx.out() << JsonLine(n) << "\n";
      break;
    case OutputFormat::kCsv:
    case OutputFormat::kXlsx:  // main.cc refuses xlsx here
      ctx.out() << CsvRow(Cells(n));
      break;
    case OutputFormat::kTable:
      ctx.out() << NotificationLine(n) << "\n";
      break;
  }
  ctx.out().flush();
}

absl::StatusOr<std::unique_ptr<nv1::Notifications::Stub>> NotificationsStub(CommandContext& ctx) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctx.Channel();
  if (!channel.ok()) return channel.status();
  return nv1::Notifications::NewStub(*channel);
}

// One unary Notifications call with the command's metadata and deadline.
template <typename Req, typename Resp>
absl::Status Call(CommandContext& ctx,
                  grpc::Status (nv1::Notifications::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                   Resp*),
                  const Req& req, Resp* resp) {
  absl::StatusOr<std::unique_ptr<nv1::Notifications::Stub>> stub = NotificationsStub(ctx);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext call;
  ctx.Prepare(call);
  return FromGrpcStatus(((**stub).*method)(&call, req, resp));
}

// A positive count from --`flag`.
absl::StatusOr<int> PositiveFlag(const std::string& flag, const std::string& text) {
  int n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be a positive number, not \"", text, "\""));
  }
  return n;
}

// The one notification id a command takes after its subcommand word.
absl::StatusOr<std::string> IdArgument(const Args& args, absl::string_view command) {
  const std::vector<std::string>& words = args.positional();
  if (words.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, " needs a notification id (e.g. 812.0)"));
  }
  if (words.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", words[2], "\""));
  }
  return words[1];
}

// The subcommand word. Prints `usage` and sets *exit for --help (stdout,
// 0), no subcommand (stderr, 2) or a parse error (the error, 2); returns
// nullopt then.
std::optional<std::string> Subcommand(CommandContext& ctx, absl::StatusOr<Args>& args,
                                      const char* usage, int* exit) {
  ctx.SetUsage(usage);
  if (!args.ok()) {
    *exit = ctx.Fail(args.status());
    return std::nullopt;
  }
  if (args->Bool("help") || args->positional().empty()) {
    *exit = ctx.PrintUsage(usage, args->Bool("help"));
    return std::nullopt;
  }
  return args->positional()[0];
}

int RunList(CommandContext& ctx, Args& args) {
  if (args.positional().size() > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args.positional()[1], "\"")));
  }
  nv1::ListNotificationsRequest req;
  req.set_after(args.FlagOr("after", ""));
  if (std::optional<std::string> size = args.Flag("page-size")) {
    absl::StatusOr<int> n = PositiveFlag("page-size", *size);
    if (!n.ok()) return ctx.Fail(n.status());
    req.set_page_size(*n);
  }
  req.set_unacknowledged_only(args.Bool("unacknowledged"));
  for (absl::string_view k : absl::StrSplit(args.FlagOr("kind", ""), ',', absl::SkipEmpty())) {
    absl::StatusOr<int> kind =
        ParseEnumFlag(nv1::NotificationKind_descriptor(), "kind", absl::StripAsciiWhitespace(k));
    if (!kind.ok()) return ctx.Fail(kind.status());
    req.add_kinds(static_cast<nv1::NotificationKind>(*kind));
  }
  const bool all = args.Bool("all-pages");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  absl::StatusOr<std::unique_ptr<nv1::Notifications::Stub>> stub = NotificationsStub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());

  BeginNotifications(ctx);
  std::string next;
  do {
    grpc::ClientContext call;
    ctx.Prepare(call);
    nv1::ListNotificationsResponse resp;
    grpc::Status s = (*stub)->ListNotifications(&call, req, &resp);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    for (const nv1::Notification& n : resp.notifications()) PrintNotification(ctx, n);
    next = resp.next_page_token();
    // The next page: its token as the cursor (the server takes one of the two).
    req.set_after(next);
  } while (all && !next.empty());
  if (!next.empty()) {
    // Table output is for people: the hint is part of it. JSON and CSV keep
    // stdout machine-readable.
    (ctx.output() == OutputFormat::kTable ? ctx.out() : ctx.err())
        << "next: --after=" << next << "\n";
  }
  return 0;
}

// The cursor stored in `path`: nullopt when the file does not exist or is
// empty.
absl::StatusOr<std::optional<std::string>> ReadCursorFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
    return text.status();
  }
  const std::string cursor(absl::StripAsciiWhitespace(*text));
  if (cursor.empty()) return std::nullopt;
  return cursor;
}

int RunWatch(CommandContext& ctx, Args& args) {
  if (args.positional().size() > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args.positional()[1], "\"")));
  }
  std::optional<std::string> after = args.Flag("after");
  const std::optional<std::string> cursor_file = args.Flag("cursor-file");
  int max = 0;
  if (std::optional<std::string> m = args.Flag("max")) {
    absl::StatusOr<int> n = PositiveFlag("max", *m);
    if (!n.ok()) return ctx.Fail(n.status());
    max = *n;
  }
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  if (cursor_file.has_value() && cursor_file->empty()) {
    return ctx.Fail(absl::InvalidArgumentError("--cursor-file needs a path"));
  }
  if (!after.has_value() && cursor_file.has_value()) {
    absl::StatusOr<std::optional<std::string>> stored = ReadCursorFile(*cursor_file);
    if (!stored.ok()) return ctx.Fail(stored.status());
    after = *stored;
  }
  absl::StatusOr<std::unique_ptr<nv1::Notifications::Stub>> stub = NotificationsStub(ctx);
  if (!stub.ok()) return ctx.Fail(stub.status());

  grpc::ClientContext call;
  ctx.Prepare(call);
  // A watch has no deadline: it lasts until interrupted or --max is reached.
  call.set_deadline(gpr_inf_future(GPR_CLOCK_REALTIME));
  nv1::WatchNotificationsRequest req;
  req.set_after(after.value_or(""));
  std::unique_ptr<grpc::ClientReader<nv1::Notification>> reader =
      (*stub)->WatchNotifications(&call, req);

  BeginNotifications(ctx);
  int seen = 0;
  nv1::Notification n;
  while (reader->Read(&n)) {
    PrintNotification(ctx, n);
    if (cursor_file.has_value()) {
      // After the line is out: a crash in between prints it again on
      // restart (at least once), never skips it.
      if (absl::Status w = WriteFileAtomically(*cursor_file, n.notification_id() + "\n", 0644);
          !w.ok()) {
        call.TryCancel();
        (void)reader->Finish();
        return ctx.Fail(w);
      }
    }
    if (max > 0 && ++seen >= max) {
      call.TryCancel();
      (void)reader->Finish();  // CANCELLED, by us
      return 0;
    }
  }
  absl::Status status = FromGrpcStatus(reader->Finish());
  if (status.ok()) {
    status = absl::UnavailableError(
        "the server ended the notification stream; run watch again to resume (with the same "
        "--cursor-file, or --after=<the last id printed>)");
  }
  return ctx.Fail(status);
}

int RunAck(CommandContext& ctx, Args& args) {
  absl::StatusOr<std::string> id = IdArgument(args, "notifications ack");
  if (!id.ok()) return ctx.Fail(id.status());
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  nv1::AckNotificationRequest req;
  req.set_notification_id(*id);
  nv1::Notification resp;
  if (absl::Status s = Call(ctx, &nv1::Notifications::Stub::AckNotification, req, &resp); !s.ok()) {
    return ctx.Fail(s);
  }
  BeginNotifications(ctx);
  PrintNotification(ctx, resp);
  return 0;
}

int RunNotifications(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {"unacknowledged", "all-pages"});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, kNotificationsUsage, &exit);
  if (!word) return exit;
  if (*word == "list") return RunList(ctx, *args);
  if (*word == "watch") return RunWatch(ctx, *args);
  if (*word == "ack") return RunAck(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"notifications ", *word, "\" (list, watch, ack)")));
}

int RunReview(CommandContext& ctx, Args& args) {
  absl::StatusOr<std::string> id = IdArgument(args, "breakglass review");
  if (!id.ok()) return ctx.Fail(id.status());
  const std::optional<std::string> outcome_text = args.Flag("outcome");
  const std::optional<std::string> note = args.Flag("note");
  if (!outcome_text || !note) {
    return ctx.Fail(absl::InvalidArgumentError(
        "--outcome=upheld|referred and --note=TEXT (your reasons) are required"));
  }
  absl::StatusOr<int> outcome =
      ParseEnumFlag(nv1::ReviewOutcome_descriptor(), "outcome", *outcome_text);
  if (!outcome.ok()) return ctx.Fail(outcome.status());
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  nv1::ReviewBreakGlassRequest req;
  req.set_notification_id(*id);
  req.set_outcome(static_cast<nv1::ReviewOutcome>(*outcome));
  req.set_note(*note);
  nv1::Notification resp;
  if (absl::Status s = Call(ctx, &nv1::Notifications::Stub::ReviewBreakGlass, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  BeginNotifications(ctx);
  PrintNotification(ctx, resp);
  return 0;
}

int RunBreakGlass(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, kBreakGlassUsage, &exit);
  if (!word) return exit;
  if (*word == "review") return RunReview(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"breakglass ", *word, "\" (review)")));
}

}  // namespace

std::string NotificationLine(const nv1::Notification& n) {
  const std::vector<std::string> c = Cells(n);
  std::string line = absl::StrCat(c[0], " ", c[1], " ", c[2], " child=", c[3], " reason=", c[4]);
  // The optional fields, each only when set, in CsvHeader order.
  for (size_t i = 5; i < c.size(); ++i) {
    if (!c[i].empty()) absl::StrAppend(&line, " ", CsvHeader()[i], "=", c[i]);
  }
  return line;
}

CommandGroup MakeNotificationsCommandGroup() {
  return {"notifications",
          "List, watch and acknowledge your agency's notifications (ACCESS, Encompass...)",
          RunNotifications};
}

CommandGroup MakeBreakGlassCommandGroup() {
  return {"breakglass", "For an LA team manager: close the review of a break-glass access",
          RunBreakGlass};
}

}  // namespace kinex::ctl
