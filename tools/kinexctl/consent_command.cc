#include "tools/kinexctl/consent_command.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "kinex/consent/v1/consent.grpc.pb.h"
#include "services/common/grpc_status.h"
#include "tools/kinexctl/record_command.h"

namespace kinex::ctl {
namespace {

namespace cv1 = kinex::consent::v1;
namespace comv1 = kinex::common::v1;

constexpr char kUsage[] =
    "usage: kinexctl consent record CHILD (CONSENT | BASIS) [--from=TIME] [--until=TIME]\n"
    "       kinexctl consent list CHILD [--page-size=N] [--page-token=T] [--all]\n"
    "       kinexctl consent withdraw CONSENT_ID [--effective=TIME] [--reason=TEXT]\n"
    "\n"
    "CHILD is one of --kinex-id=ID, --nhs=NUMBER, --upn=UPN, --la-child-id=LACODE:ID.\n"
    "TIME is RFC 3339, e.g. 2026-09-01T08:00:00Z. Lists are comma-separated; enum\n"
    "values by name or in kebab-case (education-support).\n"
    "\n"
    "CONSENT (a consent, or with --refused a refusal):\n"
    "  --giver=KIND            parental-responsibility-holder, gillick-competent-child\n"
    "                          or child-aged-16-or-over\n"
    "  --name=NAME             who gave it (required for a PR holder)\n"
    "  --relationship=REL      parent, special-guardian, child-arrangements-order-carer,\n"
    "                          adoptive-parent, local-authority-under-care-order,\n"
    "                          other-pr-holder (PR holders only)\n"
    "  --categories=LIST       data categories: education, health, ...\n"
    "  --recipients=LIST       agency kinds: virtual-school, school, health, ...\n"
    "  --recipient-codes=LIST  only these agencies (optional)\n"
    "  --purposes=LIST         education-support, safeguarding, ...\n"
    "  --refused               record a refusal\n"
    "BASIS (a statutory basis, recorded by the local authority):\n"
    "  --basis=BASIS           e.g. safeguarding-of-children, legal-obligation\n"
    "  --reference=TEXT        what it rests on, e.g. \"s47 enquiry opened\"\n"
    "  --purposes=LIST         purposes it supports (optional: all)\n"
    "  --recipients=LIST       recipient kinds it supports (optional: all)\n"
    "\n"
    "record   prints the new entry's id. list prints one row per entry (consents,\n"
    "         refusals and bases, withdrawn ones included). withdraw ends an entry\n"
    "         from now or a later --effective time.\n";

absl::StatusOr<std::vector<int>> ParseEnumList(const google::protobuf::EnumDescriptor* type,
                                               const std::string& flag, const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    absl::StatusOr<int> v =
        ParseEnumFlag(type, flag, std::string(absl::StripAsciiWhitespace(part)));
    if (!v.ok()) return v.status();
    out.push_back(*v);
  }
  return out;
}

absl::Status ParseTime(const std::string& flag, const std::string& text,
                       google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": not an RFC 3339 time (e.g. 2026-09-01T08:00:00Z)"));
  }
  out->set_seconds(absl::ToUnixSeconds(t));
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(absl::ToUnixSeconds(t))) /
                                      absl::Nanoseconds(1)));
  return absl::OkStatus();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

template <typename Repeated>
std::string EnumNames(const google::protobuf::EnumDescriptor* type, const Repeated& values) {
  std::vector<std::string> names;
  for (int v : values) {
    const auto* d = type->FindValueByNumber(v);
    names.push_back(d ? d->name() : absl::StrCat(v));
  }
  return absl::StrJoin(names, ",");
}

// Adds a comma-separated enum list flag to `field` when given.
template <typename Adder>
absl::Status AddList(Args& args, const char* flag, const google::protobuf::EnumDescriptor* type,
                     bool required, Adder add) {
  std::optional<std::string> text = args.Flag(flag);
  if (!text) {
    return required ? absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"))
                    : absl::OkStatus();
  }
  absl::StatusOr<std::vector<int>> values = ParseEnumList(type, flag, *text);
  if (!values.ok()) return values.status();
  for (int v : *values) add(v);
  return absl::OkStatus();
}

absl::StatusOr<cv1::RecordConsentRequest> BuildRecord(Args& args) {
  cv1::RecordConsentRequest req;
  absl::StatusOr<comv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return child.status();
  *req.mutable_child() = *child;
  cv1::ConsentEntry* entry = req.mutable_entry();
  const std::optional<std::string> basis = args.Flag("basis");
  const std::optional<std::string> giver = args.Flag("giver");
  if (basis.has_value() == giver.has_value()) {
    return absl::InvalidArgumentError(
        "give either --giver (a consent or refusal) or --basis (a statutory basis)");
  }
  if (basis) {
    auto* b = entry->mutable_statutory_basis();
    absl::StatusOr<int> v = ParseEnumFlag(comv1::LegalBasis_descriptor(), "basis", *basis);
    if (!v.ok()) return v.status();
    b->set_basis(static_cast<comv1::LegalBasis>(*v));
    b->set_reference(args.FlagOr("reference", ""));
    if (absl::Status s = AddList(args, "purposes", comv1::Purpose_descriptor(), false,
                                 [&](int p) { b->add_purposes(static_cast<comv1::Purpose>(p)); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            AddList(args, "recipients", comv1::AgencyKind_descriptor(), false,
                    [&](int k) { b->add_recipient_kinds(static_cast<comv1::AgencyKind>(k)); });
        !s.ok()) {
      return s;
    }
  } else {
    auto* c = entry->mutable_consent();
    c->set_decision(args.Bool("refused") ? cv1::CONSENT_REFUSED : cv1::CONSENT_GIVEN);
    absl::StatusOr<int> kind = ParseEnumFlag(cv1::GiverKind_descriptor(), "giver", *giver);
    if (!kind.ok()) return kind.status();
    c->mutable_given_by()->set_kind(static_cast<cv1::GiverKind>(*kind));
    c->mutable_given_by()->set_name(args.FlagOr("name", ""));
    if (auto rel = args.Flag("relationship")) {
      absl::StatusOr<int> r = ParseEnumFlag(cv1::PrRelationship_descriptor(), "relationship", *rel);
      if (!r.ok()) return r.status();
      c->mutable_given_by()->set_relationship(static_cast<cv1::PrRelationship>(*r));
    }
    auto* scope = c->mutable_scope();
    if (absl::Status s = AddList(
            args, "categories", kinex::record::v1::Category_descriptor(), true,
            [&](int v) { scope->add_categories(static_cast<kinex::record::v1::Category>(v)); });
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            AddList(args, "recipients", comv1::AgencyKind_descriptor(), true,
                    [&](int k) { scope->add_recipient_kinds(static_cast<comv1::AgencyKind>(k)); });
        !s.ok()) {
      return s;
    }
    if (auto codes = args.Flag("recipient-codes")) {
      for (absl::string_view code : absl::StrSplit(*codes, ',', absl::SkipWhitespace())) {
        scope->add_recipient_codes(std::string(absl::StripAsciiWhitespace(code)));
      }
    }
    if (absl::Status s =
            AddList(args, "purposes", comv1::Purpose_descriptor(), true,
                    [&](int p) { scope->add_purposes(static_cast<comv1::Purpose>(p)); });
        !s.ok()) {
      return s;
    }
  }
  if (auto from = args.Flag("from")) {
    if (absl::Status s = ParseTime("from", *from, entry->mutable_valid_from()); !s.ok()) return s;
  }
  if (auto until = args.Flag("until")) {
    if (absl::Status s = ParseTime("until", *until, entry->mutable_valid_until()); !s.ok()) {
      return s;
    }
  }
  return req;
}

std::vector<std::string> EntryRow(const cv1::ConsentEntry& e) {
  std::string kind, who, categories, recipients, purposes;
  if (e.has_consent()) {
    const auto& c = e.consent();
    kind = c.decision() == cv1::CONSENT_REFUSED ? "refusal" : "consent";
    who = cv1::GiverKind_Name(c.given_by().kind());
    if (!c.given_by().name().empty()) absl::StrAppend(&who, " ", c.given_by().name());
    if (c.given_by().relationship() != cv1::PR_RELATIONSHIP_UNSPECIFIED) {
      absl::StrAppend(&who, " (", cv1::PrRelationship_Name(c.given_by().relationship()), ")");
    }
    categories = EnumNames(kinex::record::v1::Category_descriptor(), c.scope().categories());
    recipients = EnumNames(comv1::AgencyKind_descriptor(), c.scope().recipient_kinds());
    if (!c.scope().recipient_codes().empty()) {
      absl::StrAppend(&recipients, " [", absl::StrJoin(c.scope().recipient_codes(), ","), "]");
    }
    purposes = EnumNames(comv1::Purpose_descriptor(), c.scope().purposes());
  } else {
    const auto& b = e.statutory_basis();
    kind = "basis";
    who = absl::StrCat(comv1::LegalBasis_Name(b.basis()), ": ", b.reference());
    categories = "(all)";
    recipients = b.recipient_kinds().empty()
                     ? "(all)"
                     : EnumNames(comv1::AgencyKind_descriptor(), b.recipient_kinds());
    purposes =
        b.purposes().empty() ? "(all)" : EnumNames(comv1::Purpose_descriptor(), b.purposes());
  }
  return {e.consent_id(),
          kind,
          who,
          categories,
          recipients,
          purposes,
          FormatTimestamp(e.valid_from()),
          FormatTimestamp(e.valid_until()),
          FormatTimestamp(e.withdraw_time()),
          e.recorded_by()};
}

const std::vector<std::string>& Header() {
  static const std::vector<std::string>* const kHeader = new std::vector<std::string>{
      "consent_id", "kind",       "given_by_or_basis", "categories", "recipients",
      "purposes",   "valid_from", "valid_until",       "withdrawn",  "recorded_by"};
  return *kHeader;
}

int RunRecord(CommandContext& ctx, Args& args) {
  absl::StatusOr<cv1::RecordConsentRequest> req = BuildRecord(args);
  if (!req.ok()) return ctx.Fail(req.status());
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = ctx.Channel();
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = cv1::Consent::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call);
  cv1::RecordConsentResponse resp;
  grpc::Status s = stub->RecordConsent(&call, *req, &resp);
  if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out() << resp.consent_id() << "\n";
  } else {
    WriteRows(ctx.out(), ctx.output(), Header(), {EntryRow(resp.entry())});
  }
  return 0;
}

int RunList(CommandContext& ctx, Args& args) {
  absl::StatusOr<comv1::ChildRef> child = ChildRefFromArgs(args);
  if (!child.ok()) return ctx.Fail(child.status());
  int page_size = 0;
  if (auto ps = args.Flag("page-size")) {
    if (!absl::SimpleAtoi(*ps, &page_size) || page_size < 1) {
      return ctx.Fail(absl::InvalidArgumentError(
          absl::StrCat("--page-size must be a positive number, not \"", *ps, "\"")));
    }
  }
  std::string token = args.FlagOr("page-token", "");
  const bool all = args.Bool("all");
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = ctx.Channel();
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = cv1::Consent::NewStub(*channel);
  std::vector<std::vector<std::string>> rows;
  std::string next;
  do {
    cv1::ListConsentsRequest req;
    *req.mutable_child() = *child;
    req.set_page_size(page_size);
    req.set_page_token(token);
    grpc::ClientContext call;
    ctx.Prepare(call);
    cv1::ListConsentsResponse resp;
    grpc::Status s = stub->ListConsents(&call, req, &resp);
    if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
    for (const auto& e : resp.entries()) rows.push_back(EntryRow(e));
    next = resp.next_page_token();
    token = next;
  } while (all && !next.empty());
  WriteRows(ctx.out(), ctx.output(), Header(), rows);
  if (!all && !next.empty()) ctx.err() << "next page: --page-token=" << next << "\n";
  return 0;
}

int RunWithdraw(CommandContext& ctx, Args& args) {
  if (args.positional().size() != 1) {
    return ctx.Fail(absl::InvalidArgumentError(
        "consent withdraw takes one CONSENT_ID (see kinexctl consent --help)"));
  }
  cv1::WithdrawConsentRequest req;
  req.set_consent_id(args.positional()[0]);
  if (auto t = args.Flag("effective")) {
    if (absl::Status s = ParseTime("effective", *t, req.mutable_effective_time()); !s.ok()) {
      return ctx.Fail(s);
    }
  }
  req.set_reason(args.FlagOr("reason", ""));
  if (absl::Status s = args.CheckAllUsed(); !s.ok()) return ctx.Fail(s);
  auto channel = ctx.Channel();
  if (!channel.ok()) return ctx.Fail(channel.status());
  auto stub = cv1::Consent::NewStub(*channel);
  grpc::ClientContext call;
  ctx.Prepare(call);
  cv1::WithdrawConsentResponse resp;
  grpc::Status s = stub->WithdrawConsent(&call, req, &resp);
  if (!s.ok()) return ctx.Fail(FromGrpcStatus(s));
  if (ctx.output() == OutputFormat::kTable) {
    ctx.out() << resp.entry().consent_id() << " withdrawn from "
              << FormatTimestamp(resp.entry().withdraw_time()) << "\n";
  } else {
    WriteRows(ctx.out(), ctx.output(), Header(), {EntryRow(resp.entry())});
  }
  return 0;
}

int RunConsent(CommandContext& ctx, const std::vector<std::string>& words) {
  ctx.SetUsage(kUsage);
  if (words.empty() || WantsHelp(words)) return ctx.PrintUsage(kUsage, !words.empty());
  const std::string verb = words[0];
  absl::StatusOr<Args> args =
      Args::Parse(std::vector<std::string>(words.begin() + 1, words.end()), {"refused", "all"});
  if (!args.ok()) return ctx.Fail(args.status());
  if (verb == "record") {
    if (!args->positional().empty()) {
      return ctx.Fail(absl::InvalidArgumentError(
          "consent record takes no positional arguments (see kinexctl consent --help)"));
    }
    return RunRecord(ctx, *args);
  }
  if (verb == "list") {
    if (!args->positional().empty()) {
      return ctx.Fail(absl::InvalidArgumentError(
          "consent list takes no positional arguments (see kinexctl consent --help)"));
    }
    return RunList(ctx, *args);
  }
  if (verb == "withdraw") return RunWithdraw(ctx, *args);
  return ctx.Fail(absl::InvalidArgumentError(absl::StrCat(
      "unknown consent command \"", verb, "\" (record, list or withdraw; see --help)")));
}

}  // namespace

CommandGroup MakeConsentCommandGroup() {
  return {"consent", "Record, list and withdraw consents and statutory bases", RunConsent};
}

}  // namespace kinex::ctl
