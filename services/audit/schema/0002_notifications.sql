-- Audit store, schema version 2: notifications (docs/notifications.md).
-- audit_notifications holds each notification an event creates, keyed by
-- (leaf_index, ordinal): the causing leaf and the notification's place among
-- its notifications, so the order of notifications is the order of the log.
-- SqlLogStorage::Append writes the rows in the transaction of the leaf that
-- creates them, and applies each state change (delivered, acknowledged,
-- reviewed, escalated) in the transaction of the leaf that records it: a
-- committed leaf has its notifications, an uncommitted one has none.
-- SqlLogStorage::Init runs this at every open (IF NOT EXISTS), after
-- 0001_log.sql and the append-only triggers.
--
-- This table is NOT append-only. The content columns (leaf_index, ordinal,
-- recipient_kind, recipient_code, kind, created_us, deadline_us, payload)
-- never change; the delivery state columns (state, delivered_us, acked_us,
-- acked_by, review_outcome, review_note, escalated_leaf) do, each once, and
-- rows may be pruned a configurable time after acknowledgement. So it has no
-- append-only triggers, unlike the audit_* log tables. It is not trusted
-- either: the log checks each row it reads against the leaf that created
-- it (the leaf's hash covers the recipient and kind of each notification),
-- so a row no leaf justifies is found, not served.
--
-- Values: kind is a kinex.notifications.v1.NotificationKind (2
-- BREAK_GLASS_REVIEW, 3 ENCOMPASS); state a NotificationState (1 PENDING,
-- 2 DELIVERED, 3 ACKNOWLEDGED); review_outcome a ReviewOutcome (0: not
-- reviewed); times are microseconds since the Unix epoch, 0 for "not yet"
-- (deadline_us 0: no deadline); escalated_leaf -1 until escalated; payload a
-- serialized kinex.audit.v1.NotifyIntent.
--
-- Placeholders as in 0001_log.sql: {BLOB} is BLOB / BYTEA; {INT} is INTEGER
-- / BIGINT; {WITHOUT_ROWID} is " WITHOUT ROWID" on SQLite and nothing on
-- PostgreSQL.

CREATE TABLE IF NOT EXISTS audit_notifications (
  leaf_index     {INT} NOT NULL,
  ordinal        {INT} NOT NULL,
  recipient_kind {INT} NOT NULL,
  recipient_code TEXT NOT NULL,
  kind           {INT} NOT NULL,
  created_us     {INT} NOT NULL,
  deadline_us    {INT} NOT NULL,
  state          {INT} NOT NULL,
  delivered_us   {INT} NOT NULL,
  acked_us       {INT} NOT NULL,
  acked_by       TEXT NOT NULL,
  review_outcome {INT} NOT NULL,
  review_note    TEXT NOT NULL,
  escalated_leaf {INT} NOT NULL,
  payload        {BLOB} NOT NULL,
  PRIMARY KEY (leaf_index, ordinal)
){WITHOUT_ROWID};
-- A recipient's reads (WatchNotifications, ListNotifications), in key order.
CREATE INDEX IF NOT EXISTS audit_notifications_by_recipient
  ON audit_notifications (recipient_kind, recipient_code, leaf_index, ordinal);
-- The deadline sweeper's query: only the few rows still waiting on a
-- deadline are in it (rows leave it when acknowledged or escalated).
CREATE INDEX IF NOT EXISTS audit_notifications_due
  ON audit_notifications (deadline_us)
  WHERE acked_us = 0 AND escalated_leaf < 0 AND deadline_us > 0;
