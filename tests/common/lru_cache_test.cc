// LruCache: the one least-recently-used map behind the gateway's kept facts
// and records' child views. Order of eviction, the cost bound, the two
// predicates, and many threads at once (run under TSan in CI).
#include "services/common/lru_cache.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kinex {
namespace {

using ::testing::Optional;

using Cache = LruCache<std::string, int>;

TEST(LruCacheTest, FindsWhatWasPutAndCountsHitsAndMisses) {
  Cache cache(10);
  EXPECT_EQ(cache.Find(std::string("a")), std::nullopt);
  cache.Put("a", 1, 1);
  EXPECT_THAT(cache.Find(std::string("a")), Optional(1));
  EXPECT_THAT(cache.Find(absl::string_view("a")), Optional(1));  // no copy of the key
  const Cache::Stats s = cache.stats();
  EXPECT_EQ(s.hits, 2);
  EXPECT_EQ(s.misses, 1);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.cost, 1);
  EXPECT_EQ(s.evictions, 0);
}

TEST(LruCacheTest, DropsTheLeastRecentlyUsedUntilTheCostsFit) {
  Cache cache(10);
  cache.Put("a", 1, 4);
  cache.Put("b", 2, 4);
  ASSERT_THAT(cache.Find(std::string("a")), Optional(1));  // b is now the oldest
  cache.Put("c", 3, 4);                                    // 12 > 10: b goes
  EXPECT_EQ(cache.Find(std::string("b")), std::nullopt);
  EXPECT_THAT(cache.Find(std::string("a")), Optional(1));
  EXPECT_THAT(cache.Find(std::string("c")), Optional(3));
  cache.Put("d", 4, 9);  // only d fits
  EXPECT_EQ(cache.Find(std::string("a")), std::nullopt);
  EXPECT_EQ(cache.Find(std::string("c")), std::nullopt);
  const Cache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.cost, 9);
  EXPECT_EQ(s.evictions, 3);
}

TEST(LruCacheTest, KeepsNothingCostingMoreThanTheCapacityAndKeepsWhatWasThere) {
  Cache cache(10);
  cache.Put("a", 1, 5);
  cache.Put("a", 2, 11);
  cache.Put("b", 3, 11);
  EXPECT_THAT(cache.Find(std::string("a")), Optional(1));
  EXPECT_EQ(cache.Find(std::string("b")), std::nullopt);
  EXPECT_EQ(cache.stats().cost, 5);
  EXPECT_EQ(cache.stats().evictions, 0);
}

TEST(LruCacheTest, APutReplacesOnlyWhatItsPredicateAccepts) {
  Cache cache(10);
  cache.Put("a", 5, 1);
  cache.Put("a", 4, 3, [](const int& kept) { return kept <= 4; });  // refused: 5 stays
  EXPECT_THAT(cache.Find(std::string("a")), Optional(5));
  EXPECT_EQ(cache.stats().cost, 1);
  cache.Put("a", 6, 3, [](const int& kept) { return kept <= 6; });
  EXPECT_THAT(cache.Find(std::string("a")), Optional(6));
  const Cache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.cost, 3);  // the replaced entry's cost is given back
  EXPECT_EQ(s.evictions, 0);
}

TEST(LruCacheTest, AReplacedEntryBecomesTheMostRecentlyUsed) {
  Cache cache(10);
  cache.Put("a", 1, 4);
  cache.Put("b", 2, 4);
  cache.Put("a", 3, 5);  // a is now the most recent, costing 5: 9 in all
  EXPECT_EQ(cache.stats().cost, 9);
  cache.Put("c", 4, 1);  // 10: nothing goes
  EXPECT_EQ(cache.stats().evictions, 0);
  cache.Put("d", 5, 4);  // 14: b, the least recent, goes; then 10
  EXPECT_EQ(cache.Find(std::string("b")), std::nullopt);
  EXPECT_THAT(cache.Find(std::string("a")), Optional(3));
  const Cache::Stats s = cache.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.cost, 10);
  EXPECT_EQ(s.evictions, 1);
}

TEST(LruCacheTest, AnUnusableValueIsAMissAndStaysKept) {
  Cache cache(10);
  cache.Put("a", 7, 1);
  EXPECT_EQ(cache.Find(std::string("a"), [](const int& v) { return v == 8; }), std::nullopt);
  EXPECT_THAT(cache.Find(std::string("a"), [](const int& v) { return v == 7; }), Optional(7));
  EXPECT_EQ(cache.stats().misses, 1);
  EXPECT_EQ(cache.stats().hits, 1);
}

TEST(LruCacheTest, AFoundValueOutlivesItsEntry) {
  LruCache<std::string, std::shared_ptr<const std::string>> cache(1);
  cache.Put("a", std::make_shared<const std::string>("kept"), 1);
  std::shared_ptr<const std::string> held = cache.Find(std::string("a")).value_or(nullptr);
  cache.Put("b", std::make_shared<const std::string>("other"), 1);
  EXPECT_EQ(cache.Find(std::string("a")), std::nullopt);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(*held, "kept");
}

// A key that counts its copies.
struct CountedKey {
  static inline int copies = 0;
  std::string name;
  explicit CountedKey(std::string n) : name(std::move(n)) {}
  CountedKey(const CountedKey& other) : name(other.name) { ++copies; }
  CountedKey(CountedKey&&) = default;
  CountedKey& operator=(const CountedKey& other) {
    name = other.name;
    ++copies;
    return *this;
  }
  CountedKey& operator=(CountedKey&&) = default;
  bool operator==(const CountedKey& other) const { return name == other.name; }
  template <typename H>
  friend H AbslHashValue(H h, const CountedKey& key) {
    return H::combine(std::move(h), key.name);
  }
};

TEST(LruCacheTest, HoldsEachKeyOnceAndCopiesNoKey) {
  LruCache<CountedKey, int> cache(2);
  CountedKey::copies = 0;
  cache.Put(CountedKey("a"), 1, 1);
  cache.Put(CountedKey("b"), 2, 1);
  cache.Put(CountedKey("a"), 3, 1);  // replaced in place
  EXPECT_THAT(cache.Find(CountedKey("a")), Optional(3));
  EXPECT_THAT(cache.Find(CountedKey("b")), Optional(2));
  cache.Put(CountedKey("c"), 4, 1);  // a, the least recent, goes
  EXPECT_EQ(cache.Find(CountedKey("a")), std::nullopt);
  EXPECT_THAT(cache.Find(CountedKey("c")), Optional(4));
  EXPECT_EQ(CountedKey::copies, 0);
  EXPECT_EQ(cache.stats().entries, 2);
}

TEST(LruCacheTest, ManyThreadsKeepTheBound) {
  Cache cache(64);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = absl::StrCat((i * 7 + t) % 200);
        if (!cache.Find(key).has_value()) cache.Put(key, i, 1 + i % 3);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const Cache::Stats s = cache.stats();
  EXPECT_LE(s.cost, 64);
  EXPECT_GT(s.entries, 0);
  EXPECT_EQ(s.hits + s.misses, 8000);
}

}  // namespace
}  // namespace kinex
