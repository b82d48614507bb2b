-- The policy selection names only versions that are stored (the builtin never
-- is). The registry changes the selection by compare-and-set under the policy
-- advisory lock, which every writer of `policies` and `policy_state` takes; these
-- triggers are the database's own refusal underneath it.

-- First repair what an older drydock may have left dangling (two hosts could
-- activate and delete one version at once).
INSERT INTO policy_log (at, username, action, policy_id, detail)
    SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'drydock', 'repair', 'builtin',
           'was ' || active_id || ', no longer stored'
    FROM policy_state WHERE active_id <> 'builtin' AND active_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET active_id = 'builtin', activated_by = 'drydock'
    WHERE active_id <> 'builtin' AND active_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET previous_id = NULL
    WHERE previous_id <> 'builtin' AND previous_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET shadow_id = NULL, shadow_since = NULL, shadow_by = NULL
    WHERE shadow_id <> 'builtin' AND shadow_id NOT IN (SELECT id FROM policies);
UPDATE generations SET policy = policy + 1 WHERE id = 1;

CREATE FUNCTION policy_state_names_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.active_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.active_id))
       OR (NEW.previous_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.previous_id))
       OR (NEW.shadow_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.shadow_id)) THEN
        RAISE EXCEPTION 'the policy selection names a version that is not stored' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_state_names_stored BEFORE INSERT OR UPDATE ON policy_state
    FOR EACH ROW EXECUTE FUNCTION policy_state_names_stored();

CREATE FUNCTION policies_delete_unselected() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM policy_state WHERE OLD.id IN (active_id, previous_id, shadow_id)) THEN
        RAISE EXCEPTION 'a selected policy version cannot be deleted' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER policies_delete_unselected BEFORE DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION policies_delete_unselected();
