-- A list of executions counts its total without counting rows (as SQLite 0012).
--
-- `execution_totals` holds how many executions each (tenant, visibility, creator,
-- deployment, status) has, spread over 16 shards so concurrent writers rarely wait
-- for each other's row; a list's total is the sum of the rows its filter matches.
-- Creates and status changes write their part in their own transaction, last, in
-- one order (store/postgres/state.rs: a trigger in PL/pgSQL cost each create about
-- 8 % of the database's CPU); what else removes executions (a tenant's deletion,
-- rare) is counted by the trigger below, as is any other change of a key column.
CREATE TABLE execution_totals (
    tenant_name   TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    deployment_id TEXT NOT NULL, -- '' for an execution of no deployment
    status        TEXT NOT NULL,
    shard         INTEGER NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (tenant_name, visibility, created_by, deployment_id, status, shard)
);

INSERT INTO execution_totals
    SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, ''), status, 0, COUNT(*)
    FROM executions GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION execution_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_totals (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, ''), status, pg_backend_pid() % 16, -COUNT(*)
        FROM removed
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
            DO UPDATE SET n = execution_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER execution_totals_delete AFTER DELETE ON executions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION execution_totals_deleted();

-- The key's other columns: no statement of drydock's changes them; should one,
-- it is counted (row by row: a trigger with a column list sees no transition table).
CREATE FUNCTION execution_totals_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_totals AS t (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        VALUES (OLD.tenant_name, OLD.visibility, OLD.created_by, COALESCE(OLD.deployment_id, ''), OLD.status, pg_backend_pid() % 16, -1),
               (NEW.tenant_name, NEW.visibility, NEW.created_by, COALESCE(NEW.deployment_id, ''), NEW.status, pg_backend_pid() % 16, 1)
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
            DO UPDATE SET n = t.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER execution_totals_move AFTER UPDATE OF tenant_name, visibility, created_by, deployment_id ON executions
    FOR EACH ROW WHEN (OLD.tenant_name IS DISTINCT FROM NEW.tenant_name OR OLD.visibility IS DISTINCT FROM NEW.visibility
        OR OLD.created_by IS DISTINCT FROM NEW.created_by OR OLD.deployment_id IS DISTINCT FROM NEW.deployment_id)
    EXECUTE FUNCTION execution_totals_moved();

CREATE INDEX executions_created ON executions (created_at);
