#include "services/audit/postgres_log_storage.h"

#include <libpq-fe.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/status_macros.h"

namespace kinex::audit {
namespace {

using ::kinex::audit::v1::SignedTreeHead;

// Tables carry an audit_ prefix so the audit log can share a database with
// the other services.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_entries (
  leaf_index   BIGINT PRIMARY KEY,
  leaf_hash    BYTEA NOT NULL,
  leaf_data    BYTEA NOT NULL,
  time_micros  BIGINT NOT NULL,
  agency_kind  BIGINT NOT NULL,
  agency_code  TEXT NOT NULL,
  actor        TEXT NOT NULL,
  purpose      BIGINT NOT NULL,
  decision     BIGINT NOT NULL,
  break_glass  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_entry_children (
  pseudonym  TEXT NOT NULL,
  leaf_index BIGINT NOT NULL,
  PRIMARY KEY (pseudonym, leaf_index)
);
CREATE INDEX IF NOT EXISTS audit_entry_children_by_leaf
  ON audit_entry_children (leaf_index);
CREATE TABLE IF NOT EXISTS audit_idempotency_keys (
  key        TEXT PRIMARY KEY,
  leaf_index BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_heads (
  id         BIGSERIAL PRIMARY KEY,
  tree_size  BIGINT NOT NULL,
  root_hash  BYTEA NOT NULL,
  ts_seconds BIGINT NOT NULL,
  ts_nanos   BIGINT NOT NULL,
  key_id     TEXT NOT NULL,
  signature  BYTEA NOT NULL
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER audit_entries_append_only
  BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_entry_children_append_only
  BEFORE UPDATE OR DELETE ON audit_entry_children
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_idempotency_keys_append_only
  BEFORE UPDATE OR DELETE ON audit_idempotency_keys
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_heads_append_only
  BEFORE UPDATE OR DELETE ON audit_heads
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
)sql";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::Status PgError(PGconn* conn, absl::string_view what) {
  std::string msg = conn != nullptr ? PQerrorMessage(conn) : "no connection";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return absl::UnavailableError(absl::StrCat("audit store: ", what, ": ", msg));
}

// Query parameters: integers and text as text, bytes as binary.
class Params {
 public:
  std::string Int(int64_t v) { return Add(absl::StrCat(v), 0); }
  std::string Text(absl::string_view v) { return Add(std::string(v), 0); }
  std::string Bytes(absl::string_view v) { return Add(std::string(v), 1); }
  int size() const { return static_cast<int>(values_.size()); }

  const char* const* values() {
    ptrs_.clear();
    for (const std::string& v : values_) ptrs_.push_back(v.data());
    return ptrs_.data();
  }
  const int* lengths() {
    lengths_.clear();
    for (const std::string& v : values_) lengths_.push_back(static_cast<int>(v.size()));
    return lengths_.data();
  }
  const int* formats() const { return formats_.data(); }

 private:
  std::string Add(std::string v, int format) {
    values_.push_back(std::move(v));
    formats_.push_back(format);
    return absl::StrCat("$", values_.size());
  }
  std::vector<std::string> values_;
  std::vector<int> formats_;
  std::vector<const char*> ptrs_;
  std::vector<int> lengths_;
};

// Runs `sql` with `params`, binary results. Checks for `expected` status.
absl::StatusOr<Result> Run(PGconn* conn, const std::string& sql, Params& params,
                           ExecStatusType expected, absl::string_view what) {
  Result r(PQexecParams(conn, sql.c_str(), params.size(), nullptr,
                        params.values(), params.lengths(), params.formats(),
                        /*resultFormat=*/1));
  if (r == nullptr || PQresultStatus(r.get()) != expected) {
    return PgError(conn, what);
  }
  return r;
}

absl::Status Exec(PGconn* conn, const char* sql, absl::string_view what) {
  Result r(PQexec(conn, sql));
  if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return PgError(conn, what);
  }
  return absl::OkStatus();
}

std::string Bytes(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

int64_t Int8(const PGresult* r, int row, int col) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col));
  if (PQgetlength(r, row, col) != 8) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

SignedTreeHead HeadFromRow(const PGresult* r, int row) {
  SignedTreeHead h;
  h.set_tree_size(static_cast<uint64_t>(Int8(r, row, 0)));
  h.set_root_hash(Bytes(r, row, 1));
  h.mutable_timestamp()->set_seconds(Int8(r, row, 2));
  h.mutable_timestamp()->set_nanos(static_cast<int32_t>(Int8(r, row, 3)));
  h.set_key_id(Bytes(r, row, 4));
  h.set_signature(Bytes(r, row, 5));
  return h;
}

absl::StatusOr<StoredEntry> EntryFromRow(const PGresult* r, int row) {
  StoredEntry e;
  e.leaf_index = static_cast<uint64_t>(Int8(r, row, 0));
  const std::string hash = Bytes(r, row, 1);
  if (hash.size() != kHashSize) {
    return absl::DataLossError(absl::StrCat(
        "leaf index ", e.leaf_index, ": stored leaf hash is ", hash.size(),
        " bytes, not ", kHashSize));
  }
  std::memcpy(e.leaf_hash.data(), hash.data(), kHashSize);
  e.leaf_data = Bytes(r, row, 2);
  return e;
}

absl::StatusOr<PGconn*> Connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    absl::Status s = PgError(conn, "cannot connect to PostgreSQL");
    PQfinish(conn);
    return s;
  }
  return conn;
}

int64_t Clamp(uint64_t v) {
  return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX));
}

absl::Status InsertHead(PGconn* conn, const SignedTreeHead& head) {
  Params p;
  const std::string sql = absl::StrCat(
      "INSERT INTO audit_heads (tree_size, root_hash, ts_seconds, ts_nanos, "
      "key_id, signature) VALUES (",
      p.Int(static_cast<int64_t>(head.tree_size())), ", ",
      p.Bytes(head.root_hash()), ", ", p.Int(head.timestamp().seconds()), ", ",
      p.Int(head.timestamp().nanos()), ", ", p.Text(head.key_id()), ", ",
      p.Bytes(head.signature()), ")");
  return Run(conn, sql, p, PGRES_COMMAND_OK, "insert head").status();
}

}  // namespace

class PostgresLogStorage::Reader {
 public:
  Reader(PostgresLogStorage* owner, PGconn* conn) : owner_(owner), conn_(conn) {}
  ~Reader() { owner_->ReleaseReader(conn_); }
  PGconn* conn() const { return conn_; }

 private:
  PostgresLogStorage* owner_;
  PGconn* conn_;
};

absl::StatusOr<std::unique_ptr<PostgresLogStorage>> PostgresLogStorage::Open(
    Options options) {
  if (options.conninfo.empty()) {
    return absl::InvalidArgumentError("audit store: postgres conninfo is empty");
  }
  std::unique_ptr<PostgresLogStorage> storage(
      new PostgresLogStorage(std::move(options)));
  absl::MutexLock lock(&storage->write_mu_);
  KINEX_RETURN_IF_ERROR(storage->EnsureWriter());
  {
    // Quiet the NOTICEs "relation already exists, skipping".
    Result r(PQexec(storage->writer_, "SET client_min_messages = warning"));
  }
  KINEX_RETURN_IF_ERROR(Exec(storage->writer_, kSchema, "create schema"));
  return storage;
}

PostgresLogStorage::~PostgresLogStorage() {
  {
    absl::MutexLock lock(&readers_mu_);
    for (PGconn* c : idle_readers_) PQfinish(c);
    idle_readers_.clear();
  }
  absl::MutexLock lock(&write_mu_);
  if (writer_ != nullptr) PQfinish(writer_);
}

absl::Status PostgresLogStorage::EnsureWriter() {
  if (writer_ != nullptr && PQstatus(writer_) == CONNECTION_OK) {
    return absl::OkStatus();
  }
  if (writer_ != nullptr) {
    PQreset(writer_);
    if (PQstatus(writer_) == CONNECTION_OK) return absl::OkStatus();
    PQfinish(writer_);
    writer_ = nullptr;
  }
  KINEX_ASSIGN_OR_RETURN(writer_, Connect(options_.conninfo));
  return absl::OkStatus();
}

absl::StatusOr<PGconn*> PostgresLogStorage::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    while (!idle_readers_.empty()) {
      PGconn* c = idle_readers_.back();
      idle_readers_.pop_back();
      if (PQstatus(c) == CONNECTION_OK) return c;
      PQfinish(c);
    }
  }
  return Connect(options_.conninfo);
}

void PostgresLogStorage::ReleaseReader(PGconn* conn) {
  absl::MutexLock lock(&readers_mu_);
  if (idle_readers_.size() < 8 && PQstatus(conn) == CONNECTION_OK) {
    idle_readers_.push_back(conn);
  } else {
    PQfinish(conn);
  }
}

absl::Status PostgresLogStorage::Append(absl::Span<const NewEntry> entries,
                                        const SignedTreeHead* head) {
  absl::MutexLock lock(&write_mu_);
  KINEX_RETURN_IF_ERROR(EnsureWriter());
  PGconn* conn = writer_;
  KINEX_RETURN_IF_ERROR(Exec(conn, "BEGIN", "begin"));
  auto body = [&]() -> absl::Status {
    KINEX_RETURN_IF_ERROR(Exec(conn, "LOCK TABLE audit_entries IN EXCLUSIVE MODE",
                               "lock entries"));
    Params none;
    KINEX_ASSIGN_OR_RETURN(
        Result size_r,
        Run(conn, "SELECT COALESCE(MAX(leaf_index) + 1, 0)::BIGINT FROM audit_entries",
            none, PGRES_TUPLES_OK, "read size"));
    const uint64_t size = static_cast<uint64_t>(Int8(size_r.get(), 0, 0));
    if (!entries.empty() && entries[0].entry.leaf_index != size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "append at leaf index ", entries[0].entry.leaf_index,
          " but the stored log size is ", size));
    }
    constexpr size_t kRowsPerStatement = 1000;
    for (size_t start = 0; start < entries.size(); start += kRowsPerStatement) {
      const size_t stop = std::min(entries.size(), start + kRowsPerStatement);
      Params p;
      std::vector<std::string> rows;
      Params cp;
      std::vector<std::string> child_rows;
      Params kp;
      std::vector<std::string> key_rows;
      for (size_t i = start; i < stop; ++i) {
        const NewEntry& e = entries[i];
        if (e.entry.leaf_index != size + i) {
          return absl::InvalidArgumentError(
              "batch leaf indices are not contiguous");
        }
        const absl::string_view hash(
            reinterpret_cast<const char*>(e.entry.leaf_hash.data()), kHashSize);
        rows.push_back(absl::StrCat(
            "(", p.Int(static_cast<int64_t>(e.entry.leaf_index)), ", ",
            p.Bytes(hash), ", ", p.Bytes(e.entry.leaf_data), ", ",
            p.Int(e.time_micros), ", ", p.Int(e.agency_kind), ", ",
            p.Text(e.agency_code), ", ", p.Text(e.actor), ", ",
            p.Int(e.purpose), ", ", p.Int(e.decision), ", ",
            p.Int(e.break_glass ? 1 : 0), ")"));
        for (const std::string& pseudonym : e.child_pseudonyms) {
          child_rows.push_back(absl::StrCat(
              "(", cp.Text(pseudonym), ", ",
              cp.Int(static_cast<int64_t>(e.entry.leaf_index)), ")"));
        }
        if (!e.idempotency_key.empty()) {
          key_rows.push_back(absl::StrCat(
              "(", kp.Text(e.idempotency_key), ", ",
              kp.Int(static_cast<int64_t>(e.entry.leaf_index)), ")"));
        }
      }
      KINEX_RETURN_IF_ERROR(
          Run(conn,
              absl::StrCat("INSERT INTO audit_entries (leaf_index, leaf_hash, "
                           "leaf_data, time_micros, agency_kind, agency_code, "
                           "actor, purpose, decision, break_glass) VALUES ",
                           absl::StrJoin(rows, ", ")),
              p, PGRES_COMMAND_OK, "insert entries")
              .status());
      if (!child_rows.empty()) {
        KINEX_RETURN_IF_ERROR(
            Run(conn,
                absl::StrCat("INSERT INTO audit_entry_children (pseudonym, "
                             "leaf_index) VALUES ",
                             absl::StrJoin(child_rows, ", ")),
                cp, PGRES_COMMAND_OK, "insert child pseudonyms")
                .status());
      }
      if (!key_rows.empty()) {
        KINEX_RETURN_IF_ERROR(
            Run(conn,
                absl::StrCat("INSERT INTO audit_idempotency_keys (key, "
                             "leaf_index) VALUES ",
                             absl::StrJoin(key_rows, ", ")),
                kp, PGRES_COMMAND_OK, "insert idempotency keys")
                .status());
      }
    }
    if (head != nullptr) KINEX_RETURN_IF_ERROR(InsertHead(conn, *head));
    return absl::OkStatus();
  };
  absl::Status s = body();
  if (!s.ok()) {
    Exec(conn, "ROLLBACK", "rollback").IgnoreError();
    return s;
  }
  return Exec(conn, "COMMIT", "commit");
}

absl::Status PostgresLogStorage::AddHead(const SignedTreeHead& head) {
  absl::MutexLock lock(&write_mu_);
  KINEX_RETURN_IF_ERROR(EnsureWriter());
  return InsertHead(writer_, head);
}

absl::StatusOr<uint64_t> PostgresLogStorage::Size() {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params none;
  KINEX_ASSIGN_OR_RETURN(
      Result r,
      Run(conn, "SELECT COALESCE(MAX(leaf_index) + 1, 0)::BIGINT FROM audit_entries",
          none, PGRES_TUPLES_OK, "read size"));
  return static_cast<uint64_t>(Int8(r.get(), 0, 0));
}

absl::StatusOr<std::optional<SignedTreeHead>> PostgresLogStorage::LatestHead() {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params none;
  KINEX_ASSIGN_OR_RETURN(
      Result r,
      Run(conn,
          "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
          "FROM audit_heads ORDER BY id DESC LIMIT 1",
          none, PGRES_TUPLES_OK, "read latest head"));
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return HeadFromRow(r.get(), 0);
}

absl::StatusOr<std::vector<SignedTreeHead>> PostgresLogStorage::ListHeadsBetween(
    uint64_t min_size, uint64_t max_size) {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params p;
  const std::string sql = absl::StrCat(
      "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
      "FROM audit_heads WHERE tree_size > ",
      p.Int(Clamp(min_size)), " AND tree_size <= ", p.Int(Clamp(max_size)),
      " ORDER BY id");
  KINEX_ASSIGN_OR_RETURN(Result r, Run(conn, sql, p, PGRES_TUPLES_OK, "read heads"));
  std::vector<SignedTreeHead> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(HeadFromRow(r.get(), i));
  return out;
}

absl::StatusOr<std::vector<SignedTreeHead>> PostgresLogStorage::ListHeads() {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params none;
  KINEX_ASSIGN_OR_RETURN(
      Result r,
      Run(conn,
          "SELECT tree_size, root_hash, ts_seconds, ts_nanos, key_id, signature "
          "FROM audit_heads ORDER BY id",
          none, PGRES_TUPLES_OK, "read heads"));
  std::vector<SignedTreeHead> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(HeadFromRow(r.get(), i));
  return out;
}

absl::Status PostgresLogStorage::ReadEntries(
    uint64_t begin, uint64_t end,
    const std::function<absl::Status(const StoredEntry&)>& fn) {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  // Read in chunks so a million-entry log is never one result in memory.
  constexpr int64_t kChunk = 10000;
  int64_t next = Clamp(begin);
  const int64_t stop = Clamp(end);
  while (next < stop) {
    Params p;
    const std::string sql = absl::StrCat(
        "SELECT leaf_index, leaf_hash, leaf_data FROM audit_entries WHERE "
        "leaf_index >= ", p.Int(next), " AND leaf_index < ", p.Int(stop),
        " ORDER BY leaf_index LIMIT ", p.Int(kChunk));
    KINEX_ASSIGN_OR_RETURN(Result r,
                           Run(conn, sql, p, PGRES_TUPLES_OK, "read entries"));
    const int n = PQntuples(r.get());
    for (int i = 0; i < n; ++i) {
      KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(r.get(), i));
      next = static_cast<int64_t>(e.leaf_index) + 1;
      KINEX_RETURN_IF_ERROR(fn(e));
    }
    if (n < kChunk) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredEntry>> PostgresLogStorage::Query(
    const QueryFilter& filter, size_t limit) {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params p;
  std::vector<std::string> where = {
      absl::StrCat("e.leaf_index >= ", p.Int(Clamp(filter.begin_index))),
      absl::StrCat("e.leaf_index < ", p.Int(Clamp(filter.end_index)))};
  std::string from = "audit_entries e";
  if (filter.child_pseudonym.has_value()) {
    from = "audit_entry_children c JOIN audit_entries e ON e.leaf_index = c.leaf_index";
    where.push_back(absl::StrCat("c.pseudonym = ", p.Text(*filter.child_pseudonym)));
  }
  if (filter.agency_kind != 0) {
    where.push_back(absl::StrCat("e.agency_kind = ", p.Int(filter.agency_kind)));
  }
  if (!filter.agency_code.empty()) {
    where.push_back(absl::StrCat("e.agency_code = ", p.Text(filter.agency_code)));
  }
  if (!filter.actor.empty()) {
    where.push_back(absl::StrCat("e.actor = ", p.Text(filter.actor)));
  }
  if (filter.purpose != 0) {
    where.push_back(absl::StrCat("e.purpose = ", p.Int(filter.purpose)));
  }
  if (filter.decision != 0) {
    where.push_back(absl::StrCat("e.decision = ", p.Int(filter.decision)));
  }
  if (filter.break_glass_only) where.push_back("e.break_glass = 1");
  const std::string sql = absl::StrCat(
      "SELECT e.leaf_index, e.leaf_hash, e.leaf_data FROM ", from, " WHERE ",
      absl::StrJoin(where, " AND "), " ORDER BY e.leaf_index LIMIT ",
      p.Int(Clamp(limit)));
  KINEX_ASSIGN_OR_RETURN(Result r, Run(conn, sql, p, PGRES_TUPLES_OK, "query"));
  std::vector<StoredEntry> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    KINEX_ASSIGN_OR_RETURN(StoredEntry e, EntryFromRow(r.get(), i));
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status PostgresLogStorage::ReadChildIndex(
    uint64_t begin, uint64_t end,
    const std::function<absl::Status(const IndexRow&)>& fn) {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  // Read in chunks; a chunk that fills up is cut before its last leaf (whose
  // rows may continue in the next chunk), so every leaf's rows arrive whole.
  constexpr int64_t kChunk = 10000;
  int64_t next = Clamp(begin);
  const int64_t stop = Clamp(end);
  IndexRow row;
  while (next < stop) {
    Params p;
    const std::string sql = absl::StrCat(
        "SELECT leaf_index, pseudonym FROM audit_entry_children WHERE "
        "leaf_index >= ", p.Int(next), " AND leaf_index < ", p.Int(stop),
        " ORDER BY leaf_index, pseudonym LIMIT ", p.Int(kChunk));
    KINEX_ASSIGN_OR_RETURN(Result r,
                           Run(conn, sql, p, PGRES_TUPLES_OK, "read index"));
    const int n = PQntuples(r.get());
    const bool full = n == kChunk;
    const int64_t last = n > 0 ? Int8(r.get(), n - 1, 0) : stop;
    // A full chunk holding one leaf only cannot happen (at most 16 children
    // per event); guard anyway so the loop always advances.
    const bool cut = full && Int8(r.get(), 0, 0) != last;
    for (int i = 0; i < n; ++i) {
      row.leaf_index = static_cast<uint64_t>(Int8(r.get(), i, 0));
      if (cut && static_cast<int64_t>(row.leaf_index) == last) break;
      row.pseudonym = Bytes(r.get(), i, 1);
      KINEX_RETURN_IF_ERROR(fn(row));
    }
    if (!full) break;
    next = cut ? last : last + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> PostgresLogStorage::LookupIdempotencyKey(
    const std::string& key) {
  KINEX_ASSIGN_OR_RETURN(PGconn * conn, AcquireReader());
  Reader reader(this, conn);
  Params p;
  const std::string sql = absl::StrCat(
      "SELECT leaf_index FROM audit_idempotency_keys WHERE key = ", p.Text(key));
  KINEX_ASSIGN_OR_RETURN(Result r,
                         Run(conn, sql, p, PGRES_TUPLES_OK, "look up idempotency key"));
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return static_cast<uint64_t>(Int8(r.get(), 0, 0));
}

}  // namespace kinex::audit
