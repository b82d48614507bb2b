-- The policy selection names only versions that are stored (the builtin never
-- is). The registry changes the selection by compare-and-set under the write
-- lock; these triggers are the database's own refusal underneath it.

-- First repair what an older drydock may have left dangling.
INSERT INTO policy_log (at, username, action, policy_id, detail)
    SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'drydock', 'repair', 'builtin', 'was ' || active_id || ', no longer stored'
    FROM policy_state WHERE active_id <> 'builtin' AND active_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET active_id = 'builtin', activated_by = 'drydock'
    WHERE active_id <> 'builtin' AND active_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET previous_id = NULL
    WHERE previous_id <> 'builtin' AND previous_id NOT IN (SELECT id FROM policies);
UPDATE policy_state SET shadow_id = NULL, shadow_since = NULL, shadow_by = NULL
    WHERE shadow_id <> 'builtin' AND shadow_id NOT IN (SELECT id FROM policies);

CREATE TRIGGER policy_state_insert_names_stored BEFORE INSERT ON policy_state
WHEN (NEW.active_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.active_id))
  OR (NEW.previous_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.previous_id))
  OR (NEW.shadow_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.shadow_id))
BEGIN
    SELECT RAISE(ABORT, 'the policy selection names a version that is not stored');
END;

CREATE TRIGGER policy_state_update_names_stored BEFORE UPDATE ON policy_state
WHEN (NEW.active_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.active_id))
  OR (NEW.previous_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.previous_id))
  OR (NEW.shadow_id <> 'builtin' AND NOT EXISTS (SELECT 1 FROM policies WHERE id = NEW.shadow_id))
BEGIN
    SELECT RAISE(ABORT, 'the policy selection names a version that is not stored');
END;

CREATE TRIGGER policies_delete_unselected BEFORE DELETE ON policies
WHEN EXISTS (SELECT 1 FROM policy_state WHERE OLD.id IN (active_id, previous_id, shadow_id))
BEGIN
    SELECT RAISE(ABORT, 'a selected policy version cannot be deleted');
END;
