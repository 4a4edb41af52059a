// ScrapeGauges (services/kinex/process_metrics.h): gauges read from the
// process's state when scraped. A group of families is served by one read
// per scrape, and a failed read leaves every family of the group without a
// sample rather than a made-up value.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "services/kinex/process_metrics.h"

namespace kinex {
namespace {

struct Counts {
  int waiting = 0;
  int overdue = 0;
};
using Samples = std::vector<ScrapeGauges::Sample>;

// name -> the values of its samples, in order.
std::vector<std::pair<std::string, std::vector<double>>> Values(const ScrapeGauges& gauges) {
  std::vector<std::pair<std::string, std::vector<double>>> out;
  for (const prometheus::MetricFamily& f : gauges.Collect()) {
    EXPECT_EQ(f.type, prometheus::MetricType::Gauge) << f.name;
    std::vector<double> values;
    for (const prometheus::ClientMetric& m : f.metric) values.push_back(m.gauge.value);
    out.push_back({f.name, values});
  }
  return out;
}

using Expected = std::vector<std::pair<std::string, std::vector<double>>>;

TEST(ScrapeGaugesTest, AGroupIsReadOncePerScrape) {
  int reads = 0;
  ScrapeGauges gauges;
  gauges.Add("kinex_single", "one", [] { return Samples{{{}, 7}}; });
  gauges.AddGroup<Counts>(
      [&reads]() -> absl::StatusOr<Counts> {
        ++reads;
        return Counts{.waiting = 3, .overdue = 1};
      },
      {{"kinex_waiting", "waiting",
        [](const Counts& c) {
          return Samples{{{}, 1.0 * c.waiting}};
        }},
       {"kinex_overdue", "overdue", [](const Counts& c) {
          return Samples{{{{"kind", "x"}}, 1.0 * c.overdue}};
        }}});
  EXPECT_EQ(Values(gauges),
            (Expected{{"kinex_single", {7}}, {"kinex_waiting", {3}}, {"kinex_overdue", {1}}}));
  EXPECT_EQ(reads, 1);
  Values(gauges);
  EXPECT_EQ(reads, 2);
}

TEST(ScrapeGaugesTest, AFailedReadLeavesTheGroupsFamiliesWithoutSamples) {
  ScrapeGauges gauges;
  gauges.AddGroup<Counts>(
      []() -> absl::StatusOr<Counts> { return absl::UnavailableError("store down"); },
      {{"kinex_waiting", "waiting",
        [](const Counts& c) {
          return Samples{{{}, 1.0 * c.waiting}};
        }},
       {"kinex_overdue", "overdue", [](const Counts& c) {
          return Samples{{{}, 1.0 * c.overdue}};
        }}});
  EXPECT_EQ(Values(gauges), (Expected{{"kinex_waiting", {}}, {"kinex_overdue", {}}}));
}

}  // namespace
}  // namespace kinex
