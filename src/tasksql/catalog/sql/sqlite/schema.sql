-- The tasksql catalog on SQLite: the whole current schema.
--
-- A new catalog is created from this file; an existing one is brought here by the numbered files in
-- migrations/. tests/catalog/test_catalog_migrations.py proves both give the same sqlite_master.
--
-- Conventions:
--   * instants are UTC, stored as ISO-8601 text with microseconds and a Z suffix,
--     'YYYY-MM-DDTHH:MM:SS.ffffffZ' (fixed width, so text order is time order);
--   * booleans are 0/1 integers;
--   * task definitions are JSON written by tasksql.model.task_to_json (versioned by its "v" key);
--   * secrets (webhook headers, passwords inside warehouse URLs) are stored as given.

-- Which migrations are applied (a catalog created from this file records them all).
CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_on TEXT NOT NULL
);

-- One row: change_seq grows with every committed definition change (tasks, integrations,
-- warehouses), whichever process made it; schedulers compare it to know when to reload.
-- node_epoch is the last epoch handed out to a joining node (epochs never repeat).
CREATE TABLE catalog_meta (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    change_seq INTEGER NOT NULL CHECK (change_seq >= 0),
    node_epoch INTEGER NOT NULL DEFAULT 0 CHECK (node_epoch >= 0)
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
    last_altered_on              TEXT NOT NULL,
    webhook_body_template        TEXT,
    webhook_secret               TEXT
) WITHOUT ROWID;

-- Warehouses (CREATE WAREHOUSE); 'default' (embedded DuckDB) is seeded when the catalog opens.
CREATE TABLE warehouses (
    name            TEXT PRIMARY KEY,
    type            TEXT NOT NULL,
    url             TEXT,
    max_concurrency INTEGER CHECK (max_concurrency IS NULL OR max_concurrency >= 1),
    comment         TEXT,
    created_on      TEXT NOT NULL,
    last_altered_on TEXT NOT NULL,
    -- tasksql role -> database role (a JSON object); NULL: none
    role_mapping    TEXT
) WITHOUT ROWID;

-- Global key/value settings (history retention, ...).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Runs: one row per execution of a task version for one instant (or manual / retry trigger),
-- inserted when fired and settled once. Columns follow Snowflake's TASK_HISTORY.
CREATE TABLE runs (
    run_id             INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id            INTEGER NOT NULL,
    task_version       INTEGER NOT NULL,
    name               TEXT NOT NULL,
    database_name      TEXT NOT NULL,
    schema_name        TEXT NOT NULL,
    scheduled_time     TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('SCHEDULED', 'EXECUTING', 'SUCCEEDED', 'FAILED',
                                                      'CANCELLED', 'SKIPPED', 'FAILED_AND_AUTO_SUSPENDED')),
    scheduled_from     TEXT NOT NULL,
    attempt_number     INTEGER NOT NULL DEFAULT 1 CHECK (attempt_number >= 1),
    query_start_time   TEXT,
    completed_time     TEXT,
    error_code         TEXT,
    error_message      TEXT,
    query_text         TEXT,
    condition_text     TEXT,
    warehouse          TEXT,
    node_id            TEXT,
    graph_run_group_id TEXT,
    root_task_id       INTEGER,
    graph_version      INTEGER,
    config             TEXT,
    rows_produced      INTEGER,
    rows_inserted      INTEGER,
    return_value       TEXT,
    query_id           TEXT,
    host_node          TEXT
);

-- The fence: a scheduled instant of a task (a standalone task or a graph's root) gets at most one
-- first attempt, whichever node fires it. Runs of RUN ON HOSTS tasks (host_node: the node the run
-- belongs to) have their own: an instant runs at most once on each node.
CREATE UNIQUE INDEX runs_fence ON runs (task_id, scheduled_time)
    WHERE scheduled_from = 'SCHEDULE' AND attempt_number = 1 AND (root_task_id IS NULL OR root_task_id = task_id)
      AND host_node IS NULL;
CREATE UNIQUE INDEX runs_host_fence ON runs (task_id, scheduled_time, host_node)
    WHERE scheduled_from = 'SCHEDULE' AND attempt_number = 1 AND host_node IS NOT NULL;
-- The fence of triggered runs (scheduled_from 'TRIGGER'): a trigger instant runs at most once.
CREATE UNIQUE INDEX runs_trigger_fence ON runs (task_id, scheduled_time)
    WHERE scheduled_from = 'TRIGGER' AND attempt_number = 1 AND (root_task_id IS NULL OR root_task_id = task_id);

-- The fence inside a graph run: each task runs once per graph run and attempt.
CREATE UNIQUE INDEX runs_graph_fence ON runs (graph_run_group_id, task_id, attempt_number)
    WHERE graph_run_group_id IS NOT NULL;

-- Last run per task.
CREATE INDEX runs_task ON runs (task_id, run_id);

-- History by task, newest first (runs_list with a task: a page, a time range, a page deep in it).
CREATE INDEX runs_task_time ON runs (task_id, scheduled_time, run_id);

-- History by time (task_history ranges, pruning).
CREATE INDEX runs_time ON runs (scheduled_time);

-- (No index on unsettled runs by node: the reaper looks for them only when a node died, and an
-- index would cost two page writes on every run.)

-- Nodes: every scheduler process that used this catalog; heartbeat_at proves it is alive.
CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    role         TEXT NOT NULL,
    version      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    stopped_at   TEXT,
    epoch        INTEGER NOT NULL DEFAULT 0,
    lease_state  TEXT NOT NULL DEFAULT 'none'
        CHECK (lease_state IN ('none', 'live', 'draining', 'left', 'lost')),
    lease_ms     INTEGER CHECK (lease_ms IS NULL OR lease_ms > 0),
    lease_until  TEXT,
    capacity     INTEGER CHECK (capacity IS NULL OR capacity >= 1),
    running      INTEGER NOT NULL DEFAULT 0 CHECK (running >= 0),
    warehouses   TEXT,
    address      TEXT,
    cluster_id   TEXT
) WITHOUT ROWID;

-- Which node runs each task: the holder (node and epoch; NULL: nobody), the node it is pinned to
-- (NULL: any node that serves its warehouse), since when it is held. SQLite's write lock makes
-- every claim serial (see docs/architecture.md, "Cluster coordination").
CREATE TABLE placements (
    task_id     INTEGER PRIMARY KEY,
    node_id     TEXT,
    epoch       INTEGER,
    pinned_node TEXT,
    placed_at   TEXT
);

-- The placements of one holder.
CREATE INDEX placements_holder ON placements (node_id, epoch);

-- Sub-tasks: one row per node of one run of a maintenance task that fans out (Ocient LOCATION
-- SYSTEM or CLUSTER, and rebalance), executed by that node; the run settles when all have.
CREATE TABLE subtasks (
    subtask_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER NOT NULL,
    task_id        INTEGER NOT NULL,
    task_name      TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    task_type      TEXT NOT NULL,
    location       TEXT NOT NULL,
    state          TEXT NOT NULL
        CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    items_done     INTEGER NOT NULL DEFAULT 0 CHECK (items_done >= 0),
    items_total    INTEGER NOT NULL DEFAULT 0 CHECK (items_total >= 0),
    detail         TEXT,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    completed_time TEXT,
    error_code     TEXT,
    error_message  TEXT
);

-- The sub-tasks of a run; the open sub-tasks of a node.
CREATE INDEX subtasks_run ON subtasks (run_id);
CREATE INDEX subtasks_open ON subtasks (node_id) WHERE state IN ('PENDING', 'RUNNING');

-- Graph runs: one row per run of a task graph (a root task with children or a finalizer), the
-- unit of Snowflake's COMPLETE_TASK_GRAPHS / CURRENT_TASK_GRAPHS. Every run of a member task carries
-- the group id. A retry (EXECUTE TASK ... RETRY LAST) continues the same group with attempt + 1.
CREATE TABLE graph_runs (
    graph_run_group_id    TEXT PRIMARY KEY,
    root_task_id          INTEGER NOT NULL,
    root_task_name        TEXT NOT NULL,
    database_name         TEXT NOT NULL,
    schema_name           TEXT NOT NULL,
    graph_version         INTEGER NOT NULL,
    state                 TEXT NOT NULL CHECK (state IN ('EXECUTING', 'SUCCEEDED', 'FAILED', 'CANCELLED',
                                                         'SKIPPED')),
    scheduled_from        TEXT NOT NULL,
    scheduled_time        TEXT NOT NULL,
    query_start_time      TEXT,
    completed_time        TEXT,
    attempt_number        INTEGER NOT NULL DEFAULT 1,
    root_run_id           INTEGER,
    first_error_task_name TEXT,
    first_error_code      TEXT,
    first_error_message   TEXT,
    config                TEXT,
    node_id               TEXT
);

-- Graph runs of a root, newest last; unsettled graph runs by node (the reaper).
CREATE INDEX graph_runs_root ON graph_runs (root_task_id, scheduled_time);
CREATE INDEX graph_runs_open ON graph_runs (node_id) WHERE state = 'EXECUTING';

-- Graph versions: the member task versions of every graph a root has run. A graph run pins one; a
-- change of any member (or of the membership) makes the next graph run use a new version.
CREATE TABLE graph_versions (
    root_task_id  INTEGER NOT NULL,
    graph_version INTEGER NOT NULL CHECK (graph_version >= 1),
    members       TEXT NOT NULL,
    created_on    TEXT NOT NULL,
    PRIMARY KEY (root_task_id, graph_version)
) WITHOUT ROWID;

CREATE UNIQUE INDEX graph_versions_members ON graph_versions (root_task_id, members);

-- The notification outbox: one row per message (an event for one integration), written in the same
-- transaction as the run outcome that caused it. A dispatcher claims due PENDING rows by setting
-- leased_by/lease_until; attempts counts recorded delivery attempts; a message ends DELIVERED, or
-- FAILED when the dispatcher gave up. message_id is sent with every attempt (receivers de-duplicate).
CREATE TABLE notification_outbox (
    message_id      TEXT PRIMARY KEY,
    integration     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    leased_by       TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    delivered_at    TEXT
) WITHOUT ROWID;

-- What a dispatcher asks for: pending messages by the instant they are next due.
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'PENDING';

-- Settled messages by age (pruning).
CREATE INDEX notification_outbox_settled ON notification_outbox (created_at) WHERE state <> 'PENDING';

-- Every delivery attempt (system.notification_history); deleted with its message when pruned.
CREATE TABLE notification_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL,
    integration TEXT NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    status_code INTEGER,
    error       TEXT,
    sent_at     TEXT NOT NULL,
    duration_ms REAL
);

-- The attempts of one message, in order.
CREATE INDEX notification_history_message ON notification_history (message_id, attempt);

-- Users, roles and privileges (docs/security.md). Names are stored in lower case. The system roles
-- (accountadmin, securityadmin, sysadmin, public) are not rows: they always exist.

-- Users: who calls. token_sha256 is the hex SHA-256 of the user's API token (the token itself is
-- shown once, when it is made, and never stored).
CREATE TABLE security_users (
    name         TEXT PRIMARY KEY,
    default_role TEXT,
    disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    comment      TEXT,
    token_sha256 TEXT UNIQUE,
    created_by   TEXT NOT NULL,
    created_on   TEXT NOT NULL
);

-- Roles made by CREATE ROLE; owner is the role that made it.
CREATE TABLE security_roles (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    comment    TEXT,
    created_on TEXT NOT NULL
);

-- GRANT ROLE role TO {ROLE | USER} grantee.
CREATE TABLE security_role_grants (
    role         TEXT NOT NULL,
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('ROLE', 'USER')),
    grantee      TEXT NOT NULL,
    granted_by   TEXT NOT NULL,
    created_on   TEXT NOT NULL,
    PRIMARY KEY (role, grantee_kind, grantee)
);

-- GRANT privilege ON kind object TO ROLE role (object: '' for the account, a task's id as text,
-- db.schema.name for a secret).
CREATE TABLE security_privileges (
    privilege   TEXT NOT NULL,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('ACCOUNT', 'TASK', 'WAREHOUSE', 'DATABASE', 'SCHEMA', 'SECRET')),
    object_name TEXT NOT NULL,
    role        TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    created_on  TEXT NOT NULL,
    PRIMARY KEY (privilege, object_kind, object_name, role)
);

-- system.audit_log: every DDL, grant, revoke and manual execution, kept by the history retention.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    role_name     TEXT NOT NULL,
    statement     TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED')),
    error_code    TEXT,
    error_message TEXT
);

-- Pruning by age.
CREATE INDEX audit_log_at ON audit_log (at);

-- What each check_disk run checked: one row per object (catalog, warehouse file, table, index).
CREATE TABLE storage_checks (
    check_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL,
    task_id     INTEGER NOT NULL,
    task_name   TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    storage_id  TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('OK', 'DAMAGED', 'FIXED', 'SKIPPED')),
    detail      TEXT,
    checked_at  TEXT NOT NULL
);

-- The checks of a run.
CREATE INDEX storage_checks_run ON storage_checks (run_id);

-- Secret objects (CREATE SECRET); name is database, schema and name joined by U+001F. source
-- STRING keeps the secret itself in value (see docs/security.md), ENV a variable's name, FILE a path.
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
