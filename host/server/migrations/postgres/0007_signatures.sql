-- Policy signatures (as SQLite 0010): shared by every host on the database.
CREATE TABLE policy_signatures (
    sha256   TEXT NOT NULL,
    key_id   TEXT NOT NULL,
    line     TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (sha256, key_id)
);
