-- Records store, schema version 5 (PostgreSQL): the triggers that advance a
-- child's view generation (0005_view_generation.sql) on every insert,
-- update and delete of what its view is built from. SQLite:
-- 0005_view_generation.sqlite.sql.

CREATE OR REPLACE FUNCTION records_view_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id;
  END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.kinex_id IS DISTINCT FROM OLD.kinex_id) THEN
    UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER part_heads_view_changed AFTER INSERT OR UPDATE OR DELETE ON part_heads FOR EACH ROW EXECUTE FUNCTION records_view_changed();
CREATE OR REPLACE TRIGGER part_versions_view_changed AFTER INSERT OR UPDATE OR DELETE ON part_versions FOR EACH ROW EXECUTE FUNCTION records_view_changed();
CREATE OR REPLACE TRIGGER child_responsibility_view_changed AFTER INSERT OR UPDATE OR DELETE ON child_responsibility FOR EACH ROW EXECUTE FUNCTION records_view_changed();
CREATE OR REPLACE TRIGGER agency_links_view_changed AFTER INSERT OR UPDATE OR DELETE ON agency_links FOR EACH ROW EXECUTE FUNCTION records_view_changed();
CREATE OR REPLACE TRIGGER sharing_decisions_view_changed AFTER INSERT OR UPDATE OR DELETE ON sharing_decisions FOR EACH ROW EXECUTE FUNCTION records_view_changed();
