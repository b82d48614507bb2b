-- drydock schema v1. Applied once, inside one transaction, tracked by PRAGMA user_version.

-- The maintenance state: one row, or none (= deactivated), as in the original.
CREATE TABLE maintenance (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    status                  TEXT NOT NULL CHECK (status IN ('activating', 'activated')),
    activation_requested_at TEXT NOT NULL,
    activated_at            TEXT,
    requested_by            TEXT NOT NULL
);

CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('sys_admin', 'user')),
    created_at    TEXT NOT NULL
);

CREATE TABLE deployments (
    id           TEXT PRIMARY KEY,
    blueprint_id TEXT,
    inputs       TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    tenant_name  TEXT NOT NULL
);

CREATE TABLE executions (
    id                 TEXT PRIMARY KEY,
    deployment_id      TEXT,
    workflow_id        TEXT NOT NULL,
    status             TEXT NOT NULL,
    parameters         TEXT NOT NULL DEFAULT '{}',
    error              TEXT NOT NULL DEFAULT '',
    is_system_workflow INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    started_at         TEXT,
    ended_at           TEXT,
    created_by         TEXT NOT NULL,
    tenant_name        TEXT NOT NULL
);
CREATE INDEX executions_status ON executions (status);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id  TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX events_execution ON events (execution_id, id);
