-- 0020 (issue 35): when a background pass last started, per kind, so that
-- the follow-ups after responses run the expiry pass at a pace (one start a
-- second between all instances) instead of at the rate of traffic: its
-- work then costs the creates beside it a bounded share, however many
-- orders wait to expire. Same on PostgreSQL:
-- migrations/postgres/0017_background_passes.sql.
-- Runnable by hand after 0019: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0020_background_passes.sql

CREATE TABLE background_passes (
    name       TEXT PRIMARY KEY,
    started_at TEXT NOT NULL          -- RFC 3339 UTC
);

PRAGMA user_version = 20;
