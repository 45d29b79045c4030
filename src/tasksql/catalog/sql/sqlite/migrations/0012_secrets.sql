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

-- GRANT USAGE | READ ON SECRET: the grants' object kind may be SECRET (SQLite changes a CHECK by
-- building the table again).
CREATE TABLE security_privileges_0012 AS SELECT * FROM security_privileges;
DROP TABLE security_privileges;
CREATE TABLE security_privileges (
    privilege   TEXT NOT NULL,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('ACCOUNT', 'TASK', 'WAREHOUSE', 'DATABASE', 'SCHEMA', 'SECRET')),
    object_name TEXT NOT NULL,
    role        TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    created_on  TEXT NOT NULL,
    PRIMARY KEY (privilege, object_kind, object_name, role)
);
INSERT INTO security_privileges SELECT * FROM security_privileges_0012;
DROP TABLE security_privileges_0012;
