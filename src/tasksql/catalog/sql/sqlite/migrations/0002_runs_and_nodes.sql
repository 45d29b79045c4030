-- 0002: run history (runs, with the UNIQUE fences that make each instant fire once), the
-- nodes that run schedulers (heartbeats, for the reaper), graph runs and graph versions.

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
    query_id           TEXT
);

-- The fence: a scheduled instant of a task (a standalone task or a graph's root) gets at most one
-- first attempt, whichever node fires it.
CREATE UNIQUE INDEX runs_fence ON runs (task_id, scheduled_time)
    WHERE scheduled_from = 'SCHEDULE' AND attempt_number = 1 AND (root_task_id IS NULL OR root_task_id = task_id);

-- The fence inside a graph run: each task runs once per graph run and attempt.
CREATE UNIQUE INDEX runs_graph_fence ON runs (graph_run_group_id, task_id, attempt_number)
    WHERE graph_run_group_id IS NOT NULL;

-- History by task, newest first; last run per task.
CREATE INDEX runs_task ON runs (task_id, run_id);

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
    stopped_at   TEXT
) WITHOUT ROWID;

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
