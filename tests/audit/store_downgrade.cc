#include "tests/audit/store_downgrade.h"

#include "absl/strings/str_cat.h"

namespace kinex::audit::testing {

std::string BackToVersion7Script(sql::Dialect dialect) {
  const bool postgres = dialect == sql::Dialect::kPostgres;
  const std::string drop =
      postgres ? "DROP TRIGGER audit_entries_append_only ON audit_entries;"
                 "ALTER TABLE audit_entries RENAME TO audit_entries_v8;"
                 "ALTER INDEX audit_entries_pkey RENAME TO audit_entries_v8_pkey;"
               : "DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;"
                 "ALTER TABLE audit_entries RENAME TO audit_entries_v8;";
  const std::string triggers =
      postgres ? "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON "
                 "audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
               : "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries BEGIN "
                 "SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
                 "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN "
                 "SELECT RAISE(ABORT, 'audit entries are append-only'); END;";
  return absl::StrCat(
      drop,
      "CREATE TABLE audit_entries (leaf_index {INT} PRIMARY KEY, leaf_hash {BLOB} NOT NULL, "
      "leaf_data {BLOB} NOT NULL, time_micros {INT} NOT NULL, agency_kind {INT} NOT NULL, "
      "agency_code TEXT NOT NULL, actor TEXT NOT NULL, purpose {INT} NOT NULL, decision {INT} "
      "NOT NULL, break_glass {INT} NOT NULL);"
      "INSERT INTO audit_entries SELECT e.leaf_index, e.leaf_hash, e.leaf_data, e.time_micros, "
      "p.agency_kind, p.agency_code, p.actor, e.purpose, e.decision, e.break_glass FROM "
      "audit_entries_v8 e JOIN audit_principals p ON p.principal_id = e.principal_id;"
      "DROP TABLE audit_entries_v8; DROP TABLE audit_principals;",
      triggers, "UPDATE schema_version SET version = 7 WHERE component = 'audit';");
}

std::string BackToVersion8Script(sql::Dialect dialect) {
  const bool postgres = dialect == sql::Dialect::kPostgres;
  const std::string drop =
      postgres ? "DROP TRIGGER audit_heads_append_only ON audit_heads;"
               : "DROP TRIGGER audit_heads_no_update; DROP TRIGGER audit_heads_no_delete;";
  const std::string triggers =
      postgres ? "CREATE TRIGGER audit_heads_append_only BEFORE UPDATE OR DELETE ON audit_heads "
                 "FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
               : "CREATE TRIGGER audit_heads_no_update BEFORE UPDATE ON audit_heads BEGIN SELECT "
                 "RAISE(ABORT, 'signed tree heads are append-only'); END;"
                 "CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads BEGIN SELECT "
                 "RAISE(ABORT, 'signed tree heads are append-only'); END;";
  return absl::StrCat(drop,
                      "ALTER TABLE audit_heads ADD COLUMN key_id TEXT NOT NULL DEFAULT '';"
                      "UPDATE audit_heads SET key_id = (SELECT k.key_id FROM "
                      "audit_signing_keys k WHERE k.key_number = audit_heads.key_number);"
                      "ALTER TABLE audit_heads DROP COLUMN key_number;"
                      "DROP TABLE audit_signing_keys;",
                      triggers, "UPDATE schema_version SET version = 8 WHERE component = 'audit';");
}

std::string BackToVersion9Script(sql::Dialect dialect) {
  const std::string triggers =
      dialect == sql::Dialect::kPostgres
          ? "CREATE TRIGGER audit_child_entries_append_only BEFORE UPDATE OR DELETE ON "
            "audit_child_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();"
          : "CREATE TRIGGER audit_child_entries_no_update BEFORE UPDATE ON audit_child_entries "
            "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
            "CREATE TRIGGER audit_child_entries_no_delete BEFORE DELETE ON audit_child_entries "
            "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;";
  return absl::StrCat(
      "CREATE TABLE audit_child_entries (child_id {INT} NOT NULL, leaf_index {INT} NOT NULL, "
      "PRIMARY KEY (child_id, leaf_index)){WITHOUT_ROWID};"
      "INSERT INTO audit_child_entries (child_id, leaf_index) SELECT m.child_id, e.leaf_index "
      "FROM audit_entry_child_sets e JOIN audit_child_set_members m ON m.set_id = e.set_id "
      "ORDER BY e.leaf_index, m.child_id;"
      "CREATE INDEX audit_child_entries_by_leaf ON audit_child_entries (leaf_index);"
      "DROP TABLE audit_entry_child_sets; DROP TABLE audit_child_set_members;"
      "DROP TABLE audit_child_sets;",
      triggers, "UPDATE schema_version SET version = 9 WHERE component = 'audit';");
}

}  // namespace kinex::audit::testing
