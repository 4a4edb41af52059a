// A realistic mix of audit events for the audit benchmarks (issue #17): what
// a region's exchange appends, as the gateway, records service and audit
// service build their events, over a population of children whose events
// are skewed like real casework (a few children are read very often, most
// rarely).
//
// The mix, by share of events:
//   80%  DISCLOSURE of a whole record: the responsible LA's social worker
//        (CARE_PLANNING, or SAFEGUARDING one time in four) reads everything;
//        disclosed_paths = every leaf field path of kinex.record.v1.
//        ChildRecord (by descriptor reflection, LabelledFields, sorted: what
//        a whole-record disclosure names), lawful_bases as LawfulBasesFor
//        gives them for one grant rule over every category and sensitivity
//        (public task, Children Act gateways; Art 9 / Art 10 conditions
//        where special category / criminal offence data goes), one tuple set
//        per controller owning a disclosed leaf (the child's LA, virtual
//        school, school, health trust, police force), decision ALLOW.
//   10%  DENIED: a school, health or police principal with no grant for the
//        child; decision DENY, every category withheld NOT_GRANTED, nothing
//        disclosed.
//    5%  record writes: PART_PUBLISHED by one of the child's agencies,
//        written_paths = the leaves that agency owns, part version and etag,
//        an idempotency key "records:ev_..." (as the records outbox sends).
//    5%  AUDIT_QUERIED: an auditor's per-child query (query text
//        "child=<pseudonym>", result_count), naming no child.
// Every event but the audit queries carries the child as known by Kinex id,
// NHS number and UPN (three pseudonyms, three query-index rows), as the
// gateway and records service send them. Request ids are 32 hex characters,
// policy versions 64. No event asks for notifications.
//
// Children: `children` distinct children (default 10,000), each with a Kinex
// id, a valid NHS number and UPN, a responsible LA (one of 20), a school (one
// of 10 per LA) and a health trust. The child of an event is drawn Zipf-like:
// the child of popularity rank r (0-based) with probability proportional to
// 1 / (r + 1)^s (s = zipf_s, default 1.0: the most read child gets about 10%
// of events, the median child about a fifth of the mean), ranks assigned to
// children by a seeded random permutation. Event i is a pure function of
// (seed, i), so the same index always gives the same event.
//
// Example:
//   EventMix mix({.children = 10000, .zipf_s = 1.0, .seed = 1});
//   kinex::audit::v1::AuditEvent e = mix.Event(42);
//   std::cout << mix.Describe();
#ifndef KINEX_BENCH_AUDIT_EVENT_MIX_H_
#define KINEX_BENCH_AUDIT_EVENT_MIX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kinex/audit/v1/audit.pb.h"
#include "kinex/common/v1/common.pb.h"

namespace kinex::audit::bench {

// The realistic event mix above. Thread-safe (const after construction).
class EventMix {
 public:
  struct Options {
    // Distinct children (at least 1).
    int children = 10000;
    // Zipf exponent of the children's popularity (0: uniform).
    double zipf_s = 1.0;
    // Seeds the permutation and every event.
    uint64_t seed = 1;
    // Share of whole-record disclosures (0.8 to 1); the other kinds keep
    // their proportions in the rest. 1 measures that event alone.
    double whole_record_share = 0.80;
  };

  explicit EventMix(Options options);

  // The event of leaf `index`, in AuditLog::Append's input form (children as
  // ChildRefs).
  kinex::audit::v1::AuditEvent Event(uint64_t index) const;

  // The child of popularity rank `rank` (0 = the most frequent), by Kinex id.
  kinex::common::v1::ChildRef ChildOfRank(int rank) const;
  // The probability that an event is about the child of rank `rank`.
  double ShareOfRank(int rank) const;

  // Number of leaf paths of a whole-record disclosure.
  size_t whole_record_paths() const { return all_paths_.size(); }

  // The mix in words, for the benchmark's output.
  std::string Describe() const;

 private:
  struct Child {
    std::string kinex_id;
    std::string nhs_number;
    std::string upn;
    int la = 0;      // index into the LA codes
    int school = 0;  // 0-9 within the LA
    int health = 0;  // index into the health trusts
  };
  // Draws a popularity rank from a uniform value in [0, 1).
  int RankOf(double u) const;

  const Options options_;
  std::vector<Child> children_;         // by child number
  std::vector<int> child_of_rank_;      // rank -> child number
  std::vector<double> cdf_;             // by rank
  std::vector<std::string> all_paths_;  // every leaf path, sorted
  // Leaf paths by owning agency kind (index: AgencyKind), sorted.
  std::vector<std::vector<std::string>> paths_by_owner_;
  // The lawful bases of a whole-record disclosure with controller codes
  // left empty (filled per child).
  std::vector<kinex::common::v1::LawfulBasis> bases_template_;
  std::string policy_version_;
};

}  // namespace kinex::audit::bench

#endif  // KINEX_BENCH_AUDIT_EVENT_MIX_H_
