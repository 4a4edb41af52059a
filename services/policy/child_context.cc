#include "services/policy/child_context.h"

#include <set>
#include <tuple>

#include "absl/time/civil_time.h"

namespace kinex::policy {

namespace pv1 = ::kinex::policy::v1;
namespace rv1 = ::kinex::record::v1;

pv1::ChildContext ChildContextFromFacts(const kinex::records::v1::ChildFacts& facts,
                                        absl::Time now) {
  pv1::ChildContext ctx;
  if (facts.kinex_id().empty()) return ctx;  // no child: no scope, no status
  *ctx.mutable_scope() = facts.scope();
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  const std::tuple<int, int, int> t{static_cast<int>(today.year()), today.month(), today.day()};
  auto ymd = [](const rv1::Date& d) {
    return std::tuple<int, int, int>{d.year(), d.month(), d.day()};
  };
  std::set<int> arrangements;
  for (const rv1::LegalStatusEpisode& e : facts.legal_status()) {
    // Current at `now`: started (or no start date) and not yet ended (an
    // episode ending today is still current today).
    const bool started = !e.has_start_date() || ymd(e.start_date()) <= t;
    const bool ended = e.has_end_date() && ymd(e.end_date()) < t;
    if (!started || ended) continue;
    if (e.looked_after()) ctx.set_looked_after(true);
    if (e.previously_looked_after()) ctx.set_previously_looked_after(true);
    if (e.arrangement() != rv1::ARRANGEMENT_TYPE_UNSPECIFIED) arrangements.insert(e.arrangement());
  }
  for (int a : arrangements) ctx.add_arrangement_types(static_cast<rv1::ArrangementType>(a));
  *ctx.mutable_shielded_paths() = facts.shielded_paths();
  ctx.set_shield_locating(facts.shield_locating());
  return ctx;
}

}  // namespace kinex::policy
