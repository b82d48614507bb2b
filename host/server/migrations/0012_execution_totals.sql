-- drydock schema v12: a list of executions counts its total without counting rows.
--
-- `execution_totals` holds how many executions each (tenant, visibility, creator,
-- deployment, status) has, kept by triggers in the transaction of every write. A
-- list's `metadata.pagination.total` (exact: Cloudify's client pages until it has
-- read that many) is a sum over these rows, with the list's own filter: its cost
-- grows with tenants, users and deployments, never with executions held.
-- `executions_created` lets a page sorted by creation stop after the page.
CREATE TABLE execution_totals (
    tenant_name   TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    deployment_id TEXT NOT NULL, -- '' for an execution of no deployment
    status        TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (tenant_name, visibility, created_by, deployment_id, status)
) WITHOUT ROWID;

INSERT INTO execution_totals
    SELECT tenant_name, visibility, created_by, COALESCE(deployment_id, ''), status, COUNT(*)
    FROM executions GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER execution_totals_insert AFTER INSERT ON executions BEGIN
    INSERT INTO execution_totals
        VALUES (NEW.tenant_name, NEW.visibility, NEW.created_by, COALESCE(NEW.deployment_id, ''), NEW.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER execution_totals_delete AFTER DELETE ON executions BEGIN
    UPDATE execution_totals SET n = n - 1
        WHERE tenant_name = OLD.tenant_name AND visibility = OLD.visibility AND created_by = OLD.created_by
          AND deployment_id = COALESCE(OLD.deployment_id, '') AND status = OLD.status;
END;

CREATE TRIGGER execution_totals_update AFTER UPDATE OF tenant_name, visibility, created_by, deployment_id, status ON executions
WHEN OLD.tenant_name IS NOT NEW.tenant_name OR OLD.visibility IS NOT NEW.visibility OR OLD.created_by IS NOT NEW.created_by
  OR OLD.deployment_id IS NOT NEW.deployment_id OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE execution_totals SET n = n - 1
        WHERE tenant_name = OLD.tenant_name AND visibility = OLD.visibility AND created_by = OLD.created_by
          AND deployment_id = COALESCE(OLD.deployment_id, '') AND status = OLD.status;
    INSERT INTO execution_totals
        VALUES (NEW.tenant_name, NEW.visibility, NEW.created_by, COALESCE(NEW.deployment_id, ''), NEW.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE INDEX executions_created ON executions (created_at);
