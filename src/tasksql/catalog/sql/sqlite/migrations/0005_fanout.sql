-- 0005: work that runs on several nodes: runs of RUN ON HOSTS tasks (one per node and instant),
-- the cluster a node belongs to, and the sub-tasks of a fanned-out maintenance run.

-- The node a RUN ON HOSTS run belongs to (NULL: an ordinary run, fenced by runs_fence).
ALTER TABLE runs ADD COLUMN host_node TEXT;

-- The fence of ordinary runs now leaves RUN ON HOSTS runs out: they have a fence of their own.
DROP INDEX runs_fence;
CREATE UNIQUE INDEX runs_fence ON runs (task_id, scheduled_time)
    WHERE scheduled_from = 'SCHEDULE' AND attempt_number = 1 AND (root_task_id IS NULL OR root_task_id = task_id)
      AND host_node IS NULL;

-- The fence of RUN ON HOSTS: a scheduled instant of a task runs at most once on each node.
CREATE UNIQUE INDEX runs_host_fence ON runs (task_id, scheduled_time, host_node)
    WHERE scheduled_from = 'SCHEDULE' AND attempt_number = 1 AND host_node IS NOT NULL;

-- The cluster a node belongs to (its setting cluster_id; Ocient's LOCATION CLUSTER c picks by it).
ALTER TABLE nodes ADD COLUMN cluster_id TEXT;

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
