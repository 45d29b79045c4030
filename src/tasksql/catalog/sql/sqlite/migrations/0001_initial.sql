-- 0001: the initial catalog: schema_version, catalog_meta, tasks, task_versions, integrations,
-- warehouses, settings. See schema.sql for the conventions (UTC ISO-8601 text instants, JSON
-- definitions).

-- Which migrations are applied.
CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_on TEXT NOT NULL
);

-- One row: change_seq grows with every committed definition change (tasks, integrations,
-- warehouses), whichever process made it; schedulers compare it to know when to reload.
CREATE TABLE catalog_meta (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    change_seq INTEGER NOT NULL CHECK (change_seq >= 0)
);

INSERT INTO catalog_meta (id, change_seq) VALUES (1, 0);

-- Tasks, live and dropped. A task keeps its id for life (AUTOINCREMENT: ids are never reused, so
-- history rows can reference them); dropping sets dropped_on and frees the name.
CREATE TABLE tasks (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    database_name        TEXT NOT NULL,
    schema_name          TEXT NOT NULL,
    name                 TEXT NOT NULL,
    version              INTEGER NOT NULL CHECK (version >= 1),
    definition           TEXT NOT NULL,
    canonical_sql        TEXT,
    spelling             TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('started', 'suspended')),
    suspend_reason       TEXT,
    owner                TEXT NOT NULL,
    created_on           TEXT NOT NULL,
    last_committed_on    TEXT NOT NULL,
    last_suspended_on    TEXT,
    resumed_on           TEXT,
    next_fire_at         TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    dropped_on           TEXT
);

-- The fence for names: one live task per name, any number of dropped ones.
CREATE UNIQUE INDEX tasks_live_name ON tasks (database_name, schema_name, name)
    WHERE dropped_on IS NULL;

-- What a scheduler asks for: started live tasks by next fire instant.
CREATE INDEX tasks_due ON tasks (next_fire_at)
    WHERE dropped_on IS NULL AND state = 'started' AND next_fire_at IS NOT NULL;

-- Every committed definition of every task; kept when the task is dropped.
CREATE TABLE task_versions (
    task_id       INTEGER NOT NULL REFERENCES tasks (id),
    version       INTEGER NOT NULL CHECK (version >= 1),
    definition    TEXT NOT NULL,
    canonical_sql TEXT,
    created_on    TEXT NOT NULL,
    actor         TEXT,
    PRIMARY KEY (task_id, version)
) WITHOUT ROWID;

-- Notification integrations (CREATE NOTIFICATION INTEGRATION); webhook_* are NULL without a webhook.
CREATE TABLE integrations (
    name                         TEXT PRIMARY KEY,
    type                         TEXT NOT NULL,
    enabled                      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    webhook_url                  TEXT,
    webhook_method               TEXT,
    webhook_authorization_header TEXT,
    webhook_signing_secret       TEXT,
    comment                      TEXT,
    created_on                   TEXT NOT NULL,
    last_altered_on              TEXT NOT NULL
) WITHOUT ROWID;

-- Warehouses (CREATE WAREHOUSE); 'default' (embedded DuckDB) is seeded when the catalog opens.
CREATE TABLE warehouses (
    name            TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    url             TEXT,
    max_concurrency INTEGER CHECK (max_concurrency IS NULL OR max_concurrency >= 1),
    comment         TEXT,
    created_on      TEXT NOT NULL,
    last_altered_on TEXT NOT NULL
) WITHOUT ROWID;

-- Global key/value settings (history retention, ...).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
