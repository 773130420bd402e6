-- Artifacts: files that runs take as input or produce, stored in PostgreSQL as 1 MiB
-- bytea chunks (STORAGE EXTERNAL: no compression attempt; measured here, 50 MiB went in
-- in ≈ 260 ms as chunks against ≈ 690 ms through a large object, and chunks keep ordinary
-- privileges, cascades and range reads by key). Content-addressed: a finished upload is
-- named by the SHA-256 of its bytes, and the same bytes are stored once. Who may read one
-- follows the runs that reference it (artifact_refs), besides its uploader and
-- administrators.
CREATE TABLE trellis.artifacts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL while the upload is in progress.
    sha256        text UNIQUE CONSTRAINT artifacts_sha256_format CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    name          text NOT NULL DEFAULT '' CONSTRAINT artifacts_name_length CHECK (length(name) <= 255),
    media_type    text NOT NULL DEFAULT 'application/octet-stream'
                  CONSTRAINT artifacts_media_type_format CHECK (media_type ~ '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$'),
    size          bigint NOT NULL DEFAULT 0 CONSTRAINT artifacts_size_nonnegative CHECK (size >= 0),
    chunk_size    integer NOT NULL DEFAULT 1048576,
    created_by    bigint NOT NULL REFERENCES trellis.principals (id) ON DELETE RESTRICT,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    -- When a run last took a reference to it: pruning removes an artifact once no run
    -- references it any more, or after trellis.artifact_unused_days when none ever did.
    referenced_at timestamptz,
    CONSTRAINT artifacts_complete_has_sha CHECK ((completed_at IS NULL) = (sha256 IS NULL))
);
CREATE INDEX artifacts_created_by_idx ON trellis.artifacts (created_by, created_at);

CREATE TABLE trellis.artifact_chunks (
    artifact_id  bigint NOT NULL REFERENCES trellis.artifacts (id) ON DELETE CASCADE,
    seq          integer NOT NULL CONSTRAINT artifact_chunks_seq_nonnegative CHECK (seq >= 0),
    data         bytea NOT NULL,
    PRIMARY KEY (artifact_id, seq)
);
ALTER TABLE trellis.artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- The runs (and nodes) that reference an artifact, as input or output.
CREATE TABLE trellis.artifact_refs (
    artifact_id  bigint NOT NULL REFERENCES trellis.artifacts (id) ON DELETE CASCADE,
    run_id       uuid NOT NULL REFERENCES trellis.workflow_runs (id) ON DELETE CASCADE,
    node_run_id  bigint,
    role         text NOT NULL CONSTRAINT artifact_refs_role_check CHECK (role IN ('input', 'output')),
    UNIQUE NULLS NOT DISTINCT (artifact_id, run_id, node_run_id, role)
);
CREATE INDEX artifact_refs_run_idx ON trellis.artifact_refs (run_id);
