// FactsCache: kept by the identifier as asked, least recently used dropped
// first, a Put replacing what was kept.
#include "services/gateway/facts_cache.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace kinex::gateway {
namespace {

namespace cv1 = kinex::common::v1;
namespace rsv1 = kinex::records::v1;

cv1::ChildRef ByKinexId(const std::string& id) {
  cv1::ChildRef ref;
  ref.set_kinex_id(id);
  return ref;
}

std::shared_ptr<const rsv1::ChildFacts> Facts(const std::string& kinex_id,
                                              const std::string& version) {
  auto facts = std::make_shared<rsv1::ChildFacts>();
  facts->set_kinex_id(kinex_id);
  facts->set_facts_version(version);
  return facts;
}

TEST(FactsCache, KeepsByTheIdentifierAsAsked) {
  FactsCache cache(4);
  cache.Put(ByKinexId("k1"), Facts("k1", "f1:a"));
  ASSERT_NE(cache.Find(ByKinexId("k1")), nullptr);
  EXPECT_EQ(cache.Find(ByKinexId("k1"))->facts_version(), "f1:a");
  // The same value as another kind of identifier is another key.
  cv1::ChildRef as_upn;
  as_upn.set_upn("k1");
  EXPECT_EQ(cache.Find(as_upn), nullptr);
  EXPECT_EQ(cache.Find(ByKinexId("k2")), nullptr);
  const FactsCache::Stats s = cache.stats();
  EXPECT_EQ(s.hits, 2);
  EXPECT_EQ(s.misses, 2);
  EXPECT_EQ(s.entries, 1);
}

TEST(FactsCache, KeysOnTheIdentifierAloneNotWhatElseTheRequestCarried) {
  FactsCache cache(4);
  cv1::ChildRef padded = ByKinexId("k1");
  // A field this build does not know, as a careless or hostile client
  // might send: it is not part of the key (nor kept with it).
  padded.GetReflection()->MutableUnknownFields(&padded)->AddLengthDelimited(
      99, std::string(1 << 20, 'x'));
  cache.Put(padded, Facts("k1", "f1:a"));
  ASSERT_NE(cache.Find(ByKinexId("k1")), nullptr);
  // An LA child id is its LA and its id: no two pairs share a key.
  cv1::ChildRef a;
  a.mutable_la_child_id()->set_la_code("E0900003");
  a.mutable_la_child_id()->set_id("3X");
  cv1::ChildRef b;
  b.mutable_la_child_id()->set_la_code("E09000033");
  b.mutable_la_child_id()->set_id("X");
  cache.Put(a, Facts("ka", "f1:a"));
  EXPECT_EQ(cache.Find(b), nullptr);
  ASSERT_NE(cache.Find(a), nullptr);
  EXPECT_EQ(cache.Find(a)->kinex_id(), "ka");
}

TEST(FactsCache, APutReplacesWhatWasKept) {
  FactsCache cache(4);
  cache.Put(ByKinexId("k1"), Facts("k1", "f1:a"));
  cache.Put(ByKinexId("k1"), Facts("k1", "f1:b"));
  EXPECT_EQ(cache.Find(ByKinexId("k1"))->facts_version(), "f1:b");
  EXPECT_EQ(cache.stats().entries, 1);
}

TEST(FactsCache, DropsTheLeastRecentlyUsedFirst) {
  FactsCache cache(2);
  cache.Put(ByKinexId("k1"), Facts("k1", "f1:a"));
  cache.Put(ByKinexId("k2"), Facts("k2", "f1:a"));
  ASSERT_NE(cache.Find(ByKinexId("k1")), nullptr);  // k2 is now the oldest
  cache.Put(ByKinexId("k3"), Facts("k3", "f1:a"));
  EXPECT_EQ(cache.Find(ByKinexId("k2")), nullptr);
  EXPECT_NE(cache.Find(ByKinexId("k1")), nullptr);
  EXPECT_NE(cache.Find(ByKinexId("k3")), nullptr);
  const FactsCache::Stats s = cache.stats();
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.entries, 2);
}

TEST(FactsCache, FoundFactsOutliveTheirEviction) {
  FactsCache cache(1);
  cache.Put(ByKinexId("k1"), Facts("k1", "f1:a"));
  std::shared_ptr<const rsv1::ChildFacts> held = cache.Find(ByKinexId("k1"));
  cache.Put(ByKinexId("k2"), Facts("k2", "f1:a"));
  EXPECT_EQ(cache.Find(ByKinexId("k1")), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->kinex_id(), "k1");
}

}  // namespace
}  // namespace kinex::gateway
