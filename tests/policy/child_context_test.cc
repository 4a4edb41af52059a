// ChildContextFromFacts: the one derivation of the policy's view of a child
// (scope, looked-after status and arrangements at a time) from the facts
// records keeps. The gateway and the consent path both call it.
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/policy/evaluator.h"

namespace kinex::policy {
namespace {

namespace pv1 = kinex::policy::v1;
namespace rv1 = kinex::record::v1;

absl::Time Day(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

rv1::Date D(int y, int m, int d) {
  rv1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

kinex::records::v1::ChildFacts Facts() {
  kinex::records::v1::ChildFacts f;
  f.set_kinex_id("kx_test");
  f.mutable_scope()->set_responsible_la_code("E09000033");
  f.mutable_scope()->set_current_school_urn("137000");
  // Looked after under a kinship foster placement until an SGO from care.
  auto* fostering = f.add_legal_status();
  fostering->set_arrangement(rv1::KINSHIP_FOSTER_CARE);
  *fostering->mutable_start_date() = D(2022, 3, 1);
  *fostering->mutable_end_date() = D(2024, 5, 31);
  fostering->set_looked_after(true);
  auto* sgo = f.add_legal_status();
  sgo->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
  *sgo->mutable_start_date() = D(2024, 6, 1);
  sgo->set_previously_looked_after(true);
  return f;
}

TEST(ChildContextFromFactsTest, ScopeAndTheEpisodesCurrentAtNow) {
  pv1::ChildContext during = ChildContextFromFacts(Facts(), Day(2023, 1, 1));
  EXPECT_EQ(during.scope().responsible_la_code(), "E09000033");
  EXPECT_EQ(during.scope().current_school_urn(), "137000");
  EXPECT_TRUE(during.looked_after());
  EXPECT_FALSE(during.previously_looked_after());
  ASSERT_EQ(during.arrangement_types_size(), 1);
  EXPECT_EQ(during.arrangement_types(0), rv1::KINSHIP_FOSTER_CARE);

  // The last day of an episode is still in it.
  pv1::ChildContext last_day = ChildContextFromFacts(Facts(), Day(2024, 5, 31));
  EXPECT_TRUE(last_day.looked_after());
  EXPECT_FALSE(last_day.previously_looked_after());

  pv1::ChildContext after = ChildContextFromFacts(Facts(), Day(2024, 6, 1));
  EXPECT_FALSE(after.looked_after());
  EXPECT_TRUE(after.previously_looked_after());
  ASSERT_EQ(after.arrangement_types_size(), 1);
  EXPECT_EQ(after.arrangement_types(0), rv1::SPECIAL_GUARDIANSHIP_ORDER);

  // Before any episode started: neither.
  pv1::ChildContext before = ChildContextFromFacts(Facts(), Day(2020, 1, 1));
  EXPECT_FALSE(before.looked_after());
  EXPECT_FALSE(before.previously_looked_after());
  EXPECT_EQ(before.arrangement_types_size(), 0);
}

TEST(ChildContextFromFactsTest, OverlappingEpisodesGiveSortedDistinctArrangements) {
  kinex::records::v1::ChildFacts f = Facts();
  auto* again = f.add_legal_status();
  again->set_arrangement(rv1::SPECIAL_GUARDIANSHIP_ORDER);
  auto* informal = f.add_legal_status();  // no start date: current
  informal->set_arrangement(rv1::INFORMAL_FAMILY_ARRANGEMENT);
  pv1::ChildContext ctx = ChildContextFromFacts(f, Day(2025, 1, 1));
  ASSERT_EQ(ctx.arrangement_types_size(), 2);
  EXPECT_LT(ctx.arrangement_types(0), ctx.arrangement_types(1));
}

TEST(ChildContextFromFactsTest, UnknownChildHasAnEmptyContext) {
  kinex::records::v1::ChildFacts f = Facts();
  f.clear_kinex_id();
  EXPECT_EQ(ChildContextFromFacts(f, Day(2023, 1, 1)).ByteSizeLong(), 0u);
}

}  // namespace
}  // namespace kinex::policy
