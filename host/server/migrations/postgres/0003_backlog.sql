-- drydock PostgreSQL schema v3: a backlog of executions costs nothing per request,
-- and writers do not queue on one row.
--
-- The state's version (generations.state) now moves only with the maintenance row
-- and the windows, under the state lock taken exclusively. Execution writes take
-- that lock shared and count themselves into `execution_counts`, spread over
-- shards so concurrent writers rarely wait for each other's row; the counts are the
-- sum over shards. `execution_changes` moves with every execution write, without a
-- lock (a sequence), so another host's poll can see that something changed.
CREATE INDEX executions_unfinished ON executions (created_at, id)
    WHERE status NOT IN ('terminated', 'failed', 'cancelled');
CREATE INDEX executions_unfinished_deployment ON executions (deployment_id)
    WHERE status NOT IN ('terminated', 'failed', 'cancelled');

CREATE TABLE execution_counts (
    status TEXT NOT NULL,
    shard  INTEGER NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (status, shard)
);
INSERT INTO execution_counts (status, shard, n)
    SELECT status, 0, COUNT(*) FROM executions
    WHERE status NOT IN ('terminated', 'failed', 'cancelled') GROUP BY status;

CREATE SEQUENCE execution_changes;
