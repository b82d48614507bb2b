-- drydock schema v4: the state's version, in the database.
--
-- `state` moves with every change of the maintenance row or an execution's status:
-- a write admitted under one version commits only while it is still that version
-- (the race-free rule, enforced in the write's own transaction). `policy` and
-- `users` move with the policy selection and the users, so a host can tell cheaply
-- that another one changed them.
CREATE TABLE generations (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    state  INTEGER NOT NULL,
    policy INTEGER NOT NULL,
    users  INTEGER NOT NULL
);
INSERT INTO generations (id, state, policy, users) VALUES (1, 1, 1, 1);
