-- Tenants as Cloudify has them: every deployment and execution belongs to one, a
-- user acts in the tenants they are a member of (with a tenant role), and
-- `visibility` says who sees a resource besides its tenant (as SQLite 0008).

CREATE TABLE tenants (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- The tenants rows already name (the `Tenant` header was recorded, never checked).
INSERT INTO tenants (name, created_at)
    SELECT name, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM (SELECT 'default_tenant' AS name
          UNION SELECT tenant_name FROM deployments
          UNION SELECT tenant_name FROM executions) AS named;

CREATE TABLE tenant_members (
    tenant   TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('viewer', 'user', 'operations', 'manager')),
    PRIMARY KEY (tenant, username)
);
CREATE INDEX tenant_members_by_user ON tenant_members (username);

-- Everyone who could use the manager before keeps using it, in the default tenant.
INSERT INTO tenant_members (tenant, username, role) SELECT 'default_tenant', username, 'user' FROM users;

ALTER TABLE deployments ADD COLUMN visibility TEXT NOT NULL DEFAULT 'tenant'
    CHECK (visibility IN ('private', 'tenant', 'global'));
ALTER TABLE executions ADD COLUMN visibility TEXT NOT NULL DEFAULT 'tenant'
    CHECK (visibility IN ('private', 'tenant', 'global'));
-- Moved to `started` by the worker or a sys_admin: only then a parent of child
-- work. Executions running at the upgrade keep their children.
ALTER TABLE executions ADD COLUMN vouched BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE executions SET vouched = TRUE WHERE status = 'started';

CREATE INDEX deployments_by_tenant ON deployments (tenant_name, created_at);
CREATE INDEX executions_by_tenant ON executions (tenant_name, created_at);
