-- drydock schema v3: digests of the compiled policy artifacts in the cache folder.
--
-- A compiled artifact is native code. The engine uses one from the cache folder only
-- if its sha256 is the one recorded here when it was written, so whoever can write
-- that folder cannot make the host run anything it did not compile itself.
CREATE TABLE policy_artifacts (
    component_sha256 TEXT NOT NULL,   -- the component the artifact was compiled from
    engine           TEXT NOT NULL,   -- the engine's compatibility hash
    artifact_sha256  TEXT NOT NULL,
    PRIMARY KEY (component_sha256, engine)
);
