// The audit store's schema versions on SQLite: a new store is at the newest version;
// a store from before schema versions (tables entries, entry_children,
// idempotency_keys, heads) is adopted by renaming its tables, with every row
// kept and the append-only triggers back under the new names.
#include "services/audit/sqlite_log_storage.h"

#include "absl/strings/match.h"
#include "services/audit/stored_leaf.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sql/sql_db.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;
using ::kinex::testing::HasErrorMetadata;
using ::kinex::testing::HasErrorReason;
using ::kinex::testing::StatusIs;

NewEntry Entry(uint64_t index) {
  NewEntry e;
  e.entry.leaf_index = index;
  e.entry.leaf_hash.fill(static_cast<uint8_t>(index + 1));
  e.entry.leaf_data = absl::StrCat("leaf-", index);
  e.actor = "j.smith";
  e.child_pseudonyms = {absl::StrCat("p", index)};
  e.idempotency_key = absl::StrCat("key-", index);
  return e;
}

class SqlLogStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<sql::Db> Raw() {
    auto db = sql::OpenSqlite(dir_.File("audit.db"));
    EXPECT_TRUE(db.ok()) << db.status();
    return *std::move(db);
  }

  // Takes the store back to schema version 4's query index by child: one
  // audit_entry_children row (pseudonym, leaf_index) per pseudonym of a leaf,
  // with its by-leaf index and triggers, as 0001_log.sql made it.
  void BackToVersion4() {
    auto db = Raw();
    ASSERT_TRUE(
        db->ExecScript("CREATE TABLE audit_entry_children (pseudonym TEXT NOT NULL, leaf_index "
                       "INTEGER NOT NULL, PRIMARY KEY (pseudonym, leaf_index)) WITHOUT ROWID;"
                       "INSERT INTO audit_entry_children SELECT ch.pseudonym, c.leaf_index FROM "
                       "audit_child_entries c JOIN audit_children ch ON ch.child_id = c.child_id;"
                       "CREATE INDEX audit_entry_children_by_leaf ON audit_entry_children "
                       "(leaf_index);"
                       "CREATE TRIGGER audit_entry_children_no_update BEFORE UPDATE ON "
                       "audit_entry_children BEGIN SELECT RAISE(ABORT, 'append-only'); END;"
                       "CREATE TRIGGER audit_entry_children_no_delete BEFORE DELETE ON "
                       "audit_entry_children BEGIN SELECT RAISE(ABORT, 'append-only'); END;"
                       "DROP TABLE audit_child_entries; DROP TABLE audit_children;"
                       "UPDATE schema_version SET version = 4 WHERE component = 'audit';")
            .ok());
  }

  // Every query-index row of leaves [0, end), as "leaf:pseudonym".
  std::vector<std::string> IndexRows(LogStorage& storage, uint64_t end) {
    std::vector<std::string> rows;
    EXPECT_TRUE(storage
                    .ReadChildIndex(0, end,
                                    [&](const IndexRow& row) {
                                      rows.push_back(
                                          absl::StrCat(row.leaf_index, ":", row.pseudonym));
                                      return absl::OkStatus();
                                    })
                    .ok());
    return rows;
  }
  kinex::testing::ScopedTempDir dir_{"audit-sql"};
};

TEST_F(SqlLogStorageTest, ANewStoreIsAtTheCurrentSchemaVersion) {
  ASSERT_TRUE(SqliteLogStorage::Open({.path = dir_.File("audit.db")}).ok());
  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
}

TEST_F(SqlLogStorageTest, AStoreFromBeforeSchemaVersionsIsAdopted) {
  {
    auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2)};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
  }
  {
    // Back to the layout SQLite stores had before schema versions.
    BackToVersion4();
    auto db = Raw();
    std::string script = "DROP TABLE schema_version;";
    for (const char* t : {"entries", "entry_children", "idempotency_keys", "heads"}) {
      absl::StrAppend(&script, "DROP TRIGGER audit_", t, "_no_update; DROP TRIGGER audit_", t,
                      "_no_delete; ALTER TABLE audit_", t, " RENAME TO ", t, "; CREATE TRIGGER ", t,
                      "_no_delete BEFORE DELETE ON ", t,
                      " BEGIN SELECT RAISE(ABORT, 'append-only'); END;");
    }
    absl::StrAppend(&script,
                    "DROP INDEX audit_entry_children_by_leaf; CREATE INDEX "
                    "entry_children_by_leaf ON entry_children (leaf_index);");
    ASSERT_TRUE(db->ExecScript(script).ok());
  }
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(*(*storage)->Size(), 3u);
  EXPECT_EQ((*storage)->Query({.child_pseudonym = "p1"}, 10).value().at(0).leaf_data, "leaf-1");
  EXPECT_EQ(*(*storage)->LookupIdempotencyKey("key-2"), std::optional<uint64_t>(2));
  EXPECT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(3)}, nullptr).ok());

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  EXPECT_TRUE(db->Query("SELECT name FROM sqlite_master WHERE name IN ('entries', "
                        "'entry_children', 'idempotency_keys', 'heads', 'entries_no_delete', "
                        "'entry_children_by_leaf')")
                  ->empty());
  EXPECT_THAT(db->Exec("DELETE FROM audit_entries WHERE leaf_index = 0").status(),
              StatusIs(absl::StatusCode::kAborted));  // the trigger's RAISE(ABORT)
  EXPECT_THAT(db->Exec("UPDATE audit_children SET pseudonym = 'x'").status(),
              StatusIs(absl::StatusCode::kAborted));  // the trigger's RAISE(ABORT)
}

// Schema version 5 numbers each child pseudonym once (audit_children) and
// keeps the index rows as (child_id, leaf_index): a version 4 store's
// audit_entry_children is copied over whole, in leaf order of first use, and
// dropped; queries, the start-up index check and new appends read and write
// the new tables.
TEST_F(SqlLogStorageTest, AVersion4StoreNumbersItsChildPseudonymsOnce) {
  std::vector<std::string> before;
  {
    auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2)};
    batch[1].child_pseudonyms = {"p0", "p1", "q"};
    batch[2].child_pseudonyms = {"p0", "p2"};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
    before = IndexRows(**storage, 3);
  }
  EXPECT_THAT(before, ::testing::ElementsAre("0:p0", "1:p0", "1:p1", "1:q", "2:p0", "2:p2"));
  BackToVersion4();

  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(IndexRows(**storage, 3), before);
  auto leaves = [&](const std::string& pseudonym) {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<StoredEntry>> found =
        (*storage)->Query({.child_pseudonym = pseudonym}, 10);
    EXPECT_TRUE(found.ok()) << found.status();
    for (const StoredEntry& e : found.value_or(std::vector<StoredEntry>{})) {
      out.push_back(e.leaf_index);
    }
    return out;
  };
  EXPECT_THAT(leaves("p0"), ::testing::ElementsAre(0, 1, 2));
  EXPECT_THAT(leaves("q"), ::testing::ElementsAre(1));
  EXPECT_THAT(leaves("p9"), ::testing::IsEmpty());
  NewEntry next = Entry(3);
  next.child_pseudonyms = {"p0", "p3"};
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{next}, nullptr).ok());
  EXPECT_THAT(leaves("p0"), ::testing::ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(leaves("p3"), ::testing::ElementsAre(3));

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), 5);
  auto numbered = db->Query("SELECT child_id, pseudonym FROM audit_children ORDER BY child_id");
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  std::vector<std::string> names;
  for (const sql::Row& r : *numbered) names.push_back(absl::StrCat(r.Int(0), "=", r.Str(1)));
  // Numbered in order of first use (ties by pseudonym); p0 is not numbered again.
  EXPECT_THAT(names, ::testing::ElementsAre("1=p0", "2=p1", "3=q", "4=p2", "5=p3"));
  EXPECT_TRUE(
      db->Query("SELECT name FROM sqlite_master WHERE name LIKE 'audit_entry_children%'")->empty());
  EXPECT_THAT(db->Exec("UPDATE audit_child_entries SET child_id = 2").status(),
              StatusIs(absl::StatusCode::kAborted));  // the trigger's RAISE(ABORT)
  EXPECT_THAT(db->Exec("DELETE FROM audit_children").status(),
              StatusIs(absl::StatusCode::kAborted));
}

// An index row whose child_id numbers no pseudonym (audit_children edited or
// a row made up) reads as the pseudonym "", which the log's index check
// reports against the leaf.
TEST_F(SqlLogStorageTest, AnIndexRowOfAnUnnumberedChildReadsAsNoPseudonym) {
  auto storage = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(0), Entry(1)}, nullptr).ok());
  ASSERT_TRUE(Raw()
                  ->ExecScript("DROP TRIGGER audit_child_entries_no_delete;"
                               "INSERT INTO audit_child_entries VALUES (77, 1);")
                  .ok());
  EXPECT_THAT(IndexRows(**storage, 2), ::testing::ElementsAre("0:p0", "1:", "1:p1"));
}

TEST_F(SqlLogStorageTest, AStoreNewerThanThisBinaryIsRefused) {
  ASSERT_TRUE(SqliteLogStorage::Open({.path = dir_.File("audit.db")}).ok());
  ASSERT_TRUE(Raw()->Exec("UPDATE schema_version SET version = 9 WHERE component = 'audit'").ok());
  const auto newer = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
  EXPECT_THAT(newer, StatusIs(absl::StatusCode::kFailedPrecondition,
                              ::testing::HasSubstr("audit store is at schema version 9, newer "
                                                   "than this binary knows (5)")));
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
    EXPECT_TRUE(absl::StartsWith(rows->at(0).Str(0), "KXAZ\x01"));
    EXPECT_LT(rows->at(0).Str(0).size(), big.entry.leaf_data.size() / 10);
    EXPECT_EQ(rows->at(1).Str(0), "leaf-1");
  }
  std::vector<std::string> read;
  ASSERT_TRUE((*storage)
                  ->ReadEntries(0, 2,
                                [&](const StoredEntry& e) {
                                  read.push_back(e.leaf_data);
                                  return absl::OkStatus();
                                })
                  .ok());
  EXPECT_THAT(read, ::testing::ElementsAre(big.entry.leaf_data, "leaf-1"));
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
  EXPECT_THAT(corrupt, StatusIs(absl::StatusCode::kDataLoss,
                                ::testing::StartsWith("entry 0: stored audit leaf: inflates to ")));
  EXPECT_THAT(corrupt, HasErrorReason("STORAGE_CORRUPT"));
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
                         "time_micros, agency_kind, agency_code, actor, purpose, decision, "
                         "break_glass) VALUES (1, $1, $2, 0, 0, '', '', 0, 0, 0)",
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

}  // namespace
}  // namespace kinex::audit
