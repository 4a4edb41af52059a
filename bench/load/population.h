// A synthetic population of children in kinship care for kinex-bench's
// realistic workload: N distinct children, each with the parts the agencies
// that know them publish (the responsible LA's social care part with the
// arrangement, the virtual school's for looked-after and previously
// looked-after children, the school's, the health provider's, and the
// police's for a share), records of varied size, and the principals that may
// lawfully read each child. Deterministic for a seed: the same flags give the
// same children, so a part can be rebuilt (with a new revision) to republish
// it instead of being kept in memory.
//
// The agencies are those the dev PKI has certificates for
// (certs/agencies.txt): two English LAs (E09000033 Westminster and
// E08000025, West Midlands) with their virtual schools, two schools (137000,
// 141999), a GP practice (Y01234) and a community trust (RJ1), and the
// Metropolitan (01) and West Midlands (20) police.
//
// The mix (docs: bench/load/README.md, "Realistic workload"):
//   LA          60% E09000033, 40% E08000025 (police force follows the LA)
//   school      55% 137000, 45% 141999 (independent of the LA: kinship
//               placements cross borders)
//   health      70% registered with GP Y01234, 30% with trust RJ1
//   arrangement 35% kinship foster care (care order C2 or s20 V2), 5% Reg 24
//               temporary approval, 30% special guardianship (half made from
//               care: previously looked after), 15% child arrangements order
//               (a third from care), 15% informal family arrangement
//   police part police_share (default 25%) of children, more likely with a
//               child protection plan
//   size        the merged record's serialized size drawn from a log-normal
//               (median median_bytes, sigma 0.45) clipped to
//               [size of the parts with no attendance sessions, max_bytes];
//               attendance sessions (the school's most recent half-days) fill
//               each record to its drawn size.
//
// Example:
//   Population pop = Population::Generate({.children = 10000, .seed = 1});
//   ev1::PublishRecordRequest la = pop.Part(0, PartKind::kLa, /*revision=*/0);
//   for (int p : pop.ReadersOf(0)) ...;  // principals allowed to read child 0
#ifndef KINEX_BENCH_LOAD_POPULATION_H_
#define KINEX_BENCH_LOAD_POPULATION_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "kinex/common/v1/common.pb.h"
#include "kinex/exchange/v1/exchange.pb.h"
#include "kinex/record/v1/record.pb.h"

namespace kinex::bench {

// A client certificate of the dev PKI: spiffe://kinex.dev/<kind>/<code>/<role>.
struct BenchPrincipal {
  std::string kind;  // "local-authority", "school", ...
  std::string code;
  std::string role;
  kinex::common::v1::AgencyKind agency_kind;
  // "agencies/<kind>-<code>-<role>", under the PKI directory.
  std::string CertBase() const;
  // "spiffe://kinex.dev/<kind>/<code>/<role>".
  std::string SpiffeId() const;
  // "<kind>/<code>/<role>", for reports.
  std::string Name() const;
};

// Indexes into Principals().
enum PrincipalIndex : int {
  kLaSwWestminster = 0,
  kLaSwWestMidlands,
  kIroWestminster,
  kVshWestminster,
  kVshWestMidlands,
  kDsl137000,
  kDsl141999,
  kDt137000,
  kDt141999,
  kHealthGp,
  kHealthTrust,
  kPoliceMet,
  kPoliceWestMidlands,
  kPrincipalCount
};

// Every principal the realistic workload reads or publishes as.
const std::vector<BenchPrincipal>& Principals();

// The parts a child may have, in publishing order.
enum class PartKind : int { kLa = 0, kVsh, kSchool, kHealth, kPolice };
inline constexpr int kPartKinds = 5;
const char* PartKindName(PartKind kind);

// One child: everything its parts are built from.
struct ChildSpec {
  int index = 0;
  uint64_t seed = 0;
  int la = 0;           // 0 E09000033, 1 E08000025
  int school = 0;       // 0 137000, 1 141999
  int health = 0;       // 0 GP Y01234, 1 trust RJ1
  bool police = false;  // has a police part (force = the LA's: 01 or 20)
  kinex::record::v1::ArrangementType arrangement = kinex::record::v1::ARRANGEMENT_TYPE_UNSPECIFIED;
  bool from_care = false;  // SGO/CAO made from care: an ended foster episode
  bool looked_after = false;
  bool previously_looked_after = false;
  bool cp_plan = false;
  bool cin_plan = false;
  int age = 0;
  kinex::record::v1::Date date_of_birth;
  std::string la_child_id;
  std::string upn;
  std::string nhs_number;
  int attendance_sessions = 0;  // the size filler
  int target_bytes = 0;         // drawn size of the merged record
  int record_bytes = 0;         // size of the merged record built (revision 0)

  bool HasPart(PartKind kind) const;
  // The principal that publishes `kind`.
  int Publisher(PartKind kind) const;
};

// How a principal reads: its purpose and whether it states a justification.
struct ReadAs {
  int principal;
  kinex::common::v1::Purpose purpose;
  bool justified;
};

class Population {
 public:
  struct Options {
    int children = 10000;
    uint64_t seed = 1;
    double police_share = 0.25;
    int median_bytes = 4000;
    int max_bytes = 8192;
    // "Today" for dates (ages, episodes, sessions); default the current UTC day.
    absl::CivilDay today = absl::CivilDay(1970, 1, 1);
  };

  static Population Generate(Options options);

  const Options& options() const { return options_; }
  int size() const { return static_cast<int>(children_.size()); }
  const ChildSpec& child(int i) const { return children_[i]; }

  // The part `kind` of child `i` at `revision` (0 at seeding; each republish
  // one more), as its publisher sends it: the LA's first names the child by
  // its LA child id, every other part (and the LA's republishes) by
  // `kinex_id`, with the proof date of birth where the publisher needs one.
  // Revisions change only fields no decision depends on, without changing
  // sizes (an allowance amount, attendance counts and the latest session's
  // code, the last dental check, a PEP review date, a police incident's
  // time), never identifiers, scope, legal status or enrolments, so a
  // republish leaves the child's facts (and every decision) alone.
  kinex::exchange::v1::PublishRecordRequest Part(int i, PartKind kind, int revision,
                                                 const std::string& kinex_id = "") const;

  // The merged, unredacted record of child `i` (every part at revision 0,
  // merged in publishing order, with `kinex_id`): what the baseline serves.
  kinex::record::v1::ChildRecord MergedRecord(int i, const std::string& kinex_id) const;

  // The ways child `i` may be read lawfully (each a real disclosure), with
  // their weights (summing to 100 over the readers a child has):
  //   LA social worker CARE_PLANNING 30; IRO CARE_PLANNING (Westminster,
  //   looked after) 5; VSH EDUCATION_SUPPORT 15; school DSL SAFEGUARDING 15;
  //   designated teacher EDUCATION_SUPPORT (looked after or previously) 5;
  //   health practitioner HEALTH_CARE with a justification 15; police
  //   SAFEGUARDING with a justification (children with a police part) 15.
  const std::vector<std::pair<ReadAs, int>>& ReadersOf(int i) const { return readers_[i]; }
  // Bit p set when principal p may read child i (the baseline's check).
  uint32_t ReaderMask(int i) const { return reader_mask_[i]; }
  // Reads that policy must refuse: the other school's DSL, the other LA's
  // social worker, the other force's police officer (justified).
  std::vector<ReadAs> DeniedReadersOf(int i) const;

  // The children in principal p's ListChildren cohort (every one allowed
  // for p's list purpose), by child index.
  const std::vector<int>& Cohort(int p) const { return cohorts_[p]; }
  // How principal p lists (LA social workers CARE_PLANNING, VSHs
  // EDUCATION_SUPPORT, DSLs SAFEGUARDING, health HEALTH_CARE and police
  // SAFEGUARDING with justifications); IROs and designated teachers do not
  // list (their cohorts hold children policy refuses them).
  static bool Lists(int p);
  static ReadAs ListAs(int p);

  // Sizes (bytes) of every merged record, sorted.
  std::vector<int> SortedRecordSizes() const;

 private:
  explicit Population(Options options) : options_(std::move(options)) {}
  kinex::record::v1::ChildRecord Body(const ChildSpec& c, PartKind kind, int revision) const;

  Options options_;
  std::vector<ChildSpec> children_;
  std::vector<std::vector<std::pair<ReadAs, int>>> readers_;
  std::vector<uint32_t> reader_mask_;
  std::vector<std::vector<int>> cohorts_;
};

// Which child each call goes to: a documented skew over a random
// permutation of the children (so hot children are spread over the
// population, not the first ones seeded).
//   "80/20"   80% of draws go to a hot 20% of the children, uniformly within
//             the hot and the cold sets (default)
//   "zipf"    P(rank k) proportional to 1/k^s (s = zipf_s, default 1.0)
//   "uniform" every child equally
class ChildSampler {
 public:
  static absl::StatusOr<ChildSampler> Create(const std::string& skew, double zipf_s, int n,
                                             uint64_t seed);
  int Next(std::mt19937_64& rng) const;
  // "80/20 over 10000 children: hottest child 0.04% of draws, top 1% 4.0%,
  // top 10% 40.0%, top 20% 80.0%".
  std::string Describe() const;

 private:
  ChildSampler() = default;
  double ShareOfTop(int k) const;  // share of draws going to the k hottest

  std::string skew_;
  double zipf_s_ = 1.0;
  int n_ = 0;
  int hot_ = 0;                   // 80/20: size of the hot set
  std::vector<int> permutation_;  // rank -> child index
  std::vector<double> cdf_;       // zipf: cumulative by rank
};

// Valid, fictional identifiers (the NHS test range 999..., UPNs with the
// check letter), unique per index.
std::string BenchNhsNumber(int index);
std::string BenchUpn(int index, int school);

}  // namespace kinex::bench

#endif  // KINEX_BENCH_LOAD_POPULATION_H_
