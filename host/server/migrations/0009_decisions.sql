-- The decision log: what the gate answered, with the input the policy saw (the
-- record, JSON), bounded by count and age (the writer prunes it).
CREATE TABLE decisions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    at            TEXT NOT NULL,
    verdict       TEXT NOT NULL,
    origin        TEXT NOT NULL,
    username      TEXT NOT NULL,
    path          TEXT NOT NULL,
    policy_sha256 TEXT,
    record        TEXT NOT NULL
);
CREATE INDEX decisions_at ON decisions (at);
