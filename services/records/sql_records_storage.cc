#include "services/records/sql_records_storage.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "embedded_sql/records_schema.h"
#include "services/common/error_reason.h"
#include "services/common/status_macros.h"

namespace kinex::records {
namespace {

constexpr absl::string_view kStore = "records";

// An error this store makes, with its reason and the stable metadata.
absl::Status Failure(absl::Status status, absl::string_view reason, sql::Dialect dialect) {
  return WithErrorReason(
      std::move(status), reason,
      {{"store", std::string(kStore)}, {"dialect", std::string(sql::DialectName(dialect))}});
}

// The schema is in services/records/schema/, one file per version, embedded
// at build time (embedded_sql/records_schema.h). Version 1
// (0001_children_parts_scope.sql) is the schema as first released: Create
// runs it at every open, before sql::Migrate. Version 2 adds responsibility,
// agency links and the audit outbox, and backfills them (the file's two
// INSERT ... SELECT statements); version 3 adds sharing decisions; version
// 4 the calendars schools and LAs publish; version 5 each child's view
// generation and the triggers that advance it.
absl::Status MigrateToV2(sql::Db& db) {
  return db.ExecScript(schema::k0002ResponsibilityLinksOutbox);
}

absl::Status MigrateToV3(sql::Db& db) { return db.ExecScript(schema::k0003SharingDecisions); }

// Version 4 adds the calendars schools and LAs publish.
absl::Status MigrateToV4(sql::Db& db) { return db.ExecScript(schema::k0004SchoolCalendars); }

// Version 5: the column (0005_view_generation.sql), then its triggers in
// the store's dialect (0005_view_generation.<dialect>.sql).
absl::Status MigrateToV5(sql::Db& db) {
  KINEX_RETURN_IF_ERROR(db.ExecScript(schema::k0005ViewGeneration));
  return db.ExecScript(db.dialect() == sql::Dialect::kSqlite ? schema::k0005ViewGenerationSqlite
                                                             : schema::k0005ViewGenerationPostgres);
}

constexpr char kDecisionColumns[] =
    "decision_id, kinex_id, kind, decider_kind, decider_code, decided_at_us, removed, "
    "payload";

StoredSharingDecision DecisionFromRow(const sql::Row& row) {
  StoredSharingDecision d;
  d.decision_id = row.Str(0);
  d.kinex_id = row.Str(1);
  d.kind = static_cast<int>(row.Int(2));
  d.decider_kind = static_cast<int>(row.Int(3));
  d.decider_code = row.Str(4);
  d.decided_at = absl::FromUnixMicros(row.Int(5));
  d.removed = row.Int(6) != 0;
  d.payload = row.Str(7);
  return d;
}

constexpr char kLinkColumns[] =
    "kinex_id, agency_kind, agency_code, state, update_time_us, updated_by";

StoredLink LinkFromRow(const sql::Row& row) {
  StoredLink l;
  l.kinex_id = row.Str(0);
  l.agency_kind = static_cast<int>(row.Int(1));
  l.agency_code = row.Str(2);
  l.state = static_cast<LinkState>(row.Int(3));
  l.update_time = absl::FromUnixMicros(row.Int(4));
  l.updated_by = row.Str(5);
  return l;
}

constexpr char kPartColumns[] =
    "p.kinex_id, p.owner_kind, p.owner_code, p.version, p.etag, "
    "p.publish_time_us, p.principal, p.actor, p.payload";

StoredPart PartFromRow(const sql::Row& row) {
  StoredPart p;
  p.kinex_id = row.Str(0);
  p.owner_kind = static_cast<int>(row.Int(1));
  p.owner_code = row.Str(2);
  p.version = row.Int(3);
  p.etag = row.Str(4);
  p.publish_time = absl::FromUnixMicros(row.Int(5));
  p.principal = row.Str(6);
  p.actor = row.Str(7);
  p.payload = row.Str(8);
  return p;
}

class SqlTxn final : public RecordsTxn {
 public:
  explicit SqlTxn(sql::Db& db) : db_(db) {}

  absl::StatusOr<bool> ChildExists(const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query("SELECT 1 FROM children WHERE kinex_id = $1", {kinex_id}));
    return !rows.empty();
  }

  absl::StatusOr<std::optional<int64_t>> ViewGeneration(const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT view_generation FROM children WHERE kinex_id = $1", {kinex_id}));
    if (rows.empty()) return std::nullopt;
    return rows[0].Int(0);
  }

  absl::Status LockChild(const std::string& kinex_id) override {
    if (db_.dialect() != sql::Dialect::kPostgres) return absl::OkStatus();
    return db_.Query("SELECT 1 FROM children WHERE kinex_id = $1 FOR UPDATE", {kinex_id}).status();
  }

  absl::Status CreateChild(const std::string& kinex_id, absl::Time create_time) override {
    return db_
        .Exec("INSERT INTO children (kinex_id, create_time_us) VALUES ($1, $2)",
              {kinex_id, absl::ToUnixMicros(create_time)})
        .status();
  }

  absl::StatusOr<std::optional<std::string>> FindChild(IdentifierKind kind,
                                                       const std::string& value) override {
    KINEX_ASSIGN_OR_RETURN(auto rows, db_.Query("SELECT kinex_id FROM child_identifiers "
                                                "WHERE id_kind = $1 AND id_value = $2",
                                                {static_cast<int64_t>(kind), value}));
    if (rows.empty()) return std::nullopt;
    return rows[0].Str(0);
  }

  absl::Status AddIdentifier(IdentifierKind kind, const std::string& value,
                             const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(std::optional<std::string> owner, FindChild(kind, value));
    if (owner.has_value()) {
      if (*owner == kinex_id) return absl::OkStatus();
      return Failure(absl::AbortedError("identifier already linked to another child"),
                     reason::kStorageConflict, db_.dialect());
    }
    return db_
        .Exec(
            "INSERT INTO child_identifiers (id_kind, id_value, kinex_id) "
            "VALUES ($1, $2, $3)",
            {static_cast<int64_t>(kind), value, kinex_id})
        .status();
  }

  absl::StatusOr<std::optional<StoredPart>> LatestPart(const std::string& kinex_id, int owner_kind,
                                                       const std::string& owner_code) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(absl::StrCat("SELECT ", kPartColumns,
                               " FROM part_heads h JOIN part_versions p ON "
                               "p.kinex_id = h.kinex_id AND p.owner_kind = h.owner_kind AND "
                               "p.owner_code = h.owner_code AND p.version = h.version "
                               "WHERE h.kinex_id = $1 AND h.owner_kind = $2 AND "
                               "h.owner_code = $3"),
                  {kinex_id, static_cast<int64_t>(owner_kind), owner_code}));
    if (rows.empty()) return std::nullopt;
    return PartFromRow(rows[0]);
  }

  absl::Status InsertPart(const StoredPart& part) override {
    if (part.version < 1) {
      return Failure(absl::InvalidArgumentError("version must be >= 1"),
                     reason::kStorageCallInvalid, db_.dialect());
    }
    if (part.version == 1) {
      // The primary key refuses a second "first" version (ABORTED).
      KINEX_RETURN_IF_ERROR(
          db_.Exec("INSERT INTO part_heads (kinex_id, owner_kind, owner_code, "
                   "version) VALUES ($1, $2, $3, 1)",
                   {part.kinex_id, static_cast<int64_t>(part.owner_kind), part.owner_code})
              .status());
    } else {
      KINEX_ASSIGN_OR_RETURN(int64_t changed,
                             db_.Exec("UPDATE part_heads SET version = $4 WHERE kinex_id = $1 AND "
                                      "owner_kind = $2 AND owner_code = $3 AND version = $5",
                                      {part.kinex_id, static_cast<int64_t>(part.owner_kind),
                                       part.owner_code, part.version, part.version - 1}));
      if (changed != 1) {
        return Failure(absl::AbortedError("part changed concurrently; retry"),
                       reason::kStorageConflict, db_.dialect());
      }
    }
    return db_
        .Exec(
            "INSERT INTO part_versions (kinex_id, owner_kind, owner_code, "
            "version, etag, publish_time_us, principal, actor, payload) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            {part.kinex_id, static_cast<int64_t>(part.owner_kind), part.owner_code, part.version,
             part.etag, absl::ToUnixMicros(part.publish_time), part.principal, part.actor,
             sql::Blob{part.payload}})
        .status();
  }

  absl::StatusOr<std::vector<StoredPart>> LatestParts(const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(absl::StrCat("SELECT ", kPartColumns,
                               " FROM part_heads h JOIN part_versions p ON "
                               "p.kinex_id = h.kinex_id AND p.owner_kind = h.owner_kind AND "
                               "p.owner_code = h.owner_code AND p.version = h.version "
                               "WHERE h.kinex_id = $1 ORDER BY h.owner_kind, h.owner_code"),
                  {kinex_id}));
    std::vector<StoredPart> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(PartFromRow(row));
    return out;
  }

  absl::StatusOr<std::vector<StoredPart>> PartHistory(const std::string& kinex_id, int owner_kind,
                                                      int64_t offset, int limit) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(
            absl::StrCat("SELECT ", kPartColumns,
                         " FROM part_versions p WHERE p.kinex_id = $1 AND "
                         "($2 = 0 OR p.owner_kind = $2) ORDER BY p.publish_time_us, "
                         "p.owner_kind, p.owner_code, p.version LIMIT $3 OFFSET $4"),
            {kinex_id, static_cast<int64_t>(owner_kind), static_cast<int64_t>(limit), offset}));
    std::vector<StoredPart> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(PartFromRow(row));
    return out;
  }

  absl::Status ReplaceScopeLinks(const std::string& kinex_id,
                                 const std::vector<ScopeLink>& links) override {
    KINEX_RETURN_IF_ERROR(
        db_.Exec("DELETE FROM scope_links WHERE kinex_id = $1", {kinex_id}).status());
    for (const ScopeLink& link : links) {
      KINEX_RETURN_IF_ERROR(db_.Exec("INSERT INTO scope_links (agency_kind, code, kinex_id) "
                                     "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                     {static_cast<int64_t>(link.agency_kind), link.code, kinex_id})
                                .status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ChildrenInScope(const std::vector<int>& agency_kinds,
                                                           const std::string& code,
                                                           const std::string& after_kinex_id,
                                                           int limit) override {
    if (agency_kinds.empty()) return std::vector<std::string>{};
    std::vector<sql::Value> params = {code, after_kinex_id, static_cast<int64_t>(limit)};
    std::string in;
    for (int kind : agency_kinds) {
      params.emplace_back(static_cast<int64_t>(kind));
      absl::StrAppend(&in, in.empty() ? "" : ", ", "$", params.size());
    }
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query(absl::StrCat("SELECT DISTINCT kinex_id FROM scope_links WHERE "
                                                  "agency_kind IN (",
                                                  in,
                                                  ") AND code = $1 AND kinex_id > $2 "
                                                  "ORDER BY kinex_id LIMIT $3"),
                                     params));
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(row.Str(0));
    return out;
  }

  absl::StatusOr<std::optional<std::string>> ResponsibleLa(const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT la_code FROM child_responsibility WHERE kinex_id = $1", {kinex_id}));
    if (rows.empty()) return std::nullopt;
    return rows[0].Str(0);
  }

  absl::Status SetResponsibleLa(const std::string& kinex_id, const std::string& la_code,
                                absl::Time since) override {
    return db_
        .Exec(
            "INSERT INTO child_responsibility (kinex_id, la_code, since_us) "
            "VALUES ($1, $2, $3) ON CONFLICT (kinex_id) DO UPDATE SET "
            "la_code = excluded.la_code, since_us = excluded.since_us",
            {kinex_id, la_code, absl::ToUnixMicros(since)})
        .status();
  }

  absl::StatusOr<std::vector<StoredLink>> Links(const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query(absl::StrCat("SELECT ", kLinkColumns,
                                                  " FROM agency_links WHERE kinex_id = $1 "
                                                  "ORDER BY agency_kind, agency_code"),
                                     {kinex_id}));
    std::vector<StoredLink> out;
    for (const auto& row : rows) out.push_back(LinkFromRow(row));
    return out;
  }

  absl::Status PutLink(const StoredLink& link) override {
    return db_
        .Exec(
            "INSERT INTO agency_links (kinex_id, agency_kind, agency_code, state, "
            "update_time_us, updated_by) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (kinex_id, agency_kind, agency_code) DO UPDATE SET "
            "state = excluded.state, update_time_us = excluded.update_time_us, "
            "updated_by = excluded.updated_by",
            {link.kinex_id, static_cast<int64_t>(link.agency_kind), link.agency_code,
             static_cast<int64_t>(link.state), absl::ToUnixMicros(link.update_time),
             link.updated_by})
        .status();
  }

  absl::StatusOr<std::vector<StoredLink>> LinksOfLa(const std::string& la_code, int state,
                                                    const std::string& after_kinex_id,
                                                    int after_kind, const std::string& after_code,
                                                    int limit) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query("SELECT l.kinex_id, l.agency_kind, l.agency_code, l.state, "
                  "l.update_time_us, l.updated_by FROM agency_links l "
                  "JOIN child_responsibility r ON r.kinex_id = l.kinex_id "
                  "WHERE r.la_code = $1 AND ($2 = 0 OR l.state = $2) AND "
                  "(l.kinex_id > $3 OR (l.kinex_id = $3 AND (l.agency_kind > $4 OR "
                  "(l.agency_kind = $4 AND l.agency_code > $5)))) "
                  "ORDER BY l.kinex_id, l.agency_kind, l.agency_code LIMIT $6",
                  {la_code, static_cast<int64_t>(state), after_kinex_id,
                   static_cast<int64_t>(after_kind), after_code, static_cast<int64_t>(limit)}));
    std::vector<StoredLink> out;
    for (const auto& row : rows) out.push_back(LinkFromRow(row));
    return out;
  }

  absl::StatusOr<std::vector<StoredPart>> LatestPartsOfResponsibleLa(
      int owner_kind, const std::string& after_kinex_id, int limit) override {
    // child_responsibility in key order; each child's part head and version
    // by their primary keys.
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(absl::StrCat("SELECT ", kPartColumns,
                               " FROM child_responsibility r JOIN part_heads h ON "
                               "h.kinex_id = r.kinex_id AND h.owner_kind = $1 AND "
                               "h.owner_code = r.la_code JOIN part_versions p ON "
                               "p.kinex_id = h.kinex_id AND p.owner_kind = h.owner_kind AND "
                               "p.owner_code = h.owner_code AND p.version = h.version "
                               "WHERE r.kinex_id > $2 ORDER BY r.kinex_id LIMIT $3"),
                  {static_cast<int64_t>(owner_kind), after_kinex_id, static_cast<int64_t>(limit)}));
    std::vector<StoredPart> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(PartFromRow(row));
    return out;
  }

  absl::Status InsertSharingDecision(const StoredSharingDecision& d) override {
    return db_
        .Exec(
            absl::StrCat("INSERT INTO sharing_decisions (", kDecisionColumns,
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            {d.decision_id, d.kinex_id, static_cast<int64_t>(d.kind),
             static_cast<int64_t>(d.decider_kind), d.decider_code, absl::ToUnixMicros(d.decided_at),
             static_cast<int64_t>(d.removed ? 1 : 0), sql::Blob{d.payload}})
        .status();
  }

  absl::StatusOr<std::optional<StoredSharingDecision>> SharingDecision(
      const std::string& decision_id) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query(absl::StrCat("SELECT ", kDecisionColumns,
                                                  " FROM sharing_decisions WHERE decision_id = $1"),
                                     {decision_id}));
    if (rows.empty()) return std::nullopt;
    return DecisionFromRow(rows[0]);
  }

  absl::Status RemoveSharingDecision(const std::string& decision_id,
                                     const std::string& payload) override {
    KINEX_ASSIGN_OR_RETURN(int64_t changed,
                           db_.Exec("UPDATE sharing_decisions SET removed = 1, payload = $2 "
                                    "WHERE decision_id = $1 AND removed = 0",
                                    {decision_id, sql::Blob{payload}}));
    if (changed != 1) {
      return Failure(absl::AbortedError("decision changed concurrently; retry"),
                     reason::kStorageConflict, db_.dialect());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<StoredSharingDecision>> ShieldsInForce(
      const std::string& kinex_id) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(absl::StrCat("SELECT ", kDecisionColumns,
                               " FROM sharing_decisions WHERE kinex_id = $1 AND kind = $2 "
                               "AND removed = 0 ORDER BY decision_id"),
                  {kinex_id, static_cast<int64_t>(kShieldDecisionKind)}));
    std::vector<StoredSharingDecision> out;
    for (const auto& row : rows) out.push_back(DecisionFromRow(row));
    return out;
  }

  absl::StatusOr<std::vector<StoredSharingDecision>> ListSharingDecisions(
      const SharingDecisionFilter& f) override {
    std::vector<sql::Value> params;
    auto param = [&](sql::Value v) {
      params.push_back(std::move(v));
      return absl::StrCat("$", params.size());
    };
    std::vector<std::string> where;
    if (!f.all) {
      std::string visible =
          absl::StrCat("(decider_kind = ", param(static_cast<int64_t>(f.decider_kind)),
                       " AND decider_code = ", param(f.decider_code), ")");
      if (!f.responsible_la.empty()) {
        absl::StrAppend(&visible,
                        " OR kinex_id IN (SELECT kinex_id FROM child_responsibility "
                        "WHERE la_code = ",
                        param(f.responsible_la), ")");
      }
      where.push_back(absl::StrCat("(", visible, ")"));
    }
    if (!f.kinex_id.empty()) where.push_back(absl::StrCat("kinex_id = ", param(f.kinex_id)));
    if (!f.kinds.empty()) {
      std::vector<std::string> in;
      for (int k : f.kinds) in.push_back(param(static_cast<int64_t>(k)));
      where.push_back(absl::StrCat("kind IN (", absl::StrJoin(in, ", "), ")"));
    }
    if (!f.include_removed) where.push_back("removed = 0");
    if (f.after.has_value()) {
      const std::string at = param(absl::ToUnixMicros(f.after->first));
      const std::string id = param(f.after->second);
      where.push_back(absl::StrCat("(decided_at_us < ", at, " OR (decided_at_us = ", at,
                                   " AND decision_id < ", id, "))"));
    }
    const std::string limit = param(static_cast<int64_t>(f.limit));
    KINEX_ASSIGN_OR_RETURN(
        auto rows,
        db_.Query(absl::StrCat("SELECT ", kDecisionColumns, " FROM sharing_decisions",
                               where.empty() ? "" : " WHERE ", absl::StrJoin(where, " AND "),
                               " ORDER BY decided_at_us DESC, decision_id DESC LIMIT ", limit),
                  params));
    std::vector<StoredSharingDecision> out;
    for (const auto& row : rows) out.push_back(DecisionFromRow(row));
    return out;
  }

  absl::StatusOr<std::optional<StoredCalendar>> PublishedCalendar(
      int key_kind, const std::string& code) override {
    KINEX_ASSIGN_OR_RETURN(
        auto rows, db_.Query("SELECT key_kind, code, etag, publish_time_us, principal, actor, "
                             "calendar FROM school_calendars WHERE key_kind = $1 AND code = $2",
                             {static_cast<int64_t>(key_kind), code}));
    if (rows.empty()) return std::nullopt;
    StoredCalendar c;
    c.key_kind = static_cast<int>(rows[0].Int(0));
    c.code = rows[0].Str(1);
    c.etag = rows[0].Str(2);
    c.publish_time = absl::FromUnixMicros(rows[0].Int(3));
    c.principal = rows[0].Str(4);
    c.actor = rows[0].Str(5);
    c.payload = rows[0].Str(6);
    return c;
  }

  absl::Status PutPublishedCalendar(const StoredCalendar& c,
                                    const std::string& replaces_etag) override {
    if (replaces_etag.empty()) {
      // The primary key refuses a second "first" calendar (ABORTED).
      return db_
          .Exec(
              "INSERT INTO school_calendars (key_kind, code, etag, publish_time_us, principal, "
              "actor, calendar) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              {static_cast<int64_t>(c.key_kind), c.code, c.etag, absl::ToUnixMicros(c.publish_time),
               c.principal, c.actor, sql::Blob{c.payload}})
          .status();
    }
    KINEX_ASSIGN_OR_RETURN(
        int64_t changed,
        db_.Exec(
            "UPDATE school_calendars SET etag = $3, publish_time_us = $4, principal = $5, "
            "actor = $6, calendar = $7 WHERE key_kind = $1 AND code = $2 AND etag = $8",
            {static_cast<int64_t>(c.key_kind), c.code, c.etag, absl::ToUnixMicros(c.publish_time),
             c.principal, c.actor, sql::Blob{c.payload}, replaces_etag}));
    if (changed != 1) {
      return Failure(absl::AbortedError("calendar changed concurrently; retry"),
                     reason::kStorageConflict, db_.dialect());
    }
    return absl::OkStatus();
  }

  absl::Status AddPendingAuditEvent(const PendingAuditEvent& event) override {
    return db_
        .Exec(
            "INSERT INTO audit_outbox (id, create_seq, event) VALUES ($1, "
            "(SELECT COALESCE(MAX(create_seq), 0) + 1 FROM audit_outbox), $2)",
            {event.id, sql::Blob{event.event}})
        .status();
  }

  absl::StatusOr<std::vector<PendingAuditEvent>> PendingAuditEvents(int limit) override {
    KINEX_ASSIGN_OR_RETURN(auto rows,
                           db_.Query("SELECT id, event FROM audit_outbox ORDER BY create_seq "
                                     "LIMIT $1",
                                     {static_cast<int64_t>(limit)}));
    std::vector<PendingAuditEvent> out;
    for (const auto& row : rows) out.push_back({row.Str(0), row.Str(1)});
    return out;
  }

  absl::Status DeletePendingAuditEvent(const std::string& id) override {
    return db_.Exec("DELETE FROM audit_outbox WHERE id = $1", {id}).status();
  }

  absl::Status BulkLoad(const std::vector<BulkChild>& children, absl::Time create_time) override {
    std::vector<std::vector<sql::Value>> child_rows, id_rows, part_rows, head_rows, link_rows,
        responsibility_rows, agency_link_rows;
    const int64_t created = absl::ToUnixMicros(create_time);
    for (const BulkChild& c : children) {
      child_rows.push_back({c.kinex_id, created});
      for (const auto& [kind, value] : c.identifiers) {
        id_rows.push_back({static_cast<int64_t>(kind), value, c.kinex_id});
      }
      for (const StoredPart& p : c.parts) {
        part_rows.push_back({p.kinex_id, static_cast<int64_t>(p.owner_kind), p.owner_code,
                             p.version, p.etag, absl::ToUnixMicros(p.publish_time), p.principal,
                             p.actor, sql::Blob{p.payload}});
        head_rows.push_back(
            {p.kinex_id, static_cast<int64_t>(p.owner_kind), p.owner_code, p.version});
      }
      for (const ScopeLink& l : c.links) {
        link_rows.push_back({static_cast<int64_t>(l.agency_kind), l.code, c.kinex_id});
      }
      if (!c.responsible_la.empty()) {
        responsibility_rows.push_back({c.kinex_id, c.responsible_la, created});
      }
      for (const StoredLink& l : c.agency_links) {
        agency_link_rows.push_back({c.kinex_id, static_cast<int64_t>(l.agency_kind), l.agency_code,
                                    static_cast<int64_t>(l.state),
                                    absl::ToUnixMicros(l.update_time), l.updated_by});
      }
    }
    KINEX_RETURN_IF_ERROR(db_.BulkInsert("children", {"kinex_id", "create_time_us"}, child_rows));
    KINEX_RETURN_IF_ERROR(
        db_.BulkInsert("child_identifiers", {"id_kind", "id_value", "kinex_id"}, id_rows));
    KINEX_RETURN_IF_ERROR(db_.BulkInsert("part_versions",
                                         {"kinex_id", "owner_kind", "owner_code", "version", "etag",
                                          "publish_time_us", "principal", "actor", "payload"},
                                         part_rows));
    KINEX_RETURN_IF_ERROR(db_.BulkInsert(
        "part_heads", {"kinex_id", "owner_kind", "owner_code", "version"}, head_rows));
    KINEX_RETURN_IF_ERROR(
        db_.BulkInsert("scope_links", {"agency_kind", "code", "kinex_id"}, link_rows));
    KINEX_RETURN_IF_ERROR(db_.BulkInsert("child_responsibility",
                                         {"kinex_id", "la_code", "since_us"}, responsibility_rows));
    KINEX_RETURN_IF_ERROR(db_.BulkInsert(
        "agency_links",
        {"kinex_id", "agency_kind", "agency_code", "state", "update_time_us", "updated_by"},
        agency_link_rows));
    // Fresh planner statistics after a large load.
    return db_.ExecScript("ANALYZE");
  }

 private:
  sql::Db& db_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqlRecordsStorage>> SqlRecordsStorage::Create(
    std::unique_ptr<sql::Db> db, sql::Pool::Opener open_reader) {
  if (db == nullptr) {
    return WithErrorReason(absl::InvalidArgumentError("db must not be null"),
                           reason::kStorageCallInvalid, {{"store", std::string(kStore)}});
  }
  KINEX_RETURN_IF_ERROR(sql::WithStore(db->ExecScript(schema::k0001ChildrenPartsScope), kStore));
  // Version 1 is 0001_children_parts_scope.sql as first released (created
  // above if absent).
  KINEX_RETURN_IF_ERROR(sql::WithStore(sql::Migrate(*db, kStore,
                                                    {{1, [](sql::Db&) { return absl::OkStatus(); }},
                                                     {2, MigrateToV2},
                                                     {3, MigrateToV3},
                                                     {4, MigrateToV4},
                                                     {5, MigrateToV5}}),
                                       kStore));
  return std::unique_ptr<SqlRecordsStorage>(
      new SqlRecordsStorage(std::move(db), std::move(open_reader)));
}

absl::Status SqlRecordsStorage::Transact(const std::function<absl::Status(RecordsTxn&)>& fn) {
  return sql::WithStore(connections_.Write([&](sql::Db& db) {
    SqlTxn txn(db);
    return fn(txn);
  }),
                        kStore);
}

absl::Status SqlRecordsStorage::Read(const std::function<absl::Status(RecordsTxn&)>& fn) {
  return sql::WithStore(connections_.Read([&](sql::Db& db) {
    SqlTxn txn(db);
    return fn(txn);
  }),
                        kStore);
}

}  // namespace kinex::records
