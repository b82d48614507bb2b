-- drydock schema v2: policy versions, which one is active, and what happened.
--
-- The embedded default policy is version "builtin": its bytes ship inside the
-- binary, so it has no row in `policies`, but it may be named anywhere else.

-- Uploaded policy components, validated by the engine before they are stored.
CREATE TABLE policies (
    id          TEXT PRIMARY KEY,          -- first 12 hex digits of sha256
    sha256      TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,             -- as the component reports it
    version     TEXT NOT NULL,             -- as the component reports it
    size        INTEGER NOT NULL,
    component   BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);

-- Which version decides, which one a rollback returns to, and the shadow
-- candidate. One row; none means the builtin is active and nothing else is set.
CREATE TABLE policy_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    active_id    TEXT NOT NULL,
    active_since TEXT NOT NULL,
    activated_by TEXT NOT NULL,
    previous_id  TEXT,
    shadow_id    TEXT,
    shadow_since TEXT,
    shadow_by    TEXT
);

-- Append-only audit of every change (read by operators, never by logic).
CREATE TABLE policy_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    username  TEXT NOT NULL,
    action    TEXT NOT NULL,              -- upload, activate, rollback, shadow, shadow-stop, delete, startup, fallback
    policy_id TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
