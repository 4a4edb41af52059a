#include "tools/kinexctl/calendar_command.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "kinex/exchange/v1/exchange.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "services/common/textproto.h"
#include "tools/kinexctl/record_format.h"

namespace kinex::ctl {
namespace {

namespace ev1 = kinex::exchange::v1;
namespace nv1 = kinex::notifications::v1;

constexpr char kCalendarUsage[] =
    "usage: kinexctl calendar publish FILE [--etag=ETAG]\n"
    "       kinexctl calendar get\n"
    "\n"
    "For a school or a local authority: your own calendar of terms, closures and\n"
    "start of day, which decides when an Operation Encompass notification is due\n"
    "(the start of the school's next school day). A school's calendar names its\n"
    "own URN (school_urn), an LA's its own ONS code (la_code); any role may\n"
    "publish it. It replaces an operator's calendar file for the same school or\n"
    "LA, for the next deadline on. Audited (CALENDAR_PUBLISHED).\n"
    "\n"
    "publish  sends FILE, a kinex.notifications.v1.SchoolCalendar textproto (the\n"
    "         format of the operator's files in records.calendars_dir):\n"
    "           school_urn: \"137000\"\n"
    "           terms { first { year: 2027 month: 9 day: 1 }\n"
    "                   last { year: 2027 month: 12 day: 17 } }\n"
    "           closures { year: 2027 month: 11 day: 8 }\n"
    "           day_start: \"08:40\"\n"
    "         A file that does not parse is refused here (FILE:line:column),\n"
    "         before anything is sent. The first publish takes no --etag; to\n"
    "         replace a calendar, give its current etag (printed by publish and\n"
    "         get): a stale one is ABORTED naming the current etag. Prints the\n"
    "         calendar (school:URN or la:CODE), its new etag and publish time.\n"
    "get      prints your published calendar as textproto, after comment lines\n"
    "         with its etag, publish time, and the system and practitioner that\n"
    "         published it: edit the output and publish it with that etag.\n"
    "         --output=json: the response in the protobuf JSON mapping; csv: one\n"
    "         row, the calendar on one line. NOT_FOUND when none is published.\n"
    "\n"
    "Example:\n"
    "  kinexctl --actor=\"School Office\" calendar publish autumn-2027.textproto\n"
    "  kinexctl calendar get > calendar.textproto\n"
    "  kinexctl calendar publish calendar.textproto --etag=5f0c9e1d2b7a4c6e8d9f0a1b\n";

std::string TimeText(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

// One unary Exchange call with the command's metadata and deadline.
template <typename Req, typename Resp>
absl::Status CallExchange(CommandContext& ctx,
                          grpc::Status (ev1::Exchange::Stub::*method)(grpc::ClientContext*,
                                                                      const Req&, Resp*),
                          const Req& req, Resp* resp) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ctx.Channel();
  if (!channel.ok()) return channel.status();
  std::unique_ptr<ev1::Exchange::Stub> stub = ev1::Exchange::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call);
  return FromGrpcStatus((stub.get()->*method)(&call, req, resp));
}

// The subcommand word. Prints the usage and sets *exit for --help (stdout,
// 0), no subcommand (stderr, 2) or a parse error (the error, 2); returns
// nullopt then.
std::optional<std::string> Subcommand(CommandContext& ctx, absl::StatusOr<Args>& args, int* exit) {
  ctx.SetUsage(kCalendarUsage);
  if (!args.ok()) {
    *exit = ctx.Fail(args.status());
    return std::nullopt;
  }
  if (args->Bool("help") || args->positional().empty()) {
    *exit = ctx.PrintUsage(kCalendarUsage, args->Bool("help"));
    return std::nullopt;
  }
  return args->positional()[0];
}

int RunPublish(CommandContext& ctx, Args& args) {
  const std::vector<std::string>& words = args.positional();
  if (words.size() < 2) {
    return ctx.Fail(
        absl::InvalidArgumentError("calendar publish needs a FILE (a SchoolCalendar textproto)"));
  }
  if (words.size() > 2) {
    return ctx.Fail(
        absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", words[2], "\"")));
  }
  ev1::PublishSchoolCalendarRequest req;
  req.set_etag(args.FlagOr("etag", ""));
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  // "FILE:line:column: message" (INVALID_ARGUMENT, exit 2) before any call.
  if (absl::Status s = ParseTextProtoFile(words[1], req.mutable_calendar()); !s.ok()) {
    return ctx.Fail(s);
  }
  ev1::PublishSchoolCalendarResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::PublishSchoolCalendar, req, &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  WriteRows(ctx.out(), ctx.output(), {"calendar", "etag", "publish_time"},
            {{CalendarKey(resp.calendar()), resp.etag(), TimeText(resp.publish_time())}});
  return 0;
}

int RunGet(CommandContext& ctx, Args& args) {
  if (args.positional().size() > 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", args.positional()[1], "\"")));
  }
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  ev1::GetSchoolCalendarResponse resp;
  if (absl::Status s = CallExchange(ctx, &ev1::Exchange::Stub::GetSchoolCalendar,
                                    ev1::GetSchoolCalendarRequest(), &resp);
      !s.ok()) {
    return ctx.Fail(s);
  }
  const std::string key = CalendarKey(resp.calendar());
  switch (ctx.output()) {
    case OutputFormat::kJson:
      ctx.out() << ToJson(resp) << "\n";
      return 0;
    case OutputFormat::kCsv:
    case OutputFormat::kXlsx: {  // main.cc refuses xlsx here
      google::protobuf::TextFormat::Printer one_line;
      one_line.SetSingleLineMode(true);
      std::string text;
      (void)one_line.PrintToString(resp.calendar(), &text);
      while (!text.empty() && text.back() == ' ') text.pop_back();
      WriteRows(ctx.out(), ctx.output(),
                {"calendar", "etag", "publish_time", "principal", "actor", "textproto"},
                {{key, resp.etag(), TimeText(resp.publish_time()), resp.principal(), resp.actor(),
                  text}});
      return 0;
    }
    case OutputFormat::kTable: {
      std::string text;
      (void)google::protobuf::TextFormat::PrintToString(resp.calendar(), &text);
      ctx.out() << "# calendar: " << key << "\n"
                << "# etag: " << resp.etag() << "\n"
                << "# published: " << TimeText(resp.publish_time()) << " by " << resp.principal()
                << (resp.actor().empty() ? "" : absl::StrCat(" (actor: ", resp.actor(), ")"))
                << "\n"
                << text;
      return 0;
    }
  }
  return 0;
}

int RunCalendar(CommandContext& ctx, const std::vector<std::string>& words) {
  absl::StatusOr<Args> args = Args::Parse(words, {});
  int exit = 0;
  const std::optional<std::string> word = Subcommand(ctx, args, &exit);
  if (!word) return exit;
  if (*word == "publish") return RunPublish(ctx, *args);
  if (*word == "get") return RunGet(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(
      absl::StrCat("unknown subcommand \"calendar ", *word, "\" (publish, get)")));
}

}  // namespace

std::string CalendarKey(const nv1::SchoolCalendar& c) {
  if (!c.school_urn().empty()) return absl::StrCat("school:", c.school_urn());
  if (!c.la_code().empty()) return absl::StrCat("la:", c.la_code());
  return "";
}

CommandGroup MakeCalendarCommandGroup() {
  return {"calendar", "For a school or LA: publish and read your calendar (Encompass deadlines)",
          RunCalendar};
}

}  // namespace kinex::ctl
