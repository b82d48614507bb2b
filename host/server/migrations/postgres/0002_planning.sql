-- drydock on PostgreSQL, schema v2 (the SQLite backend's v5): maintenance an operator can plan.
--
-- The maintenance row carries why, until when (expected), and a deadline for
-- activating with what to do when it passes; every transition is recorded; windows
-- are scheduled ahead. Times are the reference's text timestamps (UTC, `Z`), which
-- sort as they compare.
ALTER TABLE maintenance ADD COLUMN reason TEXT;
ALTER TABLE maintenance ADD COLUMN until_at TEXT;
ALTER TABLE maintenance ADD COLUMN deadline_at TEXT;
ALTER TABLE maintenance ADD COLUMN on_deadline TEXT;

CREATE TABLE maintenance_history (
    seq        BIGSERIAL PRIMARY KEY,
    at         TEXT NOT NULL,
    username   TEXT NOT NULL,              -- a user, or `schedule`, `deadline`, `serve`, `drydock`
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT,
    detail     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE maintenance_windows (
    id         TEXT PRIMARY KEY,
    start_at   TEXT NOT NULL,
    end_at     TEXT,
    reason     TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('scheduled', 'started', 'ended', 'cancelled'))
);
CREATE INDEX maintenance_windows_status ON maintenance_windows (status, start_at);
