-- Records store, schema version 5 (SQLite): the triggers that advance a
-- child's view generation (0005_view_generation.sql) on every insert,
-- update and delete of what its view is built from. PostgreSQL:
-- 0005_view_generation.postgres.sql.

CREATE TRIGGER IF NOT EXISTS part_heads_view_insert AFTER INSERT ON part_heads BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS part_heads_view_update AFTER UPDATE ON part_heads BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id IN (OLD.kinex_id, NEW.kinex_id); END;
CREATE TRIGGER IF NOT EXISTS part_heads_view_delete AFTER DELETE ON part_heads BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS part_versions_view_insert AFTER INSERT ON part_versions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS part_versions_view_update AFTER UPDATE ON part_versions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id IN (OLD.kinex_id, NEW.kinex_id); END;
CREATE TRIGGER IF NOT EXISTS part_versions_view_delete AFTER DELETE ON part_versions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS child_responsibility_view_insert AFTER INSERT ON child_responsibility BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS child_responsibility_view_update AFTER UPDATE ON child_responsibility BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id IN (OLD.kinex_id, NEW.kinex_id); END;
CREATE TRIGGER IF NOT EXISTS child_responsibility_view_delete AFTER DELETE ON child_responsibility BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS agency_links_view_insert AFTER INSERT ON agency_links BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS agency_links_view_update AFTER UPDATE ON agency_links BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id IN (OLD.kinex_id, NEW.kinex_id); END;
CREATE TRIGGER IF NOT EXISTS agency_links_view_delete AFTER DELETE ON agency_links BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS sharing_decisions_view_insert AFTER INSERT ON sharing_decisions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = NEW.kinex_id; END;
CREATE TRIGGER IF NOT EXISTS sharing_decisions_view_update AFTER UPDATE ON sharing_decisions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id IN (OLD.kinex_id, NEW.kinex_id); END;
CREATE TRIGGER IF NOT EXISTS sharing_decisions_view_delete AFTER DELETE ON sharing_decisions BEGIN UPDATE children SET view_generation = view_generation + 1 WHERE kinex_id = OLD.kinex_id; END;
