// Reading a Prometheus endpoint in tests: a plain HTTP GET of /metrics and
// the value of one series in the text exposition.
//
// Example:
//   const std::string text = ScrapeMetrics("127.0.0.1:9464");
//   EXPECT_EQ(MetricValue(text, "kinex_audit_tree_size"), 7);
#ifndef KINEX_TESTS_TESTING_METRICS_SCRAPE_H_
#define KINEX_TESTS_TESTING_METRICS_SCRAPE_H_

#include <optional>
#include <string>

namespace kinex::testing {

// The body of GET /metrics from host:port (loopback); "" when nothing
// answers 200.
std::string ScrapeMetrics(const std::string& address);

// The value of the series `series` (its name and labels exactly as
// written, e.g. `kinex_audit_tree_size` or `kinex_build_info{...}`) in a
// Prometheus text exposition; nullopt when absent.
std::optional<double> MetricValue(const std::string& text, const std::string& series);

}  // namespace kinex::testing

#endif  // KINEX_TESTS_TESTING_METRICS_SCRAPE_H_
