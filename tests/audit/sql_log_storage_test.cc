// The audit store on SQLite: a new store is at the newest schema version, a
// newer one is refused, leaves are stored compressed, and store errors carry
// their reasons. Migrations of older stores: child_index_schema_test.cc.
#include "services/audit/sqlite_log_storage.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/audit/stored_leaf.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sql/sql_db.h"
#include "tests/audit/stored_leaf_forms.h"
#include "tests/audit/test_events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;

NewEntry Entry(uint64_t index) { return ::kinex::audit::testing::SampleStoredEntry(index); }

class SqlLogStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<sql::Db> Raw() {
    auto db = sql::OpenSqlite(dir_.File("audit.db"));
    EXPECT_TRUE(db.ok()) << db.status();
    return *std::move(db);
  }

  // The canonical leaves of entries [0, n), as the store reads them.
  static std::vector<std::string> LeavesRead(SqlLogStorage& storage, uint64_t n) {
    std::vector<std::string> read;
    const absl::Status status = storage.ReadEntries(0, n, [&](const StoredEntry& e) {
      read.push_back(e.leaf_data);
      return absl::OkStatus();
    });
    EXPECT_TRUE(status.ok()) << status;
    return read;
  }

  kinex::testing::ScopedTempDir dir_{"audit-sql"};
};

TEST_F(SqlLogStorageTest, ANewStoreIsAtTheCurrentSchemaVersion) {
  ASSERT_TRUE(SqliteLogStorage::Open({.path = dir_.File("audit.db")}).ok());
  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
}

TEST_F(SqlLogStorageTest, AStoreNewerThanThisBinaryIsRefused) {
  ASSERT_TRUE(SqliteLogStorage::Open({.path = dir_.File("audit.db")}).ok());
  ASSERT_TRUE(Raw()->Exec("UPDATE schema_version SET version = 12 WHERE component = 'audit'").ok());
  const auto newer = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  EXPECT_THAT(newer, StatusIs(absl::StatusCode::kFailedPrecondition,
                              ::testing::HasSubstr("audit store is at schema version 12, newer "
                                                   "than this binary knows (11)")));
  EXPECT_THAT(newer.status(), HasErrorReason("SCHEMA_TOO_NEW"));
}

// Leaves are stored compressed (stored_leaf.h) and read back as their
// canonical bytes; a leaf stored as it is (every leaf from before schema
// version 4) reads as it is; a compressed leaf edited in the store is
// STORAGE_CORRUPT at its index.
TEST_F(SqlLogStorageTest, LeavesAreStoredCompressedAndReadBackByteForByte) {
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  // A leaf much like a whole-record disclosure's: the dictionary's strings.
  NewEntry big = Entry(0);
  big.entry.leaf_data = absl::StrCat("KXAE", LeafDictionary(1), LeafDictionary(1));
  NewEntry small = Entry(1);  // "leaf-1": compression would not shrink it
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{big, small}, nullptr).ok());
  {
    auto db = Raw();
    auto rows = db->Query("SELECT leaf_data FROM audit_entries ORDER BY leaf_index");
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_TRUE(absl::StartsWith(rows->at(0).Str(0), "KXAS\x03"));
    EXPECT_LT(rows->at(0).Str(0).size(), big.entry.leaf_data.size() / 10);
    EXPECT_EQ(rows->at(1).Str(0), "leaf-1");
  }
  EXPECT_THAT(LeavesRead(**storage, 2), ::testing::ElementsAre(big.entry.leaf_data, "leaf-1"));
  EXPECT_EQ((*storage)->Query({.child_pseudonym = "p0"}, 10).value().at(0).leaf_data,
            big.entry.leaf_data);

  // An edit that keeps the header but not the length it claims.
  {
    auto db = Raw();
    auto rows = db->Query("SELECT leaf_data FROM audit_entries WHERE leaf_index = 0");
    ASSERT_TRUE(rows.ok());
    std::string edited = rows->at(0).Str(0);
    edited[8] = static_cast<char>(edited[8] ^ 1);
    ASSERT_TRUE(db->ExecScript("DROP TRIGGER audit_entries_no_update").ok());
    ASSERT_TRUE(db->Exec("UPDATE audit_entries SET leaf_data = $1 WHERE leaf_index = 0",
                         {sql::Blob{edited}})
                    .ok());
  }
  const absl::Status corrupt =
      (*storage)->ReadEntries(0, 1, [](const StoredEntry&) { return absl::OkStatus(); });
  EXPECT_THAT(corrupt,
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::StartsWith("entry 0: stored audit leaf: decompresses to ")));
  EXPECT_THAT(corrupt, HasErrorReason("STORAGE_CORRUPT"));
}

// Schema version 11: a leaf that names children is stored with its
// pseudonyms as references to its entry's set ("KXAR"), which every read
// (by range, by filter, by child) gives back from the query index; a leaf
// that names none, or whose pseudonyms the leaf does not hold, is stored as
// before. An index edit that changes a pseudonym changes the leaf read,
// which the leaf hash then refuses (TamperTest.ARenamedChildChangesEveryLeafThatNamesIt).
TEST_F(SqlLogStorageTest, ALeafNamingChildrenIsStoredWithReferencesAndReadBackByEveryPath) {
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  // Leaves holding the entry's two pseudonyms (64 hex digits each, as the
  // canonical encoding writes strings; random, as HMAC-SHA256 ones are),
  // given in another order and once twice, as an event may list them.
  const auto random_hex = [](uint32_t x) {
    std::string bytes;
    for (int i = 0; i < 32; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      bytes.push_back(static_cast<char>(x & 0xff));
    }
    return absl::BytesToHexString(bytes);
  };
  std::string p = random_hex(2463534242u);
  std::string q = random_hex(88172645u);
  if (q > p) std::swap(p, q);  // q sorts first
  const auto hex_string = [](const std::string& digits) {
    return absl::StrCat(absl::string_view("\0\0\0\x40", 4), digits);
  };
  // p is numbered first, by an entry whose leaf does not hold it: the
  // numbers' order (p, q) is not the pseudonyms' (q, p), which is the one
  // CompressLeaf and the reads use.
  NewEntry other = Entry(0);
  other.entry.leaf_data = absl::StrCat("KXAE", LeafDictionary(1), hex_string(q));
  other.child_pseudonyms = {p};
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{other}, nullptr).ok());
  NewEntry named = Entry(1);
  named.entry.leaf_data =
      absl::StrCat("KXAE", LeafDictionary(1), hex_string(p), hex_string(q), hex_string(p));
  named.child_pseudonyms = {q, p, q};
  NewEntry none = Entry(2);
  none.entry.leaf_data = absl::StrCat("KXAE", LeafDictionary(1), "none");
  none.child_pseudonyms.clear();
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{named, none}, nullptr).ok());
  {
    auto db = Raw();
    auto rows = db->Query("SELECT leaf_data FROM audit_entries ORDER BY leaf_index");
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_TRUE(absl::StartsWith(rows->at(0).Str(0), "KXAS\x03"));
    EXPECT_TRUE(absl::StartsWith(rows->at(1).Str(0), "KXAR\x03"));
    // Each pseudonym is a header byte and its position (one byte), not 32
    // bytes of digits (p's second run was a match in the frame either way).
    EXPECT_LE(rows->at(1).Str(0).size() + 2 * 29, CompressLeaf(named.entry.leaf_data).size());
    EXPECT_TRUE(absl::StartsWith(rows->at(2).Str(0), "KXAS\x03"));
    auto numbers = db->Query("SELECT pseudonym FROM audit_children ORDER BY child_id");
    ASSERT_TRUE(numbers.ok()) << numbers.status();
    ASSERT_EQ(numbers->size(), 2u);
    EXPECT_EQ(numbers->at(0).Str(0), p);
  }
  const std::vector<std::string> leaves = {other.entry.leaf_data, named.entry.leaf_data,
                                           none.entry.leaf_data};
  // Read afresh from the file: nothing of the append is cached.
  storage->reset();
  storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_THAT(LeavesRead(**storage, 3), ::testing::ElementsAreArray(leaves));
  absl::StatusOr<std::vector<StoredEntry>> all = (*storage)->Query({}, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(all->at(i).leaf_data, leaves[i]) << i;
  absl::StatusOr<std::vector<StoredEntry>> by_child = (*storage)->Query({.child_pseudonym = q}, 10);
  ASSERT_TRUE(by_child.ok()) << by_child.status();
  ASSERT_EQ(by_child->size(), 1u);
  EXPECT_EQ(by_child->at(0).leaf_data, named.entry.leaf_data);

  // The child's number given another pseudonym: the leaf reads as other
  // bytes of its length (the leaf hash, checked by every reader of the log,
  // refuses them); its set's member row deleted: a position names nothing,
  // and the read is AUDIT_INDEX_TAMPERED at its index.
  {
    auto db = Raw();
    ASSERT_TRUE(db->ExecScript("DROP TRIGGER audit_children_no_update; "
                               "DROP TRIGGER audit_child_set_members_no_delete")
                    .ok());
    ASSERT_TRUE(db->Exec("UPDATE audit_children SET pseudonym = $1 WHERE pseudonym = $2",
                         {std::string(64, 'f'), p})
                    .ok());
  }
  std::vector<std::string> renamed = LeavesRead(**storage, 2);
  ASSERT_EQ(renamed.size(), 2u);
  EXPECT_NE(renamed[1], named.entry.leaf_data);
  EXPECT_EQ(renamed[1].size(), named.entry.leaf_data.size());
  ASSERT_TRUE(Raw()
                  ->Exec("DELETE FROM audit_child_set_members WHERE child_id = (SELECT child_id "
                         "FROM audit_children WHERE pseudonym = $1)",
                         {q})
                  .ok());
  const absl::Status corrupt =
      (*storage)->ReadEntries(1, 2, [](const StoredEntry&) { return absl::OkStatus(); });
  EXPECT_THAT(corrupt, StatusIs(absl::StatusCode::kDataLoss,
                                "index: leaf 1: child pseudonym row missing (its stored leaf "
                                "refers to more children than the index gives it: stored audit "
                                "leaf: identifier runs: run 0 names child pseudonym 1 of the "
                                "entry's 1)"));
  EXPECT_THAT(corrupt, HasErrorReason("AUDIT_INDEX_TAMPERED"));
  EXPECT_THAT(corrupt, HasErrorMetadata("leaf_index", "1"));
}

// A store from schema 6 (leaves stored with dictionary 2) is upgraded in
// place: marked the current version (7 then), nothing rewritten; its leaves read back byte for
// byte beside new leaves, which are stored with dictionary 3.
TEST_F(SqlLogStorageTest, AStoreFromSchemaSixKeepsItsLeavesAndAddsDictionaryThree) {
  NewEntry old = Entry(0);
  old.entry.leaf_data = absl::StrCat("KXAE", LeafDictionary(1), "old");
  {
    auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{old}, nullptr).ok());
  }
  // What a schema-6 build left: the leaf in dictionary 2's form, version 6.
  const std::string stored_before = testing::StoredWithDictionaryTwo(old.entry.leaf_data);
  {
    auto db = Raw();
    ASSERT_TRUE(db->ExecScript("DROP TRIGGER audit_entries_no_update").ok());
    ASSERT_TRUE(db->Exec("UPDATE audit_entries SET leaf_data = $1 WHERE leaf_index = 0",
                         {sql::Blob{stored_before}})
                    .ok());
    ASSERT_TRUE(db->Exec("UPDATE schema_version SET version = 6 WHERE component = 'audit'").ok());
  }

  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  NewEntry added = Entry(1);
  added.entry.leaf_data = absl::StrCat("KXAE", LeafDictionary(1), "new");
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{added}, nullptr).ok());

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  auto rows = db->Query("SELECT leaf_data FROM audit_entries ORDER BY leaf_index");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->at(0).Str(0), stored_before);  // not rewritten
  EXPECT_TRUE(absl::StartsWith(rows->at(1).Str(0), "KXAS\x03"));
  EXPECT_THAT(LeavesRead(**storage, 2),
              ::testing::ElementsAre(old.entry.leaf_data, added.entry.leaf_data));
}

// The store's errors carry explicit reasons with `store` and `dialect`: a
// stored hash of the wrong size is STORAGE_CORRUPT (DATA_LOSS); any failure
// of the database is UNAVAILABLE to the log (it fails closed),
// STORAGE_UNAVAILABLE with the failure's own reason as `cause`.
TEST_F(SqlLogStorageTest, StoreErrorsCarryTheirReasons) {
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(0)}, nullptr).ok());
  {
    // Inserting is what the triggers allow; a short hash reads back wrong.
    auto db = Raw();
    ASSERT_TRUE(db->Exec("INSERT INTO audit_entries (leaf_index, leaf_hash, leaf_data, "
                         "time_micros, principal_id, purpose, decision, break_glass) "
                         "VALUES (1, $1, $2, 0, 1, 0, 0, 0)",
                         {sql::Blob{"short"}, sql::Blob{"leaf-1"}})
                    .ok());
  }
  const absl::Status corrupt =
      (*storage)->ReadEntries(0, 2, [](const StoredEntry&) { return absl::OkStatus(); });
  EXPECT_THAT(corrupt, StatusIs(absl::StatusCode::kDataLoss,
                                "entry 1: stored leaf hash is 5 bytes, not 32"));
  EXPECT_THAT(corrupt, HasErrorReason("STORAGE_CORRUPT"));
  EXPECT_THAT(corrupt, HasErrorMetadata("store", "audit"));
  EXPECT_THAT(corrupt, HasErrorMetadata("dialect", "sqlite"));

  ASSERT_TRUE(Raw()->ExecScript("DROP TABLE audit_heads").ok());
  SignedTreeHead head;
  head.set_tree_size(1);
  const absl::Status gone = (*storage)->AddHead(head);
  EXPECT_THAT(gone, StatusIs(absl::StatusCode::kUnavailable,
                             ::testing::StartsWith("audit store: sqlite ")));
  EXPECT_THAT(gone, HasErrorReason("STORAGE_UNAVAILABLE"));
  EXPECT_THAT(gone, HasErrorMetadata("cause", "STORAGE_FAILED"));
  EXPECT_THAT(gone, HasErrorMetadata("store", "audit"));
  EXPECT_THAT(gone, HasErrorMetadata("dialect", "sqlite"));
}

// Appends are copied from the WAL into the database file by the store's
// background checkpointer (sql::WalCheckpointer), so an append does not
// wait for it; with background_checkpoints off there is none (the writer
// checkpoints itself).
TEST_F(SqlLogStorageTest, AppendsAreCheckpointedInTheBackground) {
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(i)}, nullptr).ok());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((*storage)->checkpointer_stats().checkpoints == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE((*storage)->checkpointer_stats().checkpoints, 1u);
  EXPECT_EQ((*storage)->checkpointer_stats().failures, 0u);
  EXPECT_EQ(*(*storage)->Size(), 20u);

  auto inline_only =
      SqliteLogStorage::Open({.path = dir_.File("inline.db"), .background_checkpoints = false});
  ASSERT_TRUE(inline_only.ok()) << inline_only.status();
  ASSERT_TRUE((*inline_only)->Append(std::vector<NewEntry>{Entry(0)}, nullptr).ok());
  EXPECT_EQ((*inline_only)->checkpointer_stats().checkpoints, 0u);
}

}  // namespace
}  // namespace kinex::audit
