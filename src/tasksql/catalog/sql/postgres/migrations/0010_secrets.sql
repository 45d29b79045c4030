-- 0010: secret objects (CREATE SECRET ... TYPE = GENERIC_STRING, as Snowflake writes it) and the
-- secret a notification integration puts in place of SNOWFLAKE_WEBHOOK_SECRET (WEBHOOK_SECRET).
-- A secret's name is its database, schema and name joined by U+001F (QualifiedName.key); source
-- STRING keeps the secret itself in value, ENV the name of an environment variable, FILE a path.
CREATE TABLE secrets (
    name            text PRIMARY KEY,
    type            text NOT NULL CHECK (type = 'GENERIC_STRING'),
    source          text NOT NULL CHECK (source IN ('STRING', 'ENV', 'FILE')),
    value           text NOT NULL,
    owner           text NOT NULL,
    comment         text,
    created_on      timestamptz NOT NULL,
    last_altered_on timestamptz NOT NULL
);

ALTER TABLE integrations ADD COLUMN webhook_secret text;

-- GRANT USAGE | READ ON SECRET: the grants' object kind may be SECRET.
ALTER TABLE security_privileges DROP CONSTRAINT security_privileges_object_kind_check;
ALTER TABLE security_privileges ADD CONSTRAINT security_privileges_object_kind_check
    CHECK (object_kind IN ('ACCOUNT', 'TASK', 'WAREHOUSE', 'DATABASE', 'SCHEMA', 'SECRET'));
