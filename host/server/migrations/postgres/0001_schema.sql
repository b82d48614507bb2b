-- drydock on PostgreSQL, schema v1: the embedded schema's tables (migrations 0001–0004
-- of the SQLite backend) in PostgreSQL's types. Applied once per database, under an
-- advisory lock, so hosts starting at the same moment do not race.

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
    seq          BIGSERIAL,
    id           TEXT PRIMARY KEY,
    blueprint_id TEXT,
    inputs       TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    tenant_name  TEXT NOT NULL
);

CREATE TABLE executions (
    seq                BIGSERIAL,
    id                 TEXT PRIMARY KEY,
    deployment_id      TEXT,
    workflow_id        TEXT NOT NULL,
    status             TEXT NOT NULL,
    parameters         TEXT NOT NULL DEFAULT '{}',
    error              TEXT NOT NULL DEFAULT '',
    is_system_workflow BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TEXT NOT NULL,
    started_at         TEXT,
    ended_at           TEXT,
    created_by         TEXT NOT NULL,
    tenant_name        TEXT NOT NULL
);
CREATE INDEX executions_status ON executions (status);

CREATE TABLE events (
    id            BIGSERIAL PRIMARY KEY,
    execution_id  TEXT NOT NULL,
    timestamp     TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX events_execution ON events (execution_id, id);

CREATE TABLE policies (
    seq         BIGSERIAL,
    id          TEXT PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    size        BIGINT NOT NULL,
    component   BYTEA NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);

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

CREATE TABLE policy_log (
    seq       BIGSERIAL PRIMARY KEY,
    at        TEXT NOT NULL,
    username  TEXT NOT NULL,
    action    TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);

-- Each host keeps its own compiled-artifact cache, so each vouches for its own.
CREATE TABLE policy_artifacts (
    host             TEXT NOT NULL,
    component_sha256 TEXT NOT NULL,
    engine           TEXT NOT NULL,
    artifact_sha256  TEXT NOT NULL,
    PRIMARY KEY (host, component_sha256, engine)
);

-- The row every state transaction locks first (SELECT ... FOR UPDATE): the
-- race-free rule's lock, across hosts. See the SQLite migration 0004.
CREATE TABLE generations (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    state  BIGINT NOT NULL,
    policy BIGINT NOT NULL,
    users  BIGINT NOT NULL
);
INSERT INTO generations (id, state, policy, users) VALUES (1, 1, 1, 1);
