-- Records store, schema version 4: the calendars schools and local
-- authorities publish through the API (PublishSchoolCalendar), for
-- Operation Encompass deadlines. One row per school (key_kind 3, SCHOOL;
-- code: its URN) or LA (key_kind 1, LOCAL_AUTHORITY; code: its ONS code),
-- replaced by each publish: the serialized kinex.notifications.v1.
-- SchoolCalendar, its etag (optimistic concurrency), when and by whom it was
-- published. The primary key serves the deadline's look-up of one school's
-- or LA's calendar. Nothing to backfill (file calendars stay files).

CREATE TABLE IF NOT EXISTS school_calendars (
  key_kind INTEGER NOT NULL,
  code {CTEXT} NOT NULL,
  etag {CTEXT} NOT NULL,
  publish_time_us BIGINT NOT NULL,
  principal TEXT NOT NULL,
  actor TEXT NOT NULL,
  calendar {BLOB} NOT NULL,
  PRIMARY KEY (key_kind, code));
