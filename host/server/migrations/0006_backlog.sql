-- drydock schema v6: a backlog of executions costs nothing per request.
--
-- The state's version now moves only with the maintenance row and the windows; the
-- unfinished executions are counted by the store as they are written. Where the
-- list is shown (GET /maintenance while activating, the console) it is read from
-- this index, oldest first; deleting a deployment asks the second.
CREATE INDEX executions_unfinished ON executions (created_at, id)
    WHERE status NOT IN ('terminated', 'failed', 'cancelled');
CREATE INDEX executions_unfinished_deployment ON executions (deployment_id)
    WHERE status NOT IN ('terminated', 'failed', 'cancelled');
