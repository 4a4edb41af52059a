#include "services/audit/sqlite_log_storage.h"

#include <sqlite3.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS entries (
  leaf_index   INTEGER PRIMARY KEY,
  leaf_hash    BLOB NOT NULL,
  leaf_data    BLOB NOT NULL,
  time_micros  INTEGER NOT NULL,
  agency_kind  INTEGER NOT NULL,
  agency_code  TEXT NOT NULL,
  actor        TEXT NOT NULL,
  purpose      INTEGER NOT NULL,
  decision     INTEGER NOT NULL,
  break_glass  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entry_children (
  pseudonym  TEXT NOT NULL,
  leaf_index INTEGER NOT NULL,
  PRIMARY KEY (pseudonym, leaf_index)
) WITHOUT ROWID;
-- Leaf indices only grow, so this index is appended at its right edge.
CREATE INDEX IF NOT EXISTS entry_children_by_leaf ON entry_children (leaf_index);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key        TEXT PRIMARY KEY,
  leaf_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  tree_size  INTEGER NOT NULL,
  root_hash  BLOB NOT NULL,
  ts_seconds INTEGER NOT NULL,
  ts_nanos   INTEGER NOT NULL,
  key_id     TEXT NOT NULL,
  signature  BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entry_children_no_update BEFORE UPDATE ON entry_children
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entry_children_no_delete BEFORE DELETE ON entry_children
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS idempotency_keys_no_update BEFORE UPDATE ON idempotency_keys
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS idempotency_keys_no_delete BEFORE DELETE ON idempotency_keys
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS heads_no_update BEFORE UPDATE ON heads
  BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
CREATE TRIGGER IF NOT EXISTS heads_no_delete BEFORE DELETE ON heads
  BEGIN SELECT RAISE(ABORT, 'signed tree heads are append-only'); END;
)sql";

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("audit store: ", what, ": ",
                   db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

// A prepared statement, finalised on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, absl::string_view sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()),
                             &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  absl::Status status(absl::string_view what) const {
    return rc_ == SQLITE_OK ? absl::OkStatus() : SqlError(db_, what);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, absl::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const void* data, size_t n) {
    sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n), SQLITE_TRANSIENT);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("audit store: ", err != nullptr ? err : "error"));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenDb(const std::string& path, bool synchronous_full,
                                bool create) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "audit store ", path, ": cannot open: ",
        db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return s;
  }
  sqlite3_busy_timeout(db, 10000);
  // A moderate page cache and fewer checkpoints: each commit then writes
  // little more than the new rows' pages (the fsync is the cost that
  // matters; group commit amortises it). The cache is per connection (the
  // writer and each pooled reader): 8 MiB keeps resident memory bounded as
  // the log grows — a soak with 64 MiB per connection grew RSS by 69%.
  absl::Status s = Exec(db,
                        "PRAGMA journal_mode=WAL; PRAGMA cache_size=-8192; "
                        "PRAGMA wal_autocheckpoint=8192;");
  if (s.ok()) {
    s = Exec(db, synchronous_full ? "PRAGMA synchronous=FULL;"
                                  : "PRAGMA synchronous=NORMAL;");
  }
  if (!s.ok()) {
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat(path, ": ", s.message()));
  }
  return db;
}

SignedTreeHead HeadFromRow(Stmt& q) {
  SignedTreeHead h;
  h.set_tree_size(static_cast<uint64_t>(q.Int(0)));
  h.set_root_hash(q.Blob(1));
  h.mutable_timestamp()->set_seconds(q.Int(2));
  h.mutable_timestamp()->set_nanos(static_cast<int32_t>(q.Int(3)));
  h.set_key_id(q.Blob(4));
  h.set_signature(q.Blob(5));
  return h;
}

absl::StatusOr<StoredEntry> EntryFromRow(Stmt& q) {
  StoredEntry e;
  e.leaf_index = static_cast<uint64_t>(q.Int(0));
  const std::string hash = q.Blob(1);
  if (hash.size() != kHashSize) {
    // A stored hash of the wrong size is corruption; report it at its index.
    return absl::DataLossError(absl::StrCat(
        "entry ", e.leaf_index, ": stored leaf hash is ", hash.size(),
        " bytes, not ", kHashSize));
  }
  std::memcpy(e.leaf_hash.data(), hash.data(), kHashSize);
  e.leaf_data = q.Blob(2);
  return e;
}

}  // namespace

// Returns a reader connection to the pool when it goes out of scope.
class SqliteLogStorage::Reader {
 public:
  Reader(SqliteLogStorage* owner, sqlite3* db) : owner_(owner), db_(db) {}
  ~Reader() { owner_->ReleaseReader(db_); }
  sqlite3* db() const { return db_; }

 private:
  SqliteLogStorage* owner_;
  sqlite3* db_;
};

absl::StatusOr<std::unique_ptr<SqliteLogStorage>> SqliteLogStorage::Open(
    Options options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("audit store: sqlite path is empty");
  }
  std::unique_ptr<SqliteLogStorage> storage(
      new SqliteLogStorage(std::move(options)));
  KINEX_RETURN_IF_ERROR(storage->Init());
  return storage;
}

absl::Status SqliteLogStorage::Init() {
  absl::MutexLock lock(&write_mu_);
  KINEX_ASSIGN_OR_RETURN(writer_, OpenDb(options_.path, options_.synchronous_full,
                                         /*create=*/true));
  absl::Status s = Exec(writer_, kSchema);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(options_.path, ": ", s.message()));
  }
  return absl::OkStatus();
}

SqliteLogStorage::~SqliteLogStorage() {
  {
    absl::MutexLock lock(&readers_mu_);
    for (sqlite3* db : idle_readers_) sqlite3_close(db);
    idle_readers_.clear();
  }
  absl::MutexLock lock(&write_mu_);
  sqlite3_close(writer_);
}

absl::StatusOr<sqlite3*> SqliteLogStorage::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      sqlite3* db = idle_readers_.back();
      idle_readers_.pop_back();
      return db;
    }
  }
  return OpenDb(options_.path, options_.synchronous_full, /*create=*/false);
}

void SqliteLogStorage::ReleaseReader(sqlite3* db) {
  absl::MutexLock lock(&readers_mu_);
  if (idle_readers_.size() < 8) {
    idle_readers_.push_back(db);
  } else {
    sqlite3_close(db);
  }
}

absl::Status SqliteLogStorage::InsertHead(sqlite3* db, const SignedTreeHead& head) {
  Stmt ins(db,
           "INSERT INTO heads (tree_size, root_hash, ts_seconds, ts_nanos, "
           "key_id, signature) VALUES (?, ?, ?, ?, ?, ?)");
  KINEX_RETURN_IF_ERROR(ins.status("prepare head insert"));
  ins.Bind(1, static_cast<int64_t>(head.tree_size()));
  ins.BindBlob(2, head.root_hash().data(), head.root_hash().size());
  ins.Bind(3, head.timestamp().seconds());
  ins.Bind(4, static_cast<int64_t>(head.timestamp().nanos()));
  ins.Bind(5, head.key_id());
  ins.BindBlob(6, head.signature().data(), head.signature().size());
  if (ins.Step() != SQLITE_DONE) return SqlError(db, "insert head");
  return absl::OkStatus();
}

absl::Status SqliteLogStorage::Append(absl::Span<const NewEntry> entries,
                                      const SignedTreeHead* head) {
  absl::MutexLock lock(&write_mu_);
  KINEX_RETURN_IF_ERROR(Exec(writer_, "BEGIN IMMEDIATE"));
  auto body = [&]() -> absl::Status {
    Stmt size_q(writer_, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM entries");
    KINEX_RETURN_IF_ERROR(size_q.status("prepare size"));
    if (size_q.Step() != SQLITE_ROW) return SqlError(writer_, "read size");
    const uint64_t size = static_cast<uint64_t>(size_q.Int(0));
    if (!entries.empty() && entries[0].entry.leaf_index != size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "append at leaf index ", entries[0].entry.leaf_index,
          " but the stored log size is ", size));
    }
    Stmt ins(writer_,
             "INSERT INTO entries (leaf_index, leaf_hash, leaf_data, "
             "time_micros, agency_kind, agency_code, actor, purpose, decision, "
             "break_glass) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    KINEX_RETURN_IF_ERROR(ins.status("prepare insert"));
    Stmt child(writer_,
               "INSERT INTO entry_children (pseudonym, leaf_index) VALUES (?, ?)");
    KINEX_RETURN_IF_ERROR(child.status("prepare child insert"));
    Stmt key(writer_,
             "INSERT INTO idempotency_keys (key, leaf_index) VALUES (?, ?)");
    KINEX_RETURN_IF_ERROR(key.status("prepare idempotency key insert"));
    for (size_t i = 0; i < entries.size(); ++i) {
      const NewEntry& e = entries[i];
      if (e.entry.leaf_index != size + i) {
        return absl::InvalidArgumentError("batch leaf indices are not contiguous");
      }
      ins.Bind(1, static_cast<int64_t>(e.entry.leaf_index));
      ins.BindBlob(2, e.entry.leaf_hash.data(), kHashSize);
      ins.BindBlob(3, e.entry.leaf_data.data(), e.entry.leaf_data.size());
      ins.Bind(4, e.time_micros);
      ins.Bind(5, static_cast<int64_t>(e.agency_kind));
      ins.Bind(6, e.agency_code);
      ins.Bind(7, e.actor);
      ins.Bind(8, static_cast<int64_t>(e.purpose));
      ins.Bind(9, static_cast<int64_t>(e.decision));
      ins.Bind(10, static_cast<int64_t>(e.break_glass ? 1 : 0));
      if (ins.Step() != SQLITE_DONE) return SqlError(writer_, "insert entry");
      ins.Reset();
      for (const std::string& p : e.child_pseudonyms) {
        child.Bind(1, p);
        child.Bind(2, static_cast<int64_t>(e.entry.leaf_index));
        if (child.Step() != SQLITE_DONE) {
          return SqlError(writer_, "insert child pseudonym");
        }
        child.Reset();
      }
      if (!e.idempotency_key.empty()) {
        key.Bind(1, e.idempotency_key);
        key.Bind(2, static_cast<int64_t>(e.entry.leaf_index));
        if (key.Step() != SQLITE_DONE) {
          return SqlError(writer_, "insert idempotency key");
        }
        key.Reset();
      }
    }
    if (head != nullptr) KINEX_RETURN_IF_ERROR(InsertHead(writer_, *head));
    return absl::OkStatus();
  };
  absl::Status s = body();
  if (!s.ok()) {
    Exec(writer_, "ROLLBACK").IgnoreError();
    return s;
  }
  s = Exec(writer_, "COMMIT");
  if (!s.ok()) Exec(writer_, "ROLLBACK").IgnoreError();
  return s;
}

absl::Status SqliteLogStorage::AddHead(const SignedTreeHead& head) {
  absl::MutexLock lock(&write_mu_);
  return InsertHead(writer_, head);
}

absl::StatusOr<uint64_t> SqliteLogStorage::Size() {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db, "SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM entries");
  KINEX_RETURN_IF_ERROR(q.status("prepare size"));
  if (q.Step() != SQLITE_ROW) return SqlError(db, "read size");
  return static_cast<uint64_t>(q.Int(0));
}

absl::StatusOr<std::optional<SignedTreeHead>> SqliteLogStorage::LatestHead() {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db,
         "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
         "FROM heads ORDER BY id DESC LIMIT 1");
  KINEX_RETURN_IF_ERROR(q.status("prepare latest head"));
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqlError(db, "read latest head");
  return HeadFromRow(q);
}

absl::StatusOr<std::vector<SignedTreeHead>> SqliteLogStorage::ListHeadsBetween(
    uint64_t min_size, uint64_t max_size) {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db,
         "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
         "FROM heads WHERE tree_size > ? AND tree_size <= ? ORDER BY id");
  KINEX_RETURN_IF_ERROR(q.status("prepare heads"));
  q.Bind(1, static_cast<int64_t>(std::min<uint64_t>(min_size, INT64_MAX)));
  q.Bind(2, static_cast<int64_t>(std::min<uint64_t>(max_size, INT64_MAX)));
  std::vector<SignedTreeHead> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(HeadFromRow(q));
  if (rc != SQLITE_DONE) return SqlError(db, "read heads");
  return out;
}

absl::StatusOr<std::vector<SignedTreeHead>> SqliteLogStorage::ListHeads() {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db,
         "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
         "FROM heads ORDER BY id");
  KINEX_RETURN_IF_ERROR(q.status("prepare heads"));
  std::vector<SignedTreeHead> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(HeadFromRow(q));
  if (rc != SQLITE_DONE) return SqlError(db, "read heads");
  return out;
}

absl::Status SqliteLogStorage::ReadEntries(
    uint64_t begin, uint64_t end,
    const std::function<absl::Status(const StoredEntry&)>& fn) {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db,
         "SELECT leaf_index, leaf_hash, leaf_data FROM entries "
         "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index");
  KINEX_RETURN_IF_ERROR(q.status("prepare read"));
  q.Bind(1, static_cast<int64_t>(std::min<uint64_t>(begin, INT64_MAX)));
  q.Bind(2, static_cast<int64_t>(std::min<uint64_t>(end, INT64_MAX)));
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(q));
    KINEX_RETURN_IF_ERROR(fn(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db, "read entries");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredEntry>> SqliteLogStorage::Query(
    const QueryFilter& filter, size_t limit) {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  std::vector<std::string> where = {"e.leaf_index >= ?1", "e.leaf_index < ?2"};
  std::string from = "entries e";
  if (filter.child_pseudonym.has_value()) {
    from = "entry_children c JOIN entries e ON e.leaf_index = c.leaf_index";
    where.push_back("c.pseudonym = ?3");
  }
  if (filter.agency_kind != 0) where.push_back("e.agency_kind = ?4");
  if (!filter.agency_code.empty()) where.push_back("e.agency_code = ?5");
  if (!filter.actor.empty()) where.push_back("e.actor = ?6");
  if (filter.purpose != 0) where.push_back("e.purpose = ?7");
  if (filter.decision != 0) where.push_back("e.decision = ?8");
  if (filter.break_glass_only) where.push_back("e.break_glass = 1");
  const std::string sql = absl::StrCat(
      "SELECT e.leaf_index, e.leaf_hash, e.leaf_data FROM ", from, " WHERE ",
      absl::StrJoin(where, " AND "), " ORDER BY e.leaf_index LIMIT ?9");
  Stmt q(db, sql);
  KINEX_RETURN_IF_ERROR(q.status("prepare query"));
  q.Bind(1, static_cast<int64_t>(std::min<uint64_t>(filter.begin_index, INT64_MAX)));
  q.Bind(2, static_cast<int64_t>(std::min<uint64_t>(filter.end_index, INT64_MAX)));
  if (filter.child_pseudonym.has_value()) q.Bind(3, *filter.child_pseudonym);
  if (filter.agency_kind != 0) q.Bind(4, static_cast<int64_t>(filter.agency_kind));
  if (!filter.agency_code.empty()) q.Bind(5, filter.agency_code);
  if (!filter.actor.empty()) q.Bind(6, filter.actor);
  if (filter.purpose != 0) q.Bind(7, static_cast<int64_t>(filter.purpose));
  if (filter.decision != 0) q.Bind(8, static_cast<int64_t>(filter.decision));
  q.Bind(9, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<StoredEntry> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(q));
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db, "query entries");
  return out;
}

absl::Status SqliteLogStorage::ReadChildIndex(
    uint64_t begin, uint64_t end,
    const std::function<absl::Status(const IndexRow&)>& fn) {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db,
         "SELECT leaf_index, pseudonym FROM entry_children "
         "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index, pseudonym");
  KINEX_RETURN_IF_ERROR(q.status("prepare index read"));
  q.Bind(1, static_cast<int64_t>(std::min<uint64_t>(begin, INT64_MAX)));
  q.Bind(2, static_cast<int64_t>(std::min<uint64_t>(end, INT64_MAX)));
  int rc;
  IndexRow row;
  while ((rc = q.Step()) == SQLITE_ROW) {
    row.leaf_index = static_cast<uint64_t>(q.Int(0));
    row.pseudonym = q.Blob(1);
    KINEX_RETURN_IF_ERROR(fn(row));
  }
  if (rc != SQLITE_DONE) return SqlError(db, "read index");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> SqliteLogStorage::LookupIdempotencyKey(
    const std::string& key) {
  KINEX_ASSIGN_OR_RETURN(sqlite3 * db, AcquireReader());
  Reader reader(this, db);
  Stmt q(db, "SELECT leaf_index FROM idempotency_keys WHERE key = ?");
  KINEX_RETURN_IF_ERROR(q.status("prepare idempotency key lookup"));
  q.Bind(1, key);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqlError(db, "look up idempotency key");
  return static_cast<uint64_t>(q.Int(0));
}

}  // namespace kinex::audit
