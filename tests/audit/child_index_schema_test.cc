// The audit store's query index by child (schema version 5,
// services/audit/schema/0005_child_index.sql): each pseudonym numbered once
// in audit_children, one (child_id, leaf_index) row per pseudonym of a leaf
// in audit_child_entries. A store at version 4 (one audit_entry_children row
// of (pseudonym, leaf_index) per pseudonym of a leaf) is migrated on open:
// every row copied over, numbered in order of first use, the old table
// dropped; queries, the start-up index read and new appends then use the new
// tables. Likewise schema version 8 (0008_principals.sql): a store at
// version 7, whose entries hold agency_kind, agency_code and actor, has its
// principals numbered once in audit_principals and its entries rebuilt with
// principal_id, every row kept; queries by who made an event still find
// exactly its events. And schema version 9 (0009_signing_keys.sql): a store
// at version 8, whose signed tree heads hold their key id, has its key ids
// numbered once in audit_signing_keys, every head kept and read back as it
// was. And schema version 10 (0010_child_sets.sql): a store at version 9,
// with one audit_child_entries row per child number of a leaf, has its rows
// grouped by leaf into sets of child numbers numbered once in
// audit_child_sets, a row per leaf in audit_entry_child_sets; the start-up
// index read, queries by child and new appends see exactly what they saw.
//
// Built twice from this file: audit_child_index_schema_test on SQLite (also
// the adoption of a store from before schema versions, which only SQLite
// stores had) and audit_child_index_schema_postgres_test
// (KINEX_CHILD_INDEX_POSTGRES, label postgres) against a real PostgreSQL
// server (the shared per-process server the conformance suites use).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sql/sql_db.h"
#include "tests/audit/store_downgrade.h"
#include "tests/audit/test_events.h"
#include "tests/testing/status_matchers.h"

#ifdef KINEX_CHILD_INDEX_POSTGRES
#include <unistd.h>

#include "services/audit/postgres_log_storage.h"
#include "tests/testing/postgres_server.h"
#else
#include "services/audit/sqlite_log_storage.h"
#include "tests/testing/temp_dir.h"
#endif

namespace kinex::audit {
namespace {

namespace v1 = ::kinex::audit::v1;

using ::kinex::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

NewEntry Entry(uint64_t index) { return ::kinex::audit::testing::SampleStoredEntry(index); }

class ChildIndexSchemaTest : public ::testing::Test {
 protected:
#ifdef KINEX_CHILD_INDEX_POSTGRES
  void SetUp() override {
    static int counter = 0;
    auto server = kinex::testing::SharedPostgresServer();
    ASSERT_TRUE(server.ok()) << server.status();
    auto conninfo =
        (*server)->CreateDatabase(absl::StrCat("audit_child_index_", ::getpid(), "_", counter++));
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
  }
  absl::StatusOr<std::unique_ptr<LogStorage>> OpenStorage() {
    auto s = PostgresLogStorage::Open({.conninfo = conninfo_});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStorage>(*std::move(s));
  }
  std::unique_ptr<sql::Db> Raw() {
    auto db = sql::OpenPostgres(conninfo_);
    EXPECT_TRUE(db.ok()) << db.status();
    return *std::move(db);
  }
  static constexpr const char* kOldIndexLeft =
      "SELECT tablename FROM pg_tables WHERE tablename LIKE 'audit_entry_children%' "
      "UNION ALL SELECT indexname FROM pg_indexes WHERE indexname LIKE 'audit_entry_children%'";
  std::string conninfo_;
#else
  absl::StatusOr<std::unique_ptr<LogStorage>> OpenStorage() {
    auto s = SqliteLogStorage::Open({.path = dir_.File("audit.db")});
    if (!s.ok()) return s.status();
    return std::unique_ptr<LogStorage>(*std::move(s));
  }
  std::unique_ptr<sql::Db> Raw() {
    auto db = sql::OpenSqlite(dir_.File("audit.db"));
    EXPECT_TRUE(db.ok()) << db.status();
    return *std::move(db);
  }
  static constexpr const char* kOldIndexLeft =
      "SELECT name FROM sqlite_master WHERE name LIKE 'audit_entry_children%'";
  kinex::testing::ScopedTempDir dir_{"audit-child-index"};
#endif

  // Takes the store back to schema version 9's query index by child: one
  // audit_child_entries row (child_id, leaf_index) per child number of a
  // leaf, with its by-leaf index and append-only triggers; no child sets.
  void BackToVersion9() {
    std::unique_ptr<sql::Db> db = Raw();
    ASSERT_TRUE(db->ExecScript(::kinex::audit::testing::BackToVersion9Script(db->dialect())).ok());
  }

  // From version 9, takes the store back to schema version 4's query index
  // by child: one
  // audit_entry_children row (pseudonym, leaf_index) per pseudonym of a leaf,
  // with its by-leaf index, as 0001_log.sql made it.
  void BackToVersion4() {
    ASSERT_TRUE(
        Raw()
            ->ExecScript("CREATE TABLE audit_entry_children (pseudonym TEXT NOT NULL, leaf_index "
                         "{INT} NOT NULL, PRIMARY KEY (pseudonym, leaf_index)){WITHOUT_ROWID};"
                         "INSERT INTO audit_entry_children SELECT ch.pseudonym, c.leaf_index FROM "
                         "audit_child_entries c JOIN audit_children ch ON ch.child_id = "
                         "c.child_id;"
                         "CREATE INDEX audit_entry_children_by_leaf ON audit_entry_children "
                         "(leaf_index);"
                         "DROP TABLE audit_child_entries; DROP TABLE audit_children;"
                         "UPDATE schema_version SET version = 4 WHERE component = 'audit';")
            .ok());
  }

  // Takes the store back to schema version 7's audit_entries, whose rows
  // hold agency_kind, agency_code and actor, with its append-only triggers
  // as 0001_append_only.<dialect>.sql made them; no audit_principals.
  void BackToVersion7() {
    std::unique_ptr<sql::Db> db = Raw();
    ASSERT_TRUE(db->ExecScript(::kinex::audit::testing::BackToVersion7Script(db->dialect())).ok());
  }

  // Takes the store back to schema version 8's audit_heads, whose rows hold
  // their key id, with its append-only triggers as
  // 0001_append_only.<dialect>.sql made them; no audit_signing_keys.
  void BackToVersion8() {
    std::unique_ptr<sql::Db> db = Raw();
    ASSERT_TRUE(db->ExecScript(::kinex::audit::testing::BackToVersion8Script(db->dialect())).ok());
  }

  // Every stored head, oldest first, as "size:key id:signature".
  static std::vector<std::string> Heads(LogStorage& storage) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<v1::SignedTreeHead>> heads = storage.ListHeads();
    EXPECT_TRUE(heads.ok()) << heads.status();
    for (const v1::SignedTreeHead& h : heads.value_or(std::vector<v1::SignedTreeHead>{})) {
      out.push_back(absl::StrCat(h.tree_size(), ":", h.key_id(), ":", h.signature()));
    }
    return out;
  }

  // The leaves a query by who made the event returns.
  static std::vector<uint64_t> LeavesBy(LogStorage& storage, int agency_kind,
                                        const std::string& agency_code, const std::string& actor) {
    return LeavesOf(storage,
                    {.agency_kind = agency_kind, .agency_code = agency_code, .actor = actor});
  }

  // Every query-index row of leaves [0, end), as "leaf:pseudonym".
  static std::vector<std::string> IndexRows(LogStorage& storage, uint64_t end) {
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

  // The rows `query` reads (two columns: a number, then text), each as
  // "number=text".
  std::vector<std::string> Rows(const std::string& query) {
    std::vector<std::string> out;
    auto rows = Raw()->Query(query);
    EXPECT_TRUE(rows.ok()) << rows.status();
    for (const sql::Row& r : rows.value_or(std::vector<sql::Row>{})) {
      out.push_back(absl::StrCat(r.Int(0), "=", r.Str(1)));
    }
    return out;
  }

  // The leaves a child's query returns.
  static std::vector<uint64_t> Leaves(LogStorage& storage, const std::string& pseudonym) {
    return LeavesOf(storage, {.child_pseudonym = pseudonym});
  }

  // The leaves a query returns (the first 10).
  static std::vector<uint64_t> LeavesOf(LogStorage& storage, const QueryFilter& filter) {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<StoredEntry>> found = storage.Query(filter, 10);
    EXPECT_TRUE(found.ok()) << found.status();
    for (const StoredEntry& e : found.value_or(std::vector<StoredEntry>{})) {
      out.push_back(e.leaf_index);
    }
    return out;
  }
};

TEST_F(ChildIndexSchemaTest, AVersion4StoreNumbersItsChildPseudonymsOnce) {
  std::vector<std::string> before;
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2)};
    batch[1].child_pseudonyms = {"p0", "p1", "q"};
    batch[2].child_pseudonyms = {"p0", "p2"};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
    before = IndexRows(**storage, 3);
  }
  EXPECT_THAT(before, ElementsAre("0:p0", "1:p0", "1:p1", "1:q", "2:p0", "2:p2"));
  BackToVersion9();
  BackToVersion4();

  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(IndexRows(**storage, 3), before);
  EXPECT_THAT(Leaves(**storage, "p0"), ElementsAre(0, 1, 2));
  EXPECT_THAT(Leaves(**storage, "q"), ElementsAre(1));
  EXPECT_THAT(Leaves(**storage, "p9"), IsEmpty());
  NewEntry next = Entry(3);
  next.child_pseudonyms = {"p0", "p3"};
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{next}, nullptr).ok());
  EXPECT_THAT(Leaves(**storage, "p0"), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Leaves(**storage, "p3"), ElementsAre(3));

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  auto numbered = db->Query("SELECT child_id, pseudonym FROM audit_children ORDER BY child_id");
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  std::vector<std::string> names;
  for (const sql::Row& r : *numbered) names.push_back(absl::StrCat(r.Int(0), "=", r.Str(1)));
  // Numbered in order of first use (ties by pseudonym); p0 is not numbered again.
  EXPECT_THAT(names, ElementsAre("1=p0", "2=p1", "3=q", "4=p2", "5=p3"));
  EXPECT_THAT(*db->Query(kOldIndexLeft), IsEmpty());
  // The new tables' append-only triggers.
  EXPECT_FALSE(db->Exec("DELETE FROM audit_children").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_entry_child_sets SET set_id = 2").ok());
}

// Entries of three principals: leaves 0 and 2 by (1, "E09000033",
// "j.smith"), 1 by (1, "E08000025", "j.smith"), 3 by (4, "E09000033",
// "a.khan").
std::vector<NewEntry> EntriesOfThreePrincipals() {
  std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2), Entry(3)};
  for (NewEntry& e : batch) {
    e.agency_kind = 1;
    e.agency_code = "E09000033";
  }
  batch[1].agency_code = "E08000025";
  batch[3].agency_kind = 4;
  batch[3].actor = "a.khan";
  return batch;
}

TEST_F(ChildIndexSchemaTest, AVersion7StoreNumbersItsPrincipalsOnce) {
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE((*storage)->Append(EntriesOfThreePrincipals(), nullptr).ok());
  }
  BackToVersion9();
  BackToVersion8();
  BackToVersion7();
  {
    // Version 7's rows, as the migration finds them.
    auto old_rows = Raw()->Query(
        "SELECT leaf_index, agency_kind, agency_code, actor FROM audit_entries ORDER BY 1");
    ASSERT_TRUE(old_rows.ok()) << old_rows.status();
    std::vector<std::string> rows;
    for (const sql::Row& r : *old_rows) {
      rows.push_back(absl::StrCat(r.Int(0), ":", r.Int(1), ":", r.Str(2), ":", r.Str(3)));
    }
    EXPECT_THAT(rows, ElementsAre("0:1:E09000033:j.smith", "1:1:E08000025:j.smith",
                                  "2:1:E09000033:j.smith", "3:4:E09000033:a.khan"));
  }

  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(*(*storage)->Size(), 4u);
  EXPECT_THAT(LeavesBy(**storage, 1, "E09000033", "j.smith"), ElementsAre(0, 2));
  EXPECT_THAT(LeavesBy(**storage, 0, "", "j.smith"), ElementsAre(0, 1, 2));
  EXPECT_THAT(LeavesBy(**storage, 0, "E09000033", ""), ElementsAre(0, 2, 3));
  EXPECT_THAT(LeavesBy(**storage, 4, "", ""), ElementsAre(3));
  EXPECT_THAT(LeavesBy(**storage, 4, "E08000025", ""), IsEmpty());
  EXPECT_THAT(Leaves(**storage, "p3"), ElementsAre(3));
  EXPECT_EQ((*storage)->Query({}, 10).value().at(1).leaf_data, "leaf-1");
  // A new principal is numbered next; a known one is not numbered again.
  std::vector<NewEntry> next = {Entry(4), Entry(5)};
  next[0].agency_kind = 4;
  next[0].agency_code = "E09000033";
  next[0].actor = "a.khan";
  next[1].agency_kind = 2;
  next[1].agency_code = "RJ1";
  next[1].actor = "dr.patel";
  ASSERT_TRUE((*storage)->Append(next, nullptr).ok());
  EXPECT_THAT(LeavesBy(**storage, 4, "", "a.khan"), ElementsAre(3, 4));
  EXPECT_THAT(LeavesBy(**storage, 2, "RJ1", ""), ElementsAre(5));

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  auto numbered = db->Query(
      "SELECT principal_id, agency_kind, agency_code, actor FROM audit_principals ORDER BY 1");
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  std::vector<std::string> names;
  for (const sql::Row& r : *numbered) {
    names.push_back(absl::StrCat(r.Int(0), "=", r.Int(1), ":", r.Str(2), ":", r.Str(3)));
  }
  // Numbered in order of first use.
  EXPECT_THAT(names, ElementsAre("1=1:E09000033:j.smith", "2=1:E08000025:j.smith",
                                 "3=4:E09000033:a.khan", "4=2:RJ1:dr.patel"));
  auto by_entry =
      db->Query("SELECT leaf_index, principal_id FROM audit_entries ORDER BY leaf_index");
  ASSERT_TRUE(by_entry.ok()) << by_entry.status();
  std::vector<std::string> entries;
  for (const sql::Row& r : *by_entry) entries.push_back(absl::StrCat(r.Int(0), "=", r.Int(1)));
  EXPECT_THAT(entries, ElementsAre("0=1", "1=2", "2=1", "3=3", "4=3", "5=4"));
  // Version 7's columns and table are gone; the triggers are back on the
  // new table, and the principals have theirs.
  EXPECT_FALSE(db->Query("SELECT actor FROM audit_entries").ok());
  EXPECT_FALSE(db->Query("SELECT 1 FROM audit_entries_v7").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_entries SET principal_id = 2").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_entries").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_principals SET actor = 'x'").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_principals").ok());
}

// A head of `size`, signed (as far as the store can tell) by `key_id`.
v1::SignedTreeHead HeadOf(uint64_t size, const std::string& key_id) {
  v1::SignedTreeHead h;
  h.set_tree_size(size);
  h.set_root_hash(std::string(32, static_cast<char>('a' + size)));
  h.mutable_timestamp()->set_seconds(1788249600 + static_cast<int64_t>(size));
  h.mutable_timestamp()->set_nanos(7);
  h.set_key_id(key_id);
  h.set_signature(absl::StrCat("sig-", size));
  return h;
}

TEST_F(ChildIndexSchemaTest, AVersion8StoreNumbersItsSigningKeysOnce) {
  const std::string key_a(64, 'a');
  std::vector<std::string> before;
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    const v1::SignedTreeHead first = HeadOf(1, key_a);
    ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(0)}, &first).ok());
    ASSERT_TRUE((*storage)->AddHead(HeadOf(1, "key-b")).ok());
    const v1::SignedTreeHead third = HeadOf(2, key_a);
    ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(1)}, &third).ok());
    before = Heads(**storage);
  }
  EXPECT_THAT(before, ElementsAre(absl::StrCat("1:", key_a, ":sig-1"), "1:key-b:sig-1",
                                  absl::StrCat("2:", key_a, ":sig-2")));
  BackToVersion9();
  BackToVersion8();

  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(Heads(**storage), before);
  const auto latest = (*storage)->LatestHead();
  ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.status();
  EXPECT_EQ((*latest)->key_id(), key_a);
  EXPECT_EQ((*latest)->root_hash(), std::string(32, 'c'));
  EXPECT_EQ((*latest)->timestamp().seconds(), 1788249602);
  EXPECT_EQ((*latest)->timestamp().nanos(), 7);
  const auto between = (*storage)->ListHeadsBetween(1, 2);
  ASSERT_TRUE(between.ok()) << between.status();
  ASSERT_EQ(between->size(), 1u);
  EXPECT_EQ(between->at(0).key_id(), key_a);
  // A known key is not numbered again; a new one is numbered next.
  ASSERT_TRUE((*storage)->AddHead(HeadOf(2, "key-b")).ok());
  const v1::SignedTreeHead next = HeadOf(3, "key-c");
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(2)}, &next).ok());
  EXPECT_THAT(Heads(**storage),
              ElementsAre(before[0], before[1], before[2], "2:key-b:sig-2", "3:key-c:sig-3"));

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  auto numbered =
      db->Query("SELECT key_number, key_id FROM audit_signing_keys ORDER BY key_number");
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  std::vector<std::string> keys;
  for (const sql::Row& r : *numbered) keys.push_back(absl::StrCat(r.Int(0), "=", r.Str(1)));
  EXPECT_THAT(keys, ElementsAre(absl::StrCat("1=", key_a), "2=key-b", "3=key-c"));
  // The heads were copied into a new table: each kept its id, the ids went
  // on from the largest, and nothing of the old table is left.
  auto ids = db->Query("SELECT id, key_number FROM audit_heads ORDER BY id");
  ASSERT_TRUE(ids.ok()) << ids.status();
  std::vector<std::string> numbered_heads;
  for (const sql::Row& r : *ids) numbered_heads.push_back(absl::StrCat(r.Int(0), ":", r.Int(1)));
  EXPECT_THAT(numbered_heads, ElementsAre("1:1", "2:2", "3:1", "4:2", "5:3"));
#ifdef KINEX_CHILD_INDEX_POSTGRES
  auto left = db->Query(
      "SELECT relname FROM pg_class WHERE relname LIKE 'audit_heads_v8%' OR relname LIKE "
      "'audit_heads_id_seq_%' ORDER BY 1");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_THAT(*left, IsEmpty());
#else
  auto left = db->Query("SELECT name FROM sqlite_master WHERE name LIKE 'audit_heads_v8%'");
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_THAT(*left, IsEmpty());
#endif
  EXPECT_FALSE(db->Query("SELECT key_id FROM audit_heads").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_heads SET key_number = 2").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_heads").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_signing_keys SET key_id = 'x'").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_signing_keys").ok());
}

// A key first numbered for a head whose own insert then fails is rolled
// back with it: the next head it signs is stored with its key id, not with
// the number the failed commit gave.
TEST_F(ChildIndexSchemaTest, AHeadThatFailsToStoreGivesItsKeyNoNumber) {
  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  const v1::SignedTreeHead first = HeadOf(1, "key-a");
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(0)}, &first).ok());
#ifdef KINEX_CHILD_INDEX_POSTGRES
  const std::string refuse =
      "CREATE TRIGGER test_refuse_heads BEFORE INSERT ON audit_heads FOR EACH ROW EXECUTE "
      "FUNCTION audit_append_only();";
  const std::string allow = "DROP TRIGGER test_refuse_heads ON audit_heads;";
#else
  const std::string refuse =
      "CREATE TRIGGER test_refuse_heads BEFORE INSERT ON audit_heads BEGIN SELECT RAISE(ABORT, "
      "'refused'); END;";
  const std::string allow = "DROP TRIGGER test_refuse_heads;";
#endif
  ASSERT_TRUE(Raw()->ExecScript(refuse).ok());
  const v1::SignedTreeHead rotated = HeadOf(2, "key-b");
  EXPECT_FALSE((*storage)->Append(std::vector<NewEntry>{Entry(1)}, &rotated).ok());
  EXPECT_FALSE((*storage)->AddHead(HeadOf(1, "key-c")).ok());
  ASSERT_TRUE(Raw()->ExecScript(allow).ok());
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(1)}, &rotated).ok());
  ASSERT_TRUE((*storage)->AddHead(HeadOf(2, "key-c")).ok());
  EXPECT_THAT(Heads(**storage), ElementsAre("1:key-a:sig-1", "2:key-b:sig-2", "2:key-c:sig-2"));
}

// A head whose key number names no key (audit_signing_keys edited) reads
// with the key id "", which no key has: the log's start-up refuses it
// (tamper_test), never serves it as signed.
TEST_F(ChildIndexSchemaTest, AHeadWhoseKeyNumberNamesNoKeyReadsAsNoKeyId) {
  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  const v1::SignedTreeHead head = HeadOf(1, "key-a");
  ASSERT_TRUE((*storage)->Append(std::vector<NewEntry>{Entry(0)}, &head).ok());
  auto db = Raw();
#ifdef KINEX_CHILD_INDEX_POSTGRES
  ASSERT_TRUE(db->ExecScript("ALTER TABLE audit_signing_keys DISABLE TRIGGER USER").ok());
#else
  ASSERT_TRUE(db->ExecScript("DROP TRIGGER audit_signing_keys_no_delete").ok());
#endif
  ASSERT_TRUE(db->ExecScript("DELETE FROM audit_signing_keys").ok());
  EXPECT_THAT(Heads(**storage), ElementsAre("1::sig-1"));
}

// A leaf whose set lists a child number no pseudonym has (audit_children
// edited, or a set made up) reads as the pseudonym "" for that number, and
// a leaf whose set is not a members text as the log writes it reads as "":
// rows no leaf names, which the log's index check reports against the leaf
// (chain_index_test).
TEST_F(ChildIndexSchemaTest, AnIndexRowOfAnUnnumberedChildReadsAsNoPseudonym) {
  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  ASSERT_TRUE(
      (*storage)->Append(std::vector<NewEntry>{Entry(0), Entry(1), Entry(2)}, nullptr).ok());
  auto db = Raw();
#ifdef KINEX_CHILD_INDEX_POSTGRES
  ASSERT_TRUE(db->ExecScript("ALTER TABLE audit_entry_child_sets DISABLE TRIGGER USER").ok());
#else
  ASSERT_TRUE(db->ExecScript("DROP TRIGGER audit_entry_child_sets_no_update").ok());
#endif
  // Sets 1-3 are p0-p2's (children 1-3).
  ASSERT_TRUE(db->ExecScript("INSERT INTO audit_child_sets (members) VALUES ('2,77');"
                             "INSERT INTO audit_child_sets (members) VALUES ('3,2');"
                             "UPDATE audit_entry_child_sets SET set_id = 4 WHERE leaf_index = 1;"
                             "UPDATE audit_entry_child_sets SET set_id = 5 WHERE leaf_index = 2;")
                  .ok());
  EXPECT_THAT(IndexRows(**storage, 3), ElementsAre("0:p0", "1:", "1:p1", "2:"));
}

// Entries naming the same children in any order, or one of them twice,
// share one set: its members the children's numbers ascending, a member row
// each. A set stored by an earlier batch is found again, also by a storage
// opened afresh (nothing cached), not numbered a second time.
TEST_F(ChildIndexSchemaTest, EntriesNamingTheSameChildrenShareOneSet) {
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2)};
    batch[0].child_pseudonyms = {"bb", "aa"};
    batch[1].child_pseudonyms = {"aa", "bb", "aa"};
    batch[2].child_pseudonyms = {"cc"};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
  }
  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::vector<NewEntry> later = {Entry(3), Entry(4)};
  later[0].child_pseudonyms = {"bb", "aa"};
  later[1].child_pseudonyms = {"cc", "aa"};
  ASSERT_TRUE((*storage)->Append(later, nullptr).ok());

  // Children numbered in the first batch's sorted order: aa 1, bb 2, cc 3.
  EXPECT_THAT(Rows("SELECT set_id, members FROM audit_child_sets ORDER BY 1"),
              ElementsAre("1=1,2", "2=3", "3=1,3"));
  EXPECT_THAT(Rows("SELECT set_id, CAST(child_id AS TEXT) FROM audit_child_set_members "
                   "ORDER BY 1, 2"),
              ElementsAre("1=1", "1=2", "2=3", "3=1", "3=3"));
  EXPECT_THAT(Rows("SELECT leaf_index, CAST(set_id AS TEXT) FROM audit_entry_child_sets "
                   "ORDER BY 1"),
              ElementsAre("0=1", "1=1", "2=2", "3=1", "4=3"));
  EXPECT_THAT(IndexRows(**storage, 5),
              ElementsAre("0:aa", "0:bb", "1:aa", "1:bb", "2:cc", "3:aa", "3:bb", "4:aa", "4:cc"));
  EXPECT_THAT(Leaves(**storage, "aa"), ElementsAre(0, 1, 3, 4));
  EXPECT_THAT(Leaves(**storage, "cc"), ElementsAre(2, 4));
}

// A version-9 store: leaves naming the same set of children in any order
// share one set; sets are numbered in the order first stored (leaf 0's
// first), each with its children ascending; a leaf naming no child has no
// row.
TEST_F(ChildIndexSchemaTest, AVersion9StoreGroupsItsIndexRowsIntoSets) {
  std::vector<std::string> before;
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2), Entry(3), Entry(4)};
    batch[0].child_pseudonyms = {"p2", "p0"};
    batch[1].child_pseudonyms = {"p0"};
    batch[2].child_pseudonyms = {"q", "p0", "p1"};
    batch[3].child_pseudonyms = {"p0", "q", "p1"};
    batch[4].child_pseudonyms = {};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
    before = IndexRows(**storage, 5);
  }
  EXPECT_THAT(before,
              ElementsAre("0:p0", "0:p2", "1:p0", "2:p0", "2:p1", "2:q", "3:p0", "3:p1", "3:q"));
  BackToVersion9();
  {
    // Version 9's rows, as the step finds them (children numbered in the
    // batch's sorted order: p0 1, p1 2, p2 3, q 4).
    auto old_rows =
        Raw()->Query("SELECT leaf_index, child_id FROM audit_child_entries ORDER BY 1, 2");
    ASSERT_TRUE(old_rows.ok()) << old_rows.status();
    std::vector<std::string> rows;
    for (const sql::Row& r : *old_rows) rows.push_back(absl::StrCat(r.Int(0), ":", r.Int(1)));
    EXPECT_THAT(rows, ElementsAre("0:1", "0:3", "1:1", "2:1", "2:2", "2:4", "3:1", "3:2", "3:4"));
  }

  auto storage = OpenStorage();
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(IndexRows(**storage, 5), before);
  EXPECT_THAT(Leaves(**storage, "p0"), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Leaves(**storage, "q"), ElementsAre(2, 3));
  EXPECT_THAT(Leaves(**storage, "p2"), ElementsAre(0));
  // A known set is not numbered again; a new one is numbered next.
  std::vector<NewEntry> next = {Entry(5), Entry(6)};
  next[0].child_pseudonyms = {"p1", "q", "p0"};
  next[1].child_pseudonyms = {"p1"};
  ASSERT_TRUE((*storage)->Append(next, nullptr).ok());
  EXPECT_THAT(Leaves(**storage, "p1"), ElementsAre(2, 3, 5, 6));
  EXPECT_THAT(Leaves(**storage, "p0"), ElementsAre(0, 1, 2, 3, 5));

  auto db = Raw();
  EXPECT_EQ(*sql::SchemaVersion(*db, "audit"), SqlLogStorage::kSchemaVersion);
  EXPECT_THAT(Rows("SELECT set_id, members FROM audit_child_sets ORDER BY 1"),
              ElementsAre("1=1,3", "2=1", "3=1,2,4", "4=2"));
  EXPECT_THAT(Rows("SELECT leaf_index, CAST(set_id AS TEXT) FROM audit_entry_child_sets "
                   "ORDER BY 1"),
              ElementsAre("0=1", "1=2", "2=3", "3=3", "5=3", "6=4"));
  EXPECT_THAT(Rows("SELECT set_id, CAST(child_id AS TEXT) FROM audit_child_set_members "
                   "ORDER BY 1, 2"),
              ElementsAre("1=1", "1=3", "2=1", "3=1", "3=2", "3=4", "4=2"));
  // Version 9's table is gone; the new tables have their triggers.
  EXPECT_FALSE(db->Query("SELECT 1 FROM audit_child_entries").ok());
  EXPECT_FALSE(db->Exec("UPDATE audit_child_sets SET members = '1'").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_child_set_members").ok());
  EXPECT_FALSE(db->Exec("DELETE FROM audit_entry_child_sets").ok());
  // And the store opens again: each open checks the sets' member rows.
  storage->reset();
  auto reopened = OpenStorage();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_THAT(Leaves(**reopened, "p1"), ElementsAre(2, 3, 5, 6));
}

#ifndef KINEX_CHILD_INDEX_POSTGRES
// A SQLite store from before schema versions (tables entries,
// entry_children, idempotency_keys, heads) is adopted by renaming its tables
// and then migrated, with every row kept and the append-only triggers back
// under the new names.
TEST_F(ChildIndexSchemaTest, AStoreFromBeforeSchemaVersionsIsAdopted) {
  {
    auto storage = OpenStorage();
    ASSERT_TRUE(storage.ok()) << storage.status();
    std::vector<NewEntry> batch = {Entry(0), Entry(1), Entry(2)};
    ASSERT_TRUE((*storage)->Append(batch, nullptr).ok());
  }
  {
    // Back to the layout SQLite stores had before schema versions.
    BackToVersion9();
    BackToVersion8();
    BackToVersion7();
    BackToVersion4();
    auto db = Raw();
    std::string script = "DROP TABLE schema_version;";
    for (const char* t : {"entries", "idempotency_keys", "heads"}) {
      absl::StrAppend(&script, "DROP TRIGGER audit_", t, "_no_update; DROP TRIGGER audit_", t,
                      "_no_delete;");
    }
    for (const char* t : {"entries", "entry_children", "idempotency_keys", "heads"}) {
      absl::StrAppend(&script, "ALTER TABLE audit_", t, " RENAME TO ", t, "; CREATE TRIGGER ", t,
                      "_no_delete BEFORE DELETE ON ", t,
                      " BEGIN SELECT RAISE(ABORT, 'append-only'); END;");
    }
    absl::StrAppend(&script,
                    "DROP INDEX audit_entry_children_by_leaf; CREATE INDEX "
                    "entry_children_by_leaf ON entry_children (leaf_index);");
    ASSERT_TRUE(db->ExecScript(script).ok());
  }
  auto storage = OpenStorage();
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
              StatusIs(absl::StatusCode::kAborted));
}
#endif

}  // namespace
}  // namespace kinex::audit
