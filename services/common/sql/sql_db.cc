#include "services/common/sql/sql_db.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "services/common/error_reason.h"
#include "services/common/log.h"
#include "services/common/status_macros.h"

namespace kinex::sql {
namespace {

// `status` with `reason` and the dialect: every error this layer makes.
absl::Status Reasoned(absl::Status status, absl::string_view reason, Dialect dialect) {
  SetErrorReason(status, reason, {{"dialect", std::string(DialectName(dialect))}});
  return status;
}

const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

// $N -> ?N for SQLite (numbered parameters keep their positions).
std::string ToSqliteParams(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '$' && i + 1 < sql.size() &&
        absl::ascii_isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out.push_back('?');
    } else {
      out.push_back(sql[i]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- SQLite

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override {
    for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  absl::StatusOr<std::vector<Row>> Query(absl::string_view sql,
                                         const std::vector<Value>& params) override {
    std::vector<Row> rows;
    const std::function<absl::Status(const Row&)> collect = [&](const Row& row) {
      rows.push_back(row);
      return absl::OkStatus();
    };
    KINEX_RETURN_IF_ERROR(Run(sql, params, &collect));
    return rows;
  }

  absl::Status ForEach(absl::string_view sql, const std::vector<Value>& params,
                       const std::function<absl::Status(const Row&)>& fn) override {
    return Run(sql, params, &fn);
  }

  absl::StatusOr<int64_t> Exec(absl::string_view sql, const std::vector<Value>& params) override {
    KINEX_RETURN_IF_ERROR(Run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  absl::Status ExecExpandedScript(const std::string& script) override {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      absl::Status s = Error(rc, "schema");
      sqlite3_free(err);
      return s;
    }
    return absl::OkStatus();
  }

  // One cached statement (see Prepare) run once per row: the audit log
  // inserts every batch this way, so compiling it each time would cost more
  // than the rows.
  absl::Status BulkInsert(absl::string_view table, const std::vector<std::string>& columns,
                          const std::vector<std::vector<Value>>& rows) override {
    std::string sql =
        absl::StrCat("INSERT INTO ", table, " (", absl::StrJoin(columns, ", "), ") VALUES (");
    for (size_t i = 0; i < columns.size(); ++i) {
      absl::StrAppend(&sql, i ? ", " : "", "$", i + 1);
    }
    sql += ")";
    for (const auto& row : rows) {
      KINEX_RETURN_IF_ERROR(Run(sql, row, nullptr));
    }
    return absl::OkStatus();
  }

 protected:
  absl::Status Begin() override { return Run("BEGIN IMMEDIATE", {}, nullptr); }
  // Deferred: the first SELECT takes a read snapshot and no lock a writer
  // waits for.
  absl::Status BeginRead() override { return Run("BEGIN", {}, nullptr); }
  absl::Status Commit() override { return Run("COMMIT", {}, nullptr); }
  absl::Status Rollback() override { return Run("ROLLBACK", {}, nullptr); }

 private:
  absl::Status Error(int rc, absl::string_view what) const {
    const int primary = rc & 0xff;
    // sqlite3_errmsg names constraints and columns, never bound values.
    const std::string msg = absl::StrCat("sqlite ", what, ": ", sqlite3_errstr(rc));
    if (primary == SQLITE_CONSTRAINT) {
      return Reasoned(absl::AbortedError(absl::StrCat("concurrent update; retry (", msg, ")")),
                      reason::kStorageConflict, Dialect::kSqlite);
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_CANTOPEN ||
        primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_READONLY) {
      return Reasoned(absl::UnavailableError(msg), reason::kStorageUnavailable, Dialect::kSqlite);
    }
    return Reasoned(absl::InternalError(absl::StrCat(msg, ": ", sqlite3_errmsg(db_))),
                    reason::kStorageFailed, Dialect::kSqlite);
  }

  absl::Status Bind(sqlite3_stmt* stmt, const std::vector<Value>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      const Value& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text(stmt, idx, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else {
        const Blob& b = std::get<Blob>(v);
        rc = sqlite3_bind_blob(stmt, idx, b.bytes.data(), static_cast<int>(b.bytes.size()),
                               SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) return Error(rc, "bind");
    }
    return absl::OkStatus();
  }

  // The prepared statement for `sql`, compiled once per connection: the
  // stores issue a small fixed set of statements, and compiling one costs
  // more than running it. Bounded, since some statements are built from a
  // request's filters.
  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    if (statements_.size() >= kMaxCachedStatements) {
      for (auto& [text, stmt] : statements_) sqlite3_finalize(stmt);
      statements_.clear();
    }
    const std::string text = ToSqliteParams(sql);
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "prepare");
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  // Runs `sql`, calling `*fn` (when not null) for each row as it is
  // stepped. One Row is reused, so its columns keep their buffers.
  absl::Status Run(absl::string_view sql, const std::vector<Value>& params,
                   const std::function<absl::Status(const Row&)>* fn) {
    KINEX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    absl::Status status = Bind(stmt, params);
    int rc = SQLITE_OK;
    Row row;
    while (status.ok()) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        status = Error(rc, "step");
        break;
      }
      if (fn == nullptr) continue;
      const int n = sqlite3_column_count(stmt);
      row.cols.resize(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        std::optional<std::string>& col = row.cols[static_cast<size_t>(c)];
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          col.reset();
          continue;
        }
        const void* data = sqlite3_column_blob(stmt, c);
        const int size = sqlite3_column_bytes(stmt, c);
        const char* bytes = data == nullptr ? "" : static_cast<const char*>(data);
        if (col.has_value()) {
          col->assign(bytes, static_cast<size_t>(size));
        } else {
          col.emplace(bytes, static_cast<size_t>(size));
        }
      }
      status = (*fn)(row);
    }
    // Ready for its next use, with no parameter values left behind.
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return status;
  }

  static constexpr size_t kMaxCachedStatements = 64;

  sqlite3* db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;
};

// ------------------------------------------------------------ PostgreSQL

constexpr Oid kByteaOid = 17;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes PostgreSQL's hex bytea output ("\x0a1b...").
std::string DecodeBytea(absl::string_view text) {
  std::string out;
  if (!absl::ConsumePrefix(&text, "\\x")) return std::string(text);
  out.reserve(text.size() / 2);
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1])));
  }
  return out;
}

class PostgresDb final : public Db {
 public:
  explicit PostgresDb(PGconn* conn) : conn_(conn) {}
  ~PostgresDb() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  bool Healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

  absl::StatusOr<std::vector<Row>> Query(absl::string_view sql,
                                         const std::vector<Value>& params) override {
    KINEX_ASSIGN_OR_RETURN(PGresult * res, Run(sql, params));
    std::vector<Row> rows;
    const int n = PQntuples(res);
    const int cols = PQnfields(res);
    rows.reserve(n);
    for (int r = 0; r < n; ++r) {
      Row row;
      row.cols.reserve(cols);
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.cols.emplace_back(std::nullopt);
        } else if (PQftype(res, c) == kByteaOid) {
          row.cols.emplace_back(
              DecodeBytea(absl::string_view(PQgetvalue(res, r, c), PQgetlength(res, r, c))));
        } else {
          row.cols.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

  absl::StatusOr<int64_t> Exec(absl::string_view sql, const std::vector<Value>& params) override {
    KINEX_ASSIGN_OR_RETURN(PGresult * res, Run(sql, params));
    int64_t changed = 0;
    (void)absl::SimpleAtoi(PQcmdTuples(res), &changed);
    PQclear(res);
    return changed;
  }

  absl::Status ExecExpandedScript(const std::string& script) override {
    PGresult* res = PQexec(conn_, script.c_str());
    absl::Status s = Check(res, "schema");
    PQclear(res);
    return s;
  }

  absl::Status BulkInsert(absl::string_view table, const std::vector<std::string>& columns,
                          const std::vector<std::vector<Value>>& rows) override {
    const std::string sql =
        absl::StrCat("COPY ", table, " (", absl::StrJoin(columns, ", "), ") FROM STDIN");
    PGresult* res = PQexec(conn_, sql.c_str());
    if (PQresultStatus(res) != PGRES_COPY_IN) {
      absl::Status s = Check(res, "copy");
      PQclear(res);
      return s.ok() ? Reasoned(absl::InternalError("postgres copy: not in COPY IN"),
                               reason::kStorageFailed, Dialect::kPostgres)
                    : s;
    }
    PQclear(res);
    std::string buf;
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (i) buf.push_back('\t');
        AppendCopyValue(row[i], &buf);
      }
      buf.push_back('\n');
      if (buf.size() > (1 << 20)) {
        if (PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) != 1) {
          return Unavailable("postgres copy: send failed");
        }
        buf.clear();
      }
    }
    if (!buf.empty() && PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) != 1) {
      return Unavailable("postgres copy: send failed");
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) {
      return Unavailable("postgres copy: end failed");
    }
    absl::Status status = absl::OkStatus();
    while ((res = PQgetResult(conn_)) != nullptr) {
      if (status.ok()) status = Check(res, "copy");
      PQclear(res);
    }
    return status;
  }

 protected:
  absl::Status Begin() override {
    if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
    return ExecExpandedScript("BEGIN");
  }
  absl::Status BeginRead() override {
    if (PQstatus(conn_) != CONNECTION_OK) PQreset(conn_);
    return ExecExpandedScript("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  }
  absl::Status Commit() override { return ExecExpandedScript("COMMIT"); }
  absl::Status Rollback() override { return ExecExpandedScript("ROLLBACK"); }

 private:
  static absl::Status Unavailable(absl::string_view msg) {
    return Reasoned(absl::UnavailableError(msg), reason::kStorageUnavailable, Dialect::kPostgres);
  }

  // COPY text format: \N for NULL; backslash escapes; bytea as \\x<hex>.
  static void AppendCopyValue(const Value& v, std::string* out) {
    if (std::holds_alternative<std::monostate>(v)) {
      out->append("\\N");
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      absl::StrAppend(out, *n);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      for (char c : *s) {
        switch (c) {
          case '\\':
            out->append("\\\\");
            break;
          case '\t':
            out->append("\\t");
            break;
          case '\n':
            out->append("\\n");
            break;
          case '\r':
            out->append("\\r");
            break;
          default:
            out->push_back(c);
        }
      }
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\\\x");
      for (unsigned char c : std::get<Blob>(v).bytes) {
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      }
    }
  }

  absl::Status Check(PGresult* res, absl::string_view what) {
    const ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN) {
      return absl::OkStatus();
    }
    if (PQstatus(conn_) != CONNECTION_OK || res == nullptr) {
      return Unavailable(absl::StrCat("postgres ", what, ": connection lost"));
    }
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const std::string sqlstate = state ? state : "";
    // The primary message names constraints, never key values (those are in
    // DETAIL, which is deliberately not read).
    const std::string msg =
        absl::StrCat("postgres ", what, ": ", sqlstate, " ", primary ? primary : "error");
    if (absl::StartsWith(sqlstate, "23") || sqlstate == "40001" || sqlstate == "40P01") {
      return Reasoned(absl::AbortedError(absl::StrCat("concurrent update; retry (", msg, ")")),
                      reason::kStorageConflict, Dialect::kPostgres);
    }
    if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57") ||
        absl::StartsWith(sqlstate, "53")) {
      return Unavailable(msg);
    }
    return Reasoned(absl::InternalError(msg), reason::kStorageFailed, Dialect::kPostgres);
  }

  absl::StatusOr<PGresult*> Run(absl::string_view sql, const std::vector<Value>& params) {
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::monostate>(v)) {
        values[i] = nullptr;
        continue;
      }
      if (const auto* n = std::get_if<int64_t>(&v)) {
        storage[i] = absl::StrCat(*n);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        storage[i] = *s;
      } else {
        storage[i] = std::get<Blob>(v).bytes;
        formats[i] = 1;
      }
      values[i] = storage[i].data();
      lengths[i] = static_cast<int>(storage[i].size());
    }
    const std::string text(sql);
    PGresult* res = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                 values.data(), lengths.data(), formats.data(), 0);
    absl::Status s = Check(res, "query");
    if (!s.ok()) {
      PQclear(res);
      return s;
    }
    return res;
  }

  PGconn* conn_;
};

}  // namespace

absl::string_view DialectName(Dialect dialect) {
  return dialect == Dialect::kSqlite ? "sqlite" : "postgres";
}

std::string ExpandPlaceholders(absl::string_view script, Dialect dialect) {
  // The one table of dialect differences in DDL. Keep each replacement
  // byte-for-byte stable: SQLite stores a table's DDL text as run, and
  // existing stores must open without a migration.
  const bool sqlite = dialect == Dialect::kSqlite;
  return absl::StrReplaceAll(
      script, {{"{BLOB}", sqlite ? "BLOB" : "BYTEA"},
               {"{CTEXT}", sqlite ? "TEXT" : "TEXT COLLATE \"C\""},
               {"{INT}", sqlite ? "INTEGER" : "BIGINT"},
               {"{SERIAL}", sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"},
               {"{WITHOUT_ROWID}", sqlite ? " WITHOUT ROWID" : ""}});
}

absl::Status WithStore(absl::Status status, absl::string_view store) {
  if (status.ok() || !HasExplicitErrorReason(status)) return status;
  if (ErrorInfoOf(status).metadata().count("dialect") > 0) {
    AddErrorMetadata(status, "store", store);
  }
  return status;
}

absl::Status Db::ExecScript(absl::string_view sql) {
  return ExecExpandedScript(ExpandPlaceholders(sql, dialect()));
}

int64_t Row::Int(size_t i) const {
  int64_t v = 0;
  if (cols[i].has_value()) (void)absl::SimpleAtoi(*cols[i], &v);
  return v;
}

const std::string& Row::Str(size_t i) const {
  return cols[i].has_value() ? *cols[i] : EmptyString();
}

absl::Status Db::ForEach(absl::string_view sql, const std::vector<Value>& params,
                         const std::function<absl::Status(const Row&)>& fn) {
  KINEX_ASSIGN_OR_RETURN(std::vector<Row> rows, Query(sql, params));
  for (const Row& row : rows) KINEX_RETURN_IF_ERROR(fn(row));
  return absl::OkStatus();
}

absl::Status Db::Transaction(const std::function<absl::Status()>& fn) {
  KINEX_RETURN_IF_ERROR(Begin());
  return Finish(fn());
}

absl::Status Db::ReadTransaction(const std::function<absl::Status()>& fn) {
  KINEX_RETURN_IF_ERROR(BeginRead());
  return Finish(fn());
}

absl::Status Db::Finish(absl::Status status) {
  if (!status.ok()) {
    (void)Rollback();
    return status;
  }
  status = Commit();
  if (!status.ok()) (void)Rollback();
  return status;
}

namespace {
constexpr char kSchemaVersionTable[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "component {CTEXT} PRIMARY KEY, version BIGINT NOT NULL)";
}  // namespace

absl::StatusOr<int64_t> SchemaVersion(Db& db, absl::string_view component) {
  KINEX_RETURN_IF_ERROR(db.ExecScript(kSchemaVersionTable));
  KINEX_ASSIGN_OR_RETURN(std::vector<Row> rows,
                         db.Query("SELECT version FROM schema_version WHERE component = $1",
                                  {std::string(component)}));
  return rows.empty() ? 0 : rows[0].Int(0);
}

absl::Status Migrate(Db& db, absl::string_view component,
                     const std::vector<Migration>& migrations) {
  KINEX_RETURN_IF_ERROR(db.ExecScript(kSchemaVersionTable));
  return db.Transaction([&]() -> absl::Status {
    if (db.dialect() == Dialect::kPostgres) {
      // Instances starting together take turns: the second waits here and
      // then finds the schema already upgraded. (SQLite's BEGIN IMMEDIATE
      // takes the write lock from the start.)
      KINEX_RETURN_IF_ERROR(
          db.Exec("LOCK TABLE schema_version IN SHARE ROW EXCLUSIVE MODE").status());
    }
    KINEX_ASSIGN_OR_RETURN(std::vector<Row> rows,
                           db.Query("SELECT version FROM schema_version WHERE component = $1",
                                    {std::string(component)}));
    const int64_t stored = rows.empty() ? 0 : rows[0].Int(0);
    const int64_t newest = migrations.empty() ? 0 : migrations.back().version;
    const ErrorMetadata metadata = {{"store", std::string(component)},
                                    {"dialect", std::string(DialectName(db.dialect()))}};
    if (stored > newest) {
      return WithErrorReason(
          absl::FailedPreconditionError(absl::StrCat(component, " store is at schema version ",
                                                     stored, ", newer than this binary knows (",
                                                     newest, "); run a newer kinex")),
          reason::kSchemaTooNew, metadata);
    }
    int64_t at = stored;
    for (const Migration& m : migrations) {
      if (m.version <= at) continue;
      if (m.version != at + 1) {
        return WithErrorReason(
            absl::InternalError(absl::StrCat(component, ": migration ", m.version,
                                             " does not follow version ", at)),
            reason::kSchemaMigrationFailed, metadata);
      }
      absl::Status applied = m.apply(db);
      if (!applied.ok()) {
        ErrorMetadata failed = metadata;
        failed["cause"] = ErrorReasonOf(applied);
        return WithErrorReason(
            absl::Status(applied.code(), absl::StrCat(component, ": schema migration to version ",
                                                      m.version, " failed: ", applied.message())),
            reason::kSchemaMigrationFailed, failed);
      }
      at = m.version;
    }
    if (at == stored) return absl::OkStatus();
    if (rows.empty()) {
      return db
          .Exec("INSERT INTO schema_version (component, version) VALUES ($1, $2)",
                {std::string(component), at})
          .status();
    }
    return db
        .Exec("UPDATE schema_version SET version = $2 WHERE component = $1",
              {std::string(component), at})
        .status();
  });
}

namespace {

// Embedded stores hold children's records, consents and the audit log:
// their files are the owner's alone, whatever the umask.
constexpr mode_t kSqliteFileMode = 0600;

// One JSON log line on stderr. Paths and modes only, never contents.
void LogFileMode(absl::string_view level, absl::string_view msg, const std::string& file,
                 mode_t was, int error) {
  std::vector<LogField> fields = {{"file", file}, {"mode", absl::StrFormat("%04o", was & 0777)}};
  if (error != 0) fields.emplace_back("error", std::strerror(error));
  LogJson(std::cerr, level, msg, fields);
}

// Takes group and other permissions off an existing file (the database or
// its -wal/-shm), logging the change: stores created before Kinex set the
// modes itself, or copied in, become owner-only once.
void TightenExisting(const std::string& file) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return;
  if (::chmod(file.c_str(), st.st_mode & 0700) != 0) {
    LogFileMode("warning", "cannot make SQLite file owner-only", file, st.st_mode, errno);
    return;
  }
  LogFileMode("warning", "SQLite file was readable by others: made owner-only", file, st.st_mode,
              0);
}

// Before sqlite3_open_v2: a new database file is created 0600 (SQLite
// gives its -wal and -shm the database file's mode); existing files are
// tightened. The directory is the caller's (a missing one stays an error).
// Best effort: a failure here leaves sqlite3_open_v2 to report it.
void PrepareSqliteFiles(const SqliteOptions& options) {
  const std::string& path = options.path;
  if (path.empty() || path == ":memory:" || absl::StartsWith(path, "file:")) return;
  if (options.create) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, kSqliteFileMode);
    if (fd >= 0) {
      ::fchmod(fd, kSqliteFileMode);
      ::close(fd);
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) TightenExisting(path + suffix);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Db>> OpenSqlite(const SqliteOptions& options) {
  PrepareSqliteFiles(options);
  sqlite3* db = nullptr;
  // NOMUTEX: a Db is used by one thread at a time (its owner's mutex or a
  // Pool lease), so SQLite's own per-call mutex would only cost time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db);
    return Reasoned(absl::UnavailableError(absl::StrCat("cannot open SQLite database ",
                                                        options.path, ": ", sqlite3_errstr(rc))),
                    reason::kStorageUnavailable, Dialect::kSqlite);
  }
  auto out = std::make_unique<SqliteDb>(db);
  std::string pragmas = absl::StrCat(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=", options.synchronous_full ? "FULL" : "NORMAL",
      "; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=", kSqliteBusyTimeoutMs, ";");
  if (options.cache_kib > 0) {
    absl::StrAppend(&pragmas, " PRAGMA cache_size=-", options.cache_kib, ";");
  }
  if (options.wal_autocheckpoint_pages > 0) {
    absl::StrAppend(&pragmas, " PRAGMA wal_autocheckpoint=", options.wal_autocheckpoint_pages, ";");
  }
  absl::Status s = out->ExecScript(pragmas);
  if (!s.ok()) {
    return CopyErrorReason(s,
                           absl::Status(s.code(), absl::StrCat(options.path, ": ", s.message())));
  }
  return std::unique_ptr<Db>(std::move(out));
}

absl::StatusOr<std::unique_ptr<Db>> OpenPostgres(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    if (conn) PQfinish(conn);
    return Reasoned(absl::UnavailableError("cannot connect to PostgreSQL"),
                    reason::kStorageUnavailable, Dialect::kPostgres);
  }
  auto out = std::make_unique<PostgresDb>(conn);
  KINEX_RETURN_IF_ERROR(out->ExecScript("SET client_min_messages = warning"));
  return std::unique_ptr<Db>(std::move(out));
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && db_ != nullptr) pool_->Release(std::move(db_));
}

absl::StatusOr<Pool::Lease> Pool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (max_open_ > 0) {
      mu_.Await(absl::Condition(
          +[](Pool* self)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->leased_ < self->max_open_; },
          this));
    }
    ++leased_;
    while (!idle_.empty()) {
      std::unique_ptr<Db> db = std::move(idle_.back());
      idle_.pop_back();
      if (db->Healthy()) return Lease(this, std::move(db));
    }
  }
  absl::StatusOr<std::unique_ptr<Db>> db = open_();
  if (!db.ok()) {
    absl::MutexLock lock(&mu_);
    --leased_;
    return db.status();
  }
  return Lease(this, *std::move(db));
}

void Pool::Release(std::unique_ptr<Db> db) {
  absl::MutexLock lock(&mu_);
  --leased_;
  if (db->Healthy() && idle_.size() < max_idle_) idle_.push_back(std::move(db));
}

size_t Connections::DefaultMaxReaders() {
  // The affinity mask, not the machine: a container limited to some cores
  // (cpuset) gets as many readers as it has.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const size_t cores = ::sched_getaffinity(0, sizeof(cpus), &cpus) == 0
                           ? static_cast<size_t>(CPU_COUNT(&cpus))
                           : std::thread::hardware_concurrency();
  return std::clamp<size_t>(cores, 2, 8);
}

Connections::Connections(std::unique_ptr<Db> writer, Pool::Opener open_reader, size_t max_readers)
    : writer_(std::move(writer)) {
  if (max_readers == 0) max_readers = DefaultMaxReaders();
  if (open_reader) readers_.emplace(std::move(open_reader), max_readers, max_readers);
}

absl::Status Connections::Write(const std::function<absl::Status(Db&)>& fn) {
  absl::MutexLock lock(&mu_);
  Db& db = *writer_;
  return db.Transaction([&] { return fn(db); });
}

absl::Status Connections::Read(const std::function<absl::Status(Db&)>& fn) {
  if (!readers_.has_value()) {
    absl::MutexLock lock(&mu_);
    return fn(*writer_);
  }
  KINEX_ASSIGN_OR_RETURN(Pool::Lease reader, readers_->Acquire());
  Db& db = *reader;
  return db.ReadTransaction([&] { return fn(db); });
}

}  // namespace kinex::sql
