-- What PostgreSQL's audit query index by child costs in three layouts, on
-- synthetic rows (no Kinex code): bytes per entry and the time of a child's
-- page of events in leaf order. Run against a throwaway database:
--
--   psql -h <socket dir> -p <port> -U postgres -f bench/audit/pg_child_index_layouts.sql
--
-- 1,000,000 entries, each naming one child by three pseudonyms (as a
-- whole-record disclosure does: Kinex id, LA child id, NHS number), children
-- drawn with P(c) proportional to 1/(c+1) over 10,000 (child 0 has about 7.5
-- % of the events, child 1,000 about 100). Layouts:
--   pairs:  today's schema 5/6 (0005_child_index.sql): a row (child number,
--           leaf index) per pseudonym, its primary key and its by-leaf index;
--   pairs_brin: the same rows with a BRIN index by leaf instead of a
--           B-tree (the rows are appended in leaf order);
--   array:  the pseudonyms' numbers as a BIGINT[] column of the entry's row
--           and a GIN index over it (fastupdate off: no pending list);
--   array4: the same with INTEGER[] (numbers below 2^31).
-- Rows are inserted in leaf order, each index present before the insert,
-- so the indexes grow as appends grow them (random inserts into the pairs'
-- primary key).
\set ON_ERROR_STOP on
\timing on
DROP TABLE IF EXISTS gen, pairs, pairs_brin, base, arr, arr4;
SELECT setseed(0.5);
CREATE TABLE gen AS
  SELECT g AS leaf_index, floor(exp(random() * ln(10000)))::bigint - 1 AS child
  FROM generate_series(0, 999999) g;
-- The entry's row without any child column: what the array layouts add to.
CREATE TABLE base (leaf_index bigint PRIMARY KEY);
INSERT INTO base SELECT leaf_index FROM gen ORDER BY leaf_index;

CREATE TABLE pairs (child_id bigint NOT NULL, leaf_index bigint NOT NULL,
                    PRIMARY KEY (child_id, leaf_index));
CREATE INDEX pairs_by_leaf ON pairs (leaf_index);
INSERT INTO pairs SELECT 3 * child + k, leaf_index FROM gen, generate_series(0, 2) k
  ORDER BY leaf_index, k;

CREATE TABLE pairs_brin (child_id bigint NOT NULL, leaf_index bigint NOT NULL,
                         PRIMARY KEY (child_id, leaf_index));
CREATE INDEX pairs_brin_by_leaf ON pairs_brin USING brin (leaf_index);
INSERT INTO pairs_brin SELECT 3 * child + k, leaf_index FROM gen, generate_series(0, 2) k
  ORDER BY leaf_index, k;

CREATE TABLE arr (leaf_index bigint PRIMARY KEY, children bigint[] NOT NULL);
CREATE INDEX arr_gin ON arr USING gin (children) WITH (fastupdate = off);
INSERT INTO arr SELECT leaf_index, ARRAY[3 * child, 3 * child + 1, 3 * child + 2]
  FROM gen ORDER BY leaf_index;

CREATE TABLE arr4 (leaf_index bigint PRIMARY KEY, children integer[] NOT NULL);
CREATE INDEX arr4_gin ON arr4 USING gin (children) WITH (fastupdate = off);
INSERT INTO arr4 SELECT leaf_index, ARRAY[3 * child, 3 * child + 1, 3 * child + 2]::integer[]
  FROM gen ORDER BY leaf_index;

VACUUM ANALYZE base;
VACUUM ANALYZE pairs;
VACUUM ANALYZE pairs_brin;
VACUUM ANALYZE arr;
VACUUM ANALYZE arr4;
\timing off

\echo 'bytes per entry (1,000,000 entries):'
SELECT 'pairs' AS layout,
       round(pg_relation_size('pairs') / 1e6, 1) AS heap,
       round(pg_relation_size('pairs_pkey') / 1e6, 1) AS primary_key,
       round(pg_relation_size('pairs_by_leaf') / 1e6, 1) AS by_leaf,
       round(pg_total_relation_size('pairs') / 1e6, 1) AS total
UNION ALL
SELECT 'pairs_brin', round(pg_relation_size('pairs_brin') / 1e6, 1),
       round(pg_relation_size('pairs_brin_pkey') / 1e6, 1),
       round(pg_relation_size('pairs_brin_by_leaf') / 1e6, 1),
       round(pg_total_relation_size('pairs_brin') / 1e6, 1)
UNION ALL
SELECT 'array', round((pg_relation_size('arr') - pg_relation_size('base')) / 1e6, 1),
       NULL, round(pg_relation_size('arr_gin') / 1e6, 1),
       round((pg_relation_size('arr') - pg_relation_size('base') + pg_relation_size('arr_gin')) / 1e6, 1)
UNION ALL
SELECT 'array4', round((pg_relation_size('arr4') - pg_relation_size('base')) / 1e6, 1),
       NULL, round(pg_relation_size('arr4_gin') / 1e6, 1),
       round((pg_relation_size('arr4') - pg_relation_size('base') + pg_relation_size('arr4_gin')) / 1e6, 1);
\echo '(array layouts: heap is what the column adds to the entry row, by_leaf the GIN index)'

-- The median of five runs of query `q`, in ms.
CREATE FUNCTION pg_temp.median_ms(q text) RETURNS numeric AS $$
DECLARE
  t timestamptz;
  runs double precision[] := '{}';
BEGIN
  FOR i IN 1..5 LOOP
    t := clock_timestamp();
    EXECUTE q;
    runs := runs || extract(epoch FROM clock_timestamp() - t) * 1000;
  END LOOP;
  RETURN round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r)
                FROM unnest(runs) r)::numeric, 2);
END $$ LANGUAGE plpgsql;

-- A page of 100 of a child's events from the middle of the log (the
-- auditor's next page) in leaf order, each layout.
\echo 'a page of 100 events from leaf 500,000, median of five runs (ms):'
DO $$
DECLARE
  c bigint;
BEGIN
  FOREACH c IN ARRAY ARRAY[0, 10, 30, 100, 1000]::bigint[] LOOP
    RAISE NOTICE 'child % (% events): pairs %', c, (SELECT count(*) FROM gen WHERE child = c),
      pg_temp.median_ms(format('SELECT count(*) FROM (SELECT leaf_index FROM pairs '
                               'WHERE child_id = %s AND leaf_index >= 500000 '
                               'ORDER BY leaf_index LIMIT 100) p', 3 * c + 1));
    RAISE NOTICE 'child % (% events): array %', c, (SELECT count(*) FROM gen WHERE child = c),
      pg_temp.median_ms(format('SELECT count(*) FROM (SELECT leaf_index FROM arr '
                               'WHERE children @> ARRAY[%s]::bigint[] AND leaf_index >= 500000 '
                               'ORDER BY leaf_index LIMIT 100) p', 3 * c + 1));
  END LOOP;
END $$;
-- The start-up check's read: the index rows of 4,096 leaves in leaf order
-- (SqlLogStorage::ReadChildIndex), by-leaf B-tree against BRIN.
\echo 'index rows of leaves 500,000-504,095 in leaf order, median of five runs (ms):'
SELECT tbl, pg_temp.median_ms(format('SELECT count(*) FROM (SELECT leaf_index, child_id FROM %I '
                                     'WHERE leaf_index >= 500000 AND leaf_index < 504096 '
                                     'ORDER BY leaf_index, child_id) p', tbl)) AS ms
  FROM unnest(ARRAY['pairs', 'pairs_brin']) tbl;
DROP TABLE gen, pairs, pairs_brin, base, arr, arr4;
