#include "bench/audit/event_mix.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kinex/policy/v1/policy.pb.h"
#include "kinex/record/v1/record.pb.h"
#include "services/common/identifiers.h"
#include "services/common/record_labels.h"
#include "services/policy/lawful_basis.h"

namespace kinex::audit::bench {
namespace {

namespace av1 = kinex::audit::v1;
namespace cv1 = kinex::common::v1;
namespace pv1 = kinex::policy::v1;
namespace rv1 = kinex::record::v1;

constexpr int kLas = 20;
constexpr int kSchoolsPerLa = 10;
constexpr std::array<const char*, 10> kHealthTrusts = {"RJ1", "RYJ", "RQM", "RAL", "RAP",
                                                       "R1K", "RRV", "RJ7", "RJZ", "RAX"};
constexpr std::array<const char*, 16> kSurnames = {
    "Smith", "Jones",    "Taylor", "Brown",    "Williams", "Wilson", "Johnson", "Davies",
    "Patel", "Robinson", "Wright", "Thompson", "Evans",    "Walker", "Khan",    "Hughes"};

// splitmix64: a small, good, seekable generator (event i's draws depend
// only on the seed and i).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return Next() % n; }
  std::string Hex(size_t chars) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(chars, '0');
    uint64_t bits = 0;
    for (size_t i = 0; i < chars; ++i) {
      if (i % 16 == 0) bits = Next();
      out[i] = kDigits[bits & 15];
      bits >>= 4;
    }
    return out;
  }
  // Upper-case letters and digits, as Kinex and records ids.
  std::string Id(size_t chars) {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    std::string out(chars, '0');
    for (char& c : out) c = kAlphabet[Below(32)];
    return out;
  }

 private:
  uint64_t state_;
};

std::string LaCode(int la) { return absl::StrFormat("E090000%02d", la + 1); }
std::string SchoolUrn(int la, int school) {
  return absl::StrCat(100000 + la * kSchoolsPerLa + school);
}

std::string Actor(Rng& rng) {
  return absl::StrCat(std::string(1, static_cast<char>('A' + rng.Below(26))), ". ",
                      kSurnames[rng.Below(kSurnames.size())]);
}

cv1::ChildRef KinexRef(const std::string& id) {
  cv1::ChildRef ref;
  ref.set_kinex_id(id);
  return ref;
}

}  // namespace

EventMix::EventMix(Options options)
    : options_([&] {
        options.whole_record_share = std::clamp(options.whole_record_share, 0.80, 1.0);
        return options;
      }()) {
  const int n = std::max(1, options_.children);
  Rng rng(options_.seed * 0x2545f4914f6cdd1dULL + 7);
  // The children: valid identifiers, agencies.
  children_.resize(n);
  for (int c = 0; c < n; ++c) {
    Child& child = children_[c];
    child.kinex_id = absl::StrCat("kx_", rng.Id(10));
    while (true) {
      const std::string nine = absl::StrFormat("%09d", static_cast<int>(rng.Below(1000000000)));
      const int check = NhsNumberCheckDigit(nine);
      if (check < 0) continue;
      child.nhs_number = absl::StrCat(nine, check);
      break;
    }
    child.la = c % kLas;
    child.school = static_cast<int>(rng.Below(kSchoolsPerLa));
    child.health = static_cast<int>(rng.Below(kHealthTrusts.size()));
    // 3-digit LA number, 4-digit establishment, 2-digit year, 3-digit serial.
    const std::string twelve =
        absl::StrFormat("%03d%04d%02d%03d", 201 + child.la, 2000 + child.school,
                        static_cast<int>(10 + rng.Below(10)), c % 1000);
    child.upn = absl::StrCat(std::string(1, UpnCheckLetter(twelve)), twelve);
  }
  // Popularity: a seeded permutation, and the Zipf CDF over ranks.
  child_of_rank_.resize(n);
  std::iota(child_of_rank_.begin(), child_of_rank_.end(), 0);
  std::shuffle(child_of_rank_.begin(), child_of_rank_.end(), std::mt19937_64(options_.seed));
  cdf_.resize(n);
  double total = 0;
  for (int r = 0; r < n; ++r) {
    total += 1.0 / std::pow(r + 1.0, options_.zipf_s);
    cdf_[r] = total;
  }
  for (double& x : cdf_) x /= total;

  // The record schema: every leaf path, and the leaves by owner.
  paths_by_owner_.resize(cv1::AgencyKind_ARRAYSIZE);
  std::set<std::pair<int, int>> grounds;  // (category, sensitivity)
  for (const LabelledField& f : LabelledFields(rv1::ChildRecord::descriptor())) {
    if (!f.leaf) continue;
    all_paths_.push_back(f.path);
    paths_by_owner_[f.owner].push_back(f.path);
    grounds.insert({f.category, f.sensitivity});
  }
  std::sort(all_paths_.begin(), all_paths_.end());
  for (auto& paths : paths_by_owner_) std::sort(paths.begin(), paths.end());

  // One grant rule over the whole record, as the responsible LA's: public
  // task under the Children Act; the Art 9 / Art 10 conditions met for
  // sensitive data.
  pv1::Decision decision;
  decision.set_allowed(true);
  for (const auto& [category, sensitivity] : grounds) {
    pv1::Ground* g = decision.add_grounds();
    g->set_category(static_cast<rv1::Category>(category));
    g->set_sensitivity(static_cast<rv1::Sensitivity>(sensitivity));
    g->set_rule_id("la-responsible-whole-record");
    g->mutable_declared()->set_article6(cv1::ARTICLE6_PUBLIC_TASK);
    g->mutable_declared()->add_gateways(cv1::CA2004_S11_SAFEGUARDING_ARRANGEMENTS);
    g->mutable_declared()->add_gateways(cv1::CA1989_S17_CHILDREN_IN_NEED);
    g->mutable_declared()->add_gateways(cv1::CA1989_S22_LOOKED_AFTER_CHILDREN);
    if (sensitivity == rv1::SPECIAL_CATEGORY) g->set_met(cv1::HEALTH_OR_SOCIAL_CARE);
    if (sensitivity == rv1::CRIMINAL_OFFENCE) g->set_met(cv1::SAFEGUARDING_OF_CHILDREN);
  }
  std::vector<kinex::policy::Controller> controllers;
  for (int kind = 1; kind < cv1::AgencyKind_ARRAYSIZE; ++kind) {
    if (!paths_by_owner_[kind].empty()) {
      controllers.push_back({static_cast<cv1::AgencyKind>(kind), "placeholder"});
    }
  }
  bases_template_ = kinex::policy::LawfulBasesFor(decision, all_paths_, controllers, pv1::ENGLAND,
                                                  /*stated_function=*/"");
  policy_version_ = rng.Hex(64);
}

int EventMix::RankOf(double u) const {
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<int>(std::min<ptrdiff_t>(it - cdf_.begin(), cdf_.size() - 1));
}

cv1::ChildRef EventMix::ChildOfRank(int rank) const {
  return KinexRef(children_[child_of_rank_[rank]].kinex_id);
}

double EventMix::ShareOfRank(int rank) const {
  return rank == 0 ? cdf_[0] : cdf_[rank] - cdf_[rank - 1];
}

av1::AuditEvent EventMix::Event(uint64_t index) const {
  Rng rng(options_.seed ^ (index * 0xd1342543de82ef95ULL));
  // The other kinds' thresholds below are for a share of 0.8: a larger
  // share maps the rest onto [0.8, 1).
  const double share = options_.whole_record_share;
  double kind = rng.Uniform();
  if (kind >= share) kind = 0.80 + (kind - share) * 0.20 / (1 - share);
  const Child& child = children_[child_of_rank_[RankOf(rng.Uniform())]];
  const std::string la = LaCode(child.la);
  av1::AuditEvent e;
  e.set_request_id(rng.Hex(32));
  auto add_child = [&] {
    *e.add_children() = KinexRef(child.kinex_id);
    e.add_children()->set_nhs_number(child.nhs_number);
    e.add_children()->set_upn(child.upn);
  };
  // The code of the controller of `kind` for this child.
  auto code_of = [&](int kind) -> std::string {
    switch (kind) {
      case cv1::SCHOOL:
        return SchoolUrn(child.la, child.school);
      case cv1::HEALTH:
        return kHealthTrusts[child.health];
      case cv1::POLICE:
        return "01";
      default:
        return la;
    }
  };
  if (kind < share) {
    // A whole-record disclosure to the responsible LA.
    e.set_kind(av1::DISCLOSURE);
    e.set_principal(absl::StrCat("spiffe://kinex.dev/local-authority/", la, "/social-worker"));
    e.set_agency_kind(cv1::LOCAL_AUTHORITY);
    e.set_agency_code(la);
    e.set_actor(Actor(rng));
    e.set_purpose(rng.Below(4) == 0 ? cv1::SAFEGUARDING : cv1::CARE_PLANNING);
    e.set_legal_basis(cv1::PUBLIC_TASK);
    e.set_decision(av1::ALLOW);
    for (const std::string& p : all_paths_) e.add_disclosed_paths(p);
    for (const cv1::LawfulBasis& t : bases_template_) {
      cv1::LawfulBasis* b = e.add_lawful_bases();
      *b = t;
      b->set_controller_code(code_of(t.controller_kind()));
    }
    e.set_policy_version(policy_version_);
    e.set_method("GetChildRecord");
    add_child();
  } else if (kind < 0.90) {
    // A denial: an agency with no grant for this child.
    e.set_kind(av1::DISCLOSURE);
    switch (rng.Below(3)) {
      case 0: {
        const std::string urn = SchoolUrn(static_cast<int>(rng.Below(kLas)),
                                          static_cast<int>(rng.Below(kSchoolsPerLa)));
        e.set_principal(absl::StrCat("spiffe://kinex.dev/school/", urn, "/designated-teacher"));
        e.set_agency_kind(cv1::SCHOOL);
        e.set_agency_code(urn);
        e.set_purpose(cv1::EDUCATION_SUPPORT);
        break;
      }
      case 1: {
        const std::string ods = kHealthTrusts[rng.Below(kHealthTrusts.size())];
        e.set_principal(absl::StrCat("spiffe://kinex.dev/health/", ods, "/lac-nurse"));
        e.set_agency_kind(cv1::HEALTH);
        e.set_agency_code(ods);
        e.set_purpose(cv1::HEALTH_CARE);
        break;
      }
      default:
        e.set_principal("spiffe://kinex.dev/police/01/public-protection-officer");
        e.set_agency_kind(cv1::POLICE);
        e.set_agency_code("01");
        e.set_purpose(cv1::SAFEGUARDING);
        break;
    }
    e.set_actor(Actor(rng));
    e.set_decision(av1::DENY);
    for (int c = rv1::IDENTITY; c <= rv1::FINANCIAL_SUPPORT; ++c) {
      auto* w = e.add_withheld();
      w->set_category(static_cast<rv1::Category>(c));
      w->set_reason(pv1::NOT_GRANTED);
    }
    e.set_policy_version(policy_version_);
    e.set_method("GetChildRecord");
    add_child();
  } else if (kind < 0.95) {
    // A record write by one of the child's agencies.
    std::vector<int> owners;
    for (int k = 1; k < static_cast<int>(paths_by_owner_.size()); ++k) {
      if (!paths_by_owner_[k].empty()) owners.push_back(k);
    }
    const int owner = owners[rng.Below(owners.size())];
    const std::string code = code_of(owner);
    static constexpr std::array<const char*, cv1::AgencyKind_ARRAYSIZE> kPaths = {
        "", "local-authority", "virtual-school", "school", "health", "police", "auditor"};
    static constexpr std::array<const char*, cv1::AgencyKind_ARRAYSIZE> kRoles = {
        "",
        "social-worker",
        "virtual-school-head",
        "designated-teacher",
        "lac-nurse",
        "public-protection-officer",
        "auditor"};
    e.set_kind(av1::PART_PUBLISHED);
    e.set_principal(
        absl::StrCat("spiffe://kinex.dev/", kPaths[owner], "/", code, "/", kRoles[owner]));
    e.set_agency_kind(static_cast<cv1::AgencyKind>(owner));
    e.set_agency_code(code);
    e.set_actor(Actor(rng));
    e.set_method("PublishRecord");
    for (const std::string& p : paths_by_owner_[owner]) e.add_written_paths(p);
    e.set_part_version(static_cast<int64_t>(1 + rng.Below(40)));
    e.set_part_etag(rng.Hex(24));
    e.set_idempotency_key(absl::StrCat("records:ev_", rng.Id(20)));
    add_child();
  } else {
    // An auditor's per-child query (no child named: the query text holds
    // its pseudonym).
    e.set_kind(av1::AUDIT_QUERIED);
    e.set_principal("spiffe://kinex.dev/auditor/kinex-dpo/auditor");
    e.set_agency_kind(cv1::AUDITOR);
    e.set_agency_code("kinex-dpo");
    e.set_actor(Actor(rng));
    e.set_method("QueryEvents");
    e.set_query(absl::StrCat("child=", rng.Hex(64)));
    e.set_result_count(static_cast<int64_t>(rng.Below(200)));
  }
  return e;
}

std::string EventMix::Describe() const {
  const int n = static_cast<int>(children_.size());
  return absl::StrFormat(
      "event mix: %.0f%% DISCLOSURE of a whole record (%d leaf paths of "
      "kinex.record.v1.ChildRecord, %d lawful-basis tuples, ALLOW), %.1f%% DENIED "
      "(DISCLOSURE, DENY, 8 categories withheld), %.1f%% PART_PUBLISHED (written_paths of the "
      "publishing agency, idempotency key), %.1f%% AUDIT_QUERIED (no child); 3 child identifiers "
      "(Kinex id, NHS number, UPN) per child event; no notifications\n"
      "children: %d, drawn Zipf-like: P(rank r) ~ 1/(r+1)^%.2f over a seeded permutation "
      "(seed %d); most frequent child %.2f%% of events, median child %.4f%% (mean %.4f%%)\n",
      100 * options_.whole_record_share, static_cast<int>(all_paths_.size()),
      static_cast<int>(bases_template_.size()), 50 * (1 - options_.whole_record_share),
      25 * (1 - options_.whole_record_share), 25 * (1 - options_.whole_record_share), n,
      options_.zipf_s, static_cast<int>(options_.seed), 100 * ShareOfRank(0),
      100 * ShareOfRank(n / 2), 100.0 / n);
}

}  // namespace kinex::audit::bench
