-- The data schema of an environment (Flowize: "the customer Data Schema"): a JSON Schema
-- (draft 4) that every record pushed into the environment must satisfy.
CREATE TABLE data_schemas (
    org_id            bigint      NOT NULL,
    environment_id    bigint      NOT NULL,
    schema_text       text        NOT NULL,
    data_record_text  text        NOT NULL,
    url               text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    modified_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, environment_id),
    FOREIGN KEY (org_id, environment_id) REFERENCES environments ON DELETE CASCADE
);
