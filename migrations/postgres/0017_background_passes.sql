-- 0017 (issue 35): when a background pass last started, per kind, so that
-- the follow-ups after responses run the expiry pass at a pace (one start a
-- second between all instances) instead of at the rate of traffic: its
-- work then costs the creates beside it a bounded share, however many
-- orders wait to expire. Same on SQLite:
-- migrations/sqlite/0020_background_passes.sql.
-- Runnable by hand after 0016: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0017_background_passes.sql

CREATE TABLE background_passes (
    name       text PRIMARY KEY,
    started_at timestamp NOT NULL     -- UTC, to the second
);

INSERT INTO schema_migrations (version) VALUES (17);
