-- drydock schema v10: policy signatures.
--
-- One row per signer (key) and signed bytes: an Ed25519 signature over a
-- component's sha256, as the signature line `drydock policy sign` writes. Keyed by
-- the bytes, not the stored version: a signature stays true of its bytes, and a
-- version deleted and uploaded again finds its signatures. Checked against the
-- trusted keys at every door (upload, activate, shadow, rollback, start-up, follow).
CREATE TABLE policy_signatures (
    sha256   TEXT NOT NULL,
    key_id   TEXT NOT NULL,
    line     TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (sha256, key_id)
);
