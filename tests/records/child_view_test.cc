// ChildViewCache: views by (child, generation), least recently used dropped
// first past the byte bound, and never a newer view replaced by an older.
#include "services/records/child_view.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace kinex::records {
namespace {

std::shared_ptr<const ChildView> View(const std::string& kinex_id, size_t payload_bytes = 100) {
  auto v = std::make_shared<ChildView>();
  v->kinex_id = kinex_id;
  v->responsible_la = "E09000033";
  StoredPart part;
  part.kinex_id = kinex_id;
  part.payload.assign(payload_bytes, 'p');
  v->parts.push_back(std::move(part));
  return v;
}

TEST(ChildViewCacheTest, FindsAViewOnlyAtTheGenerationItWasReadAt) {
  ChildViewCache cache(1 << 20);
  EXPECT_EQ(cache.Find("kx_A", 1), nullptr);
  std::shared_ptr<const ChildView> a = View("kx_A");
  cache.Put(3, a);
  EXPECT_EQ(cache.Find("kx_A", 3), a);
  EXPECT_EQ(cache.Find("kx_A", 4), nullptr);  // written since
  EXPECT_EQ(cache.Find("kx_A", 2), nullptr);  // a reader on an older snapshot
  EXPECT_EQ(cache.Find("kx_B", 3), nullptr);
  const ChildViewCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 4);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_GT(static_cast<size_t>(stats.bytes), ApproximateBytes(*a));
}

TEST(ChildViewCacheTest, AnOlderReadNeverReplacesANewerView) {
  ChildViewCache cache(1 << 20);
  std::shared_ptr<const ChildView> newer = View("kx_A");
  std::shared_ptr<const ChildView> older = View("kx_A");
  cache.Put(5, newer);
  cache.Put(4, older);
  EXPECT_EQ(cache.Find("kx_A", 5), newer);
  EXPECT_EQ(cache.Find("kx_A", 4), nullptr);
  std::shared_ptr<const ChildView> newest = View("kx_A");
  cache.Put(6, newest);
  EXPECT_EQ(cache.Find("kx_A", 6), newest);
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(ChildViewCacheTest, DropsTheLeastRecentlyUsedPastItsBound) {
  const size_t one = ApproximateBytes(*View("kx_A", 1000));
  // Room for three views of about `one` bytes each with their entries.
  ChildViewCache cache(3 * one + 3 * 256);
  cache.Put(1, View("kx_A", 1000));
  cache.Put(1, View("kx_B", 1000));
  cache.Put(1, View("kx_C", 1000));
  ASSERT_NE(cache.Find("kx_A", 1), nullptr);  // A is now the most recent
  cache.Put(1, View("kx_D", 1000));           // B, the least recent, goes
  EXPECT_EQ(cache.Find("kx_B", 1), nullptr);
  EXPECT_NE(cache.Find("kx_A", 1), nullptr);
  EXPECT_NE(cache.Find("kx_C", 1), nullptr);
  EXPECT_NE(cache.Find("kx_D", 1), nullptr);
  const ChildViewCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.entries, 3);
  EXPECT_EQ(stats.evictions, 1);
  EXPECT_LE(static_cast<size_t>(stats.bytes), 3 * one + 3 * 256);
}

TEST(ChildViewCacheTest, KeepsNoViewLargerThanItsBound) {
  ChildViewCache cache(4096);
  cache.Put(1, View("kx_SMALL", 100));
  cache.Put(1, View("kx_HUGE", 8192));
  EXPECT_EQ(cache.Find("kx_HUGE", 1), nullptr);
  EXPECT_NE(cache.Find("kx_SMALL", 1), nullptr);  // not pushed out by it
  cache.Put(1, nullptr);
  EXPECT_EQ(cache.stats().entries, 1);
}

}  // namespace
}  // namespace kinex::records
