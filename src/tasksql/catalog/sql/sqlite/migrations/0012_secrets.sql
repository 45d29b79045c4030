-- 0012: secret objects (CREATE SECRET ... TYPE = GENERIC_STRING, as Snowflake writes it) and the
-- secret a notification integration puts in place of SNOWFLAKE_WEBHOOK_SECRET (WEBHOOK_SECRET).
-- A secret's name is its database, schema and name joined by U+001F (QualifiedName.key); source
-- STRING keeps the secret itself in value, ENV the name of an environment variable, FILE a path.
CREATE TABLE secrets (
    name            TEXT PRIMARY KEY,
    type            TEXT NOT NULL CHECK (type = 'GENERIC_STRING'),
    source          TEXT NOT NULL CHECK (source IN ('STRING', 'ENV', 'FILE')),
    value           TEXT NOT NULL,
    owner           TEXT NOT NULL,
    comment         TEXT,
    created_on      TEXT NOT NULL,
    last_altered_on TEXT NOT NULL
) WITHOUT ROWID;

ALTER TABLE integrations ADD COLUMN webhook_secret TEXT;
