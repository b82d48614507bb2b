-- The decision log (as SQLite 0009): shared by every host on the database.
CREATE TABLE decisions (
    seq           BIGSERIAL PRIMARY KEY,
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
