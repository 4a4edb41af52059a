-- Records store, schema version 5: each child's view generation
-- (children.view_generation), which every change to what a reader's view of
-- the child is built from advances: the latest part of each agency
-- (part_heads, and part_versions should a stored version ever change), the
-- responsible LA (child_responsibility), the agencies' links
-- (agency_links) and the sharing decisions (sharing_decisions). The triggers
-- that advance it are per dialect (0005_view_generation.sqlite.sql,
-- 0005_view_generation.postgres.sql), so no write, present or future, and
-- no operator's SQL can change a view without it. A records process keeps
-- views it has read by (child, generation) and reads the generation in each
-- snapshot to know whether its copy is that snapshot's. Existing children
-- start at 0: no process has a copy of them yet.

ALTER TABLE children ADD COLUMN view_generation BIGINT NOT NULL DEFAULT 0;
