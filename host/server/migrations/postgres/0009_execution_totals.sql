-- A list of executions counts its total without counting rows (as SQLite 0012).
--
-- `execution_totals` holds how many executions each (tenant, visibility, creator,
-- deployment, status) has, kept by statement triggers in the transaction of every
-- write, spread over 16 shards by the writing connection (`pg_backend_pid()`), so
-- concurrent writers on other connections do not wait for each other's row. Each
-- statement writes its net change in one upsert, its rows in key order. A list's
-- total is the sum of the matching rows.
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

-- A statement trigger sees its rows in transition tables, each event its own:
-- one function per event.
CREATE FUNCTION execution_totals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_totals (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        SELECT tenant_name, visibility, created_by, deployment_id, status, pg_backend_pid() % 16, SUM(d)
        FROM (
            SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, '') AS deployment_id, status, 1 AS d
                FROM added
        ) AS change
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
            DO UPDATE SET n = execution_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION execution_totals_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_totals (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        SELECT tenant_name, visibility, created_by, deployment_id, status, pg_backend_pid() % 16, SUM(d)
        FROM (
            SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, '') AS deployment_id, status, -1 AS d
                FROM removed
        ) AS change
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
            DO UPDATE SET n = execution_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION execution_totals_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_totals (tenant_name, visibility, created_by, deployment_id, status, shard, n)
        SELECT tenant_name, visibility, created_by, deployment_id, status, pg_backend_pid() % 16, SUM(d)
        FROM (
            SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, '') AS deployment_id, status, 1 AS d
                FROM added
            UNION ALL
            SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, ''), status, -1
                FROM removed
        ) AS change
        GROUP BY 1, 2, 3, 4, 5
        HAVING SUM(d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (tenant_name, visibility, created_by, deployment_id, status, shard)
            DO UPDATE SET n = execution_totals.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER execution_totals_insert AFTER INSERT ON executions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION execution_totals_inserted();
CREATE TRIGGER execution_totals_delete AFTER DELETE ON executions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION execution_totals_deleted();
CREATE TRIGGER execution_totals_update AFTER UPDATE ON executions
    REFERENCING NEW TABLE AS added OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION execution_totals_updated();

CREATE INDEX executions_created ON executions (created_at);
