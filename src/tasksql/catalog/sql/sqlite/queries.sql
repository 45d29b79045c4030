-- Named queries of the SQLite catalog, loaded by tasksql.catalog.queries.
--
-- Each query starts with a "-- name: <query_name>" line followed by a one-line "-- description";
-- a line ending in "-- if <filter>" is kept only when that filter is given (CatalogDialect.shaped);
-- parameters are named (:param). Instants are 'YYYY-MM-DDTHH:MM:SS.ffffffZ' text (see schema.sql).

-- name: schema_versions
-- Every applied migration version, oldest first.
SELECT version, name FROM schema_version ORDER BY version;

-- name: schema_version_insert
-- Record that a migration was applied.
INSERT INTO schema_version (version, name, applied_on) VALUES (:version, :name, :applied_on);

-- name: schema_objects
-- Names of the tables, indexes, views and triggers in the database (to recognise a tasksql catalog).
SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name;

-- name: change_seq
-- The current change sequence.
SELECT change_seq FROM catalog_meta WHERE id = 1;

-- name: meta_touch
-- Rewrite the meta row unchanged (a write for a durable commit to flush).
UPDATE catalog_meta SET change_seq = change_seq WHERE id = 1;

-- name: change_seq_bump
-- Advance the change sequence by one and return the new value.
UPDATE catalog_meta SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq;

-- name: task_by_name
-- The live task with this resolved name.
SELECT * FROM tasks
WHERE database_name = :database_name AND schema_name = :schema_name AND name = :name
  AND dropped_on IS NULL;

-- name: task_by_name_for_update
-- The live task with this resolved name, read to change it (the group's write lock, taken at
-- BEGIN IMMEDIATE, already keeps other writers out).
SELECT * FROM tasks
WHERE database_name = :database_name AND schema_name = :schema_name AND name = :name
  AND dropped_on IS NULL;

-- name: task_by_id
-- The live task with this id.
SELECT * FROM tasks WHERE id = :id AND dropped_on IS NULL;

-- name: task_by_id_for_update
-- The live task with this id, read to change it (the group's write lock, taken at BEGIN IMMEDIATE,
-- already keeps other writers out).
SELECT * FROM tasks WHERE id = :id AND dropped_on IS NULL;

-- name: tasks_live
-- Every live task, ordered by name.
SELECT * FROM tasks WHERE dropped_on IS NULL ORDER BY database_name, schema_name, name;

-- name: task_stubs
-- What a scheduler caches of the live tasks after an id, by id (LIMIT -1: all): no definition,
-- only whether the task belongs to a graph (runs after others or finalizes one). Keys left at
-- their default are absent from the JSON, and inside a JSON string a quote is escaped, so
-- '"after":' occurs only as a key: a body that mentions it cannot match; a key of that name nested
-- in a value could, and costs one whole read.
SELECT id, version, state, suspend_reason, resumed_on, last_committed_on, next_fire_at,
    consecutive_failures,
    instr(definition, '"after":') > 0 OR instr(definition, '"finalize":') > 0 AS in_graph
FROM tasks WHERE dropped_on IS NULL AND id > :after_id ORDER BY id LIMIT :limit;

-- name: tasks_by_ids
-- The live tasks among a JSON array of ids, by id.
SELECT * FROM tasks
WHERE id IN (SELECT value FROM json_each(:ids)) AND dropped_on IS NULL ORDER BY id;

-- name: task_retentions
-- HISTORY_RETENTION (milliseconds) of every live task that sets one.
SELECT id, json_extract(definition, '$.history_retention_ms') AS retention_ms
FROM tasks
WHERE dropped_on IS NULL AND json_type(definition, '$.history_retention_ms') IS NOT NULL;

-- name: task_insert
-- Store a new task row and return its id.
INSERT INTO tasks (
    database_name, schema_name, name, version, definition, canonical_sql, spelling, state,
    suspend_reason, owner, created_on, last_committed_on, last_suspended_on, resumed_on,
    next_fire_at, consecutive_failures, dropped_on
) VALUES (
    :database_name, :schema_name, :name, :version, :definition, :canonical_sql, :spelling, :state,
    :suspend_reason, :owner, :created_on, :last_committed_on, :last_suspended_on, :resumed_on,
    :next_fire_at, :consecutive_failures, :dropped_on
) RETURNING id;

-- name: task_write
-- Overwrite every mutable column of a task row (the caller merged the change into the row).
UPDATE tasks SET
    database_name = :database_name, schema_name = :schema_name, name = :name, version = :version,
    definition = :definition, canonical_sql = :canonical_sql, spelling = :spelling, state = :state,
    suspend_reason = :suspend_reason, owner = :owner, last_committed_on = :last_committed_on,
    last_suspended_on = :last_suspended_on, resumed_on = :resumed_on, next_fire_at = :next_fire_at,
    consecutive_failures = :consecutive_failures, dropped_on = :dropped_on
WHERE id = :id;

-- name: task_version_insert
-- Record one committed version of a task's definition.
INSERT INTO task_versions (task_id, version, definition, canonical_sql, created_on, actor)
VALUES (:task_id, :version, :definition, :canonical_sql, :created_on, :actor);

-- name: task_versions
-- Every version of a task, oldest first.
SELECT * FROM task_versions WHERE task_id = :task_id ORDER BY version;

-- name: task_version
-- One version of a task.
SELECT * FROM task_versions WHERE task_id = :task_id AND version = :version;

-- name: integration_by_name
-- The integration with this name.
SELECT * FROM integrations WHERE name = :name;

-- name: integrations_all
-- Every integration, ordered by name.
SELECT * FROM integrations ORDER BY name;

-- name: integration_upsert
-- Create an integration or overwrite one of that name, keeping its created_on.
INSERT INTO integrations (
    name, type, enabled, webhook_url, webhook_method, webhook_authorization_header,
    webhook_signing_secret, comment, created_on, last_altered_on, webhook_body_template,
    webhook_secret
) VALUES (
    :name, :type, :enabled, :webhook_url, :webhook_method, :webhook_authorization_header,
    :webhook_signing_secret, :comment, :created_on, :last_altered_on, :webhook_body_template,
    :webhook_secret
) ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, enabled = excluded.enabled, webhook_url = excluded.webhook_url,
    webhook_method = excluded.webhook_method,
    webhook_authorization_header = excluded.webhook_authorization_header,
    webhook_signing_secret = excluded.webhook_signing_secret, comment = excluded.comment,
    webhook_body_template = excluded.webhook_body_template, webhook_secret = excluded.webhook_secret,
    last_altered_on = excluded.last_altered_on;

-- name: integration_insert
-- Create an integration unless one of that name exists; returns its name when it was created.
INSERT INTO integrations (
    name, type, enabled, webhook_url, webhook_method, webhook_authorization_header,
    webhook_signing_secret, comment, created_on, last_altered_on, webhook_body_template,
    webhook_secret
) VALUES (
    :name, :type, :enabled, :webhook_url, :webhook_method, :webhook_authorization_header,
    :webhook_signing_secret, :comment, :created_on, :last_altered_on, :webhook_body_template,
    :webhook_secret
) ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: integration_delete
-- Delete an integration; returns its name when it existed.
DELETE FROM integrations WHERE name = :name RETURNING name;

-- name: secret_by_name
-- The secret with this name (database, schema and name joined by U+001F).
SELECT * FROM secrets WHERE name = :name;

-- name: secrets_all
-- Every secret, ordered by name.
SELECT * FROM secrets ORDER BY name;

-- name: secret_upsert
-- Create a secret or overwrite one of that name, keeping its created_on.
INSERT INTO secrets (name, type, source, value, owner, comment, created_on, last_altered_on)
VALUES (:name, :type, :source, :value, :owner, :comment, :created_on, :last_altered_on)
ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, source = excluded.source, value = excluded.value, owner = excluded.owner,
    comment = excluded.comment, last_altered_on = excluded.last_altered_on;

-- name: secret_insert
-- Create a secret unless one of that name exists; returns its name when it was created.
INSERT INTO secrets (name, type, source, value, owner, comment, created_on, last_altered_on)
VALUES (:name, :type, :source, :value, :owner, :comment, :created_on, :last_altered_on)
ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: secret_delete
-- Delete a secret; returns its name when it existed.
DELETE FROM secrets WHERE name = :name RETURNING name;

-- name: warehouse_by_name
-- The warehouse with this name.
SELECT * FROM warehouses WHERE name = :name;

-- name: warehouses_all
-- Every warehouse, ordered by name.
SELECT * FROM warehouses ORDER BY name;

-- name: warehouse_upsert
-- Create a warehouse or overwrite one of that name, keeping its created_on.
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on, role_mapping)
VALUES (:name, :type, :url, :max_concurrency, :comment, :created_on, :last_altered_on, :role_mapping)
ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, url = excluded.url, max_concurrency = excluded.max_concurrency,
    comment = excluded.comment, last_altered_on = excluded.last_altered_on,
    role_mapping = excluded.role_mapping;

-- name: warehouse_insert
-- Create a warehouse unless one of that name exists (seeds 'default'); returns its name when it was
-- created.
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on, role_mapping)
VALUES (:name, :type, :url, :max_concurrency, :comment, :created_on, :last_altered_on, :role_mapping)
ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: warehouse_delete
-- Delete a warehouse; returns its name when it existed.
DELETE FROM warehouses WHERE name = :name RETURNING name;

-- name: setting_get
-- The value of a setting.
SELECT value FROM settings WHERE key = :key;

-- name: setting_put
-- Set a setting.
INSERT INTO settings (key, value) VALUES (:key, :value)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: setting_delete
-- Remove a setting.
DELETE FROM settings WHERE key = :key;

-- name: run_insert
-- Insert a run unless a fence (runs_fence, runs_graph_fence) already holds that instant; returns its id.
INSERT INTO runs (
    task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
    attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
    condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
) VALUES (
    :task_id, :task_version, :name, :database_name, :schema_name, :scheduled_time, :state, :scheduled_from,
    :attempt_number, :query_start_time, :completed_time, :error_code, :error_message, :query_text,
    :condition_text, :warehouse, :node_id, :graph_run_group_id, :root_task_id, :graph_version, :config
) ON CONFLICT DO NOTHING RETURNING run_id;

-- name: runs_start_claims
-- Start the claims of a node among the JSON array :run_ids (SCHEDULED, not started) at :at;
-- returns their ids, and those of its runs started at :at already (a call repeated).
UPDATE runs SET state = 'EXECUTING', query_start_time = :at
WHERE run_id IN (SELECT value FROM json_each(:run_ids)) AND node_id = :node_id
  AND ((state = 'SCHEDULED' AND query_start_time IS NULL)
       OR (state = 'EXECUTING' AND query_start_time = :at))
RETURNING run_id;

-- name: runs_start_claims_fenced
-- runs_start_claims, only while the fence's lease is live and each run's task (its graph root) is
-- placed on the fence's epoch (the fence's node is :node_id).
UPDATE runs SET state = 'EXECUTING', query_start_time = :at
WHERE run_id IN (SELECT value FROM json_each(:run_ids)) AND node_id = :node_id AND node_id = :fence_node
  AND ((state = 'SCHEDULED' AND query_start_time IS NULL)
       OR (state = 'EXECUTING' AND query_start_time = :at))
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
              WHERE p.task_id = coalesce(runs.root_task_id, runs.task_id)
                AND p.node_id = :fence_node AND p.epoch = :fence_epoch
                AND coalesce(coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node), :fence_node) = :fence_node)
RETURNING run_id;

-- name: runs_take_over_claims
-- Delete the claims other nodes hold of the tasks of the JSON array :task_ids whose placement the
-- fence's epoch holds (runs that never started), of every instant from :margin seconds before the
-- task's next instant on (come or to come; every instant when it has none; the bound, written
-- without its Z, is at most a millisecond early); returns each task's version and instant (the
-- earliest is where its next instant goes back to).
DELETE FROM runs
WHERE task_id IN (SELECT value FROM json_each(:task_ids)) AND node_id <> :fence_node
  AND state = 'SCHEDULED' AND query_start_time IS NULL AND scheduled_from = 'SCHEDULE'
  AND attempt_number = 1 AND graph_run_group_id IS NULL
  AND scheduled_time >= coalesce(
        (SELECT strftime('%Y-%m-%dT%H:%M:%f', t.next_fire_at, '-' || :margin || ' seconds')
         FROM tasks AS t WHERE t.id = runs.task_id), '')
  AND EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = runs.task_id
                AND p.node_id = :fence_node AND p.epoch = :fence_epoch)
RETURNING task_id, task_version, scheduled_time;

-- name: run_by_id
-- One run.
SELECT * FROM runs WHERE run_id = :run_id;

-- name: run_settle
-- Settle (or start) a run that is not settled yet; returns the run id when it was updated.
UPDATE runs SET
    state = :state,
    query_start_time = coalesce(:query_start_time, query_start_time),
    completed_time = coalesce(:completed_time, completed_time),
    error_code = :error_code,
    error_message = :error_message,
    rows_produced = coalesce(:rows_produced, rows_produced),
    rows_inserted = coalesce(:rows_inserted, rows_inserted),
    return_value = coalesce(:return_value, return_value),
    query_id = coalesce(:query_id, query_id)
WHERE run_id = :run_id AND state IN ('SCHEDULED', 'EXECUTING')
RETURNING run_id;

-- name: runs_list
-- History, newest first; a line ending in "-- if <filter>" is kept only when that filter is given.
SELECT * FROM runs
WHERE TRUE
  AND task_id = :task_id  -- if task_id
  AND scheduled_time >= :start  -- if start
  AND scheduled_time < :end  -- if end
  AND state IN ('FAILED', 'FAILED_AND_AUTO_SUSPENDED')  -- if error_only
  AND root_task_id = :root_task_id  -- if root_task_id
ORDER BY scheduled_time DESC, run_id DESC
LIMIT :limit;

-- name: runs_last_per_task
-- The latest run of every task: task id, state, and when it last changed (runs claimed for later
-- instants do not count). The tasks with runs are found by stepping through the index by task
-- (one search per task), and each one's latest run by reading it from its newest: the cost grows
-- with the tasks, not with the runs kept.
WITH RECURSIVE ids (task_id) AS (
    SELECT min(task_id) FROM runs
    UNION ALL
    SELECT (SELECT min(task_id) FROM runs WHERE task_id > ids.task_id) FROM ids WHERE ids.task_id IS NOT NULL
)
SELECT r.task_id, r.state, coalesce(r.completed_time, r.query_start_time, r.scheduled_time) AS at
FROM ids
JOIN runs AS r ON r.run_id = (
    SELECT run_id FROM runs
    WHERE task_id = ids.task_id AND (state <> 'SCHEDULED' OR scheduled_time <= :now)
    ORDER BY run_id DESC
    LIMIT 1
);

-- name: runs_open_of_nodes
-- Runs of the nodes in the JSON array :node_ids that are not settled.
SELECT * FROM runs
WHERE node_id IN (SELECT value FROM json_each(:node_ids)) AND state IN ('SCHEDULED', 'EXECUTING')
ORDER BY run_id;

-- name: runs_nodes
-- The node of each run in the JSON array :run_ids.
SELECT run_id, node_id FROM runs WHERE run_id IN (SELECT value FROM json_each(:run_ids));

-- name: runs_lost_committed
-- Record a lost node's run whose body committed (its completion marker was found), if not settled.
UPDATE runs SET state = :state, completed_time = :completed_time,
    query_start_time = coalesce(query_start_time, :query_start_time),
    error_code = :error_code, error_message = :error_message
WHERE run_id = :run_id AND node_id = :node_id AND state IN ('SCHEDULED', 'EXECUTING')
RETURNING task_id;

-- name: runs_lost_skip
-- Record a lost node's run that never started SKIPPED (if it still has not started).
UPDATE runs SET state = 'SKIPPED', completed_time = :completed_time, error_code = :error_code,
    error_message = :error_message
WHERE run_id = :run_id AND node_id = :node_id AND state = 'SCHEDULED' AND query_start_time IS NULL
RETURNING task_id;

-- name: runs_lost_delete
-- Delete a lost node's run that never started (if it still has not started); returns its task,
-- version and instant (for the rewind of a re-planned instant).
DELETE FROM runs
WHERE run_id = :run_id AND node_id = :node_id AND state = 'SCHEDULED' AND query_start_time IS NULL
RETURNING task_id, task_version, scheduled_time;

-- name: task_rewind_next_fire
-- A re-planned instant: the task's next instant goes back to it, while the task is started at the
-- run's version and its next instant is later (or unset).
UPDATE tasks SET next_fire_at = :at
WHERE id = :task_id AND version = :version AND state = 'started' AND dropped_on IS NULL
  AND (next_fire_at IS NULL OR next_fire_at > :at);

-- name: runs_drop_future_claims
-- Delete the runs a node claimed for instants after :now (they never started), but those in the
-- JSON array :keep.
DELETE FROM runs
WHERE node_id = :node_id AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE' AND scheduled_time > :now
  AND query_start_time IS NULL AND run_id NOT IN (SELECT value FROM json_each(:keep))
  AND (:only IS NULL OR run_id IN (SELECT value FROM json_each(:only)));

-- name: runs_skip_lost_unstarted
-- Record SKIPPED every run of a lost node that never started (it is not a failed run), but those
-- in the JSON array :keep.
UPDATE runs SET state = 'SKIPPED', completed_time = :now, error_code = 'NODE_LOST',
    error_message = 'node ' || node_id || ' was lost before the run started'
WHERE node_id = :node_id AND state = 'SCHEDULED' AND query_start_time IS NULL
  AND run_id NOT IN (SELECT value FROM json_each(:keep))
  AND (:only IS NULL OR run_id IN (SELECT value FROM json_each(:only)))
RETURNING run_id;

-- name: runs_release_claim
-- Delete a node's claim of an instant that will not happen (if still SCHEDULED).
DELETE FROM runs
WHERE task_id = :task_id AND scheduled_time = :scheduled_time AND node_id = :node_id
  AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE' AND attempt_number = 1;

-- name: runs_release_claim_fenced
-- runs_release_claim, only for a claim of the fence's node while its lease is live and the task is
-- placed on the fence's epoch (as the claim's insert), or the task is dropped (nobody takes it over):
-- a claim of a task that went to another node is that node's to take over (take_over_claims rewinds
-- the task's next instant to it), not its old holder's to delete.
DELETE FROM runs
WHERE task_id = :task_id AND scheduled_time = :scheduled_time AND node_id = :node_id
  AND node_id = :fence_node
  AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE' AND attempt_number = 1
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND (EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
               WHERE p.task_id = runs.task_id
                 AND p.node_id = :fence_node AND p.epoch = :fence_epoch
                 AND coalesce(coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                    THEN coalesce(json_extract(t.definition, '$.node'),
                                  json_extract(t.definition, '$.body.location_name')) END,
                p.pinned_node), :fence_node) = :fence_node)
       OR EXISTS (SELECT 1 FROM tasks AS d WHERE d.id = runs.task_id AND d.dropped_on IS NOT NULL));

-- name: runs_settle_lost
-- Settle every run of a node that started and is not settled as FAILED (the node stopped during it),
-- but those in the JSON array :keep.
UPDATE runs SET state = 'FAILED', completed_time = :now, error_code = 'NODE_LOST', error_message = :message
WHERE node_id = :node_id AND state IN ('SCHEDULED', 'EXECUTING')
  AND run_id NOT IN (SELECT value FROM json_each(:keep))
  AND (:only IS NULL OR run_id IN (SELECT value FROM json_each(:only)))
RETURNING run_id;

-- name: runs_prune
-- Delete settled runs scheduled before the cutoff: of one task, or (task_id NULL) of every task not
-- listed in the JSON array :exempt (tasks with a retention of their own).
DELETE FROM runs
WHERE scheduled_time < :cutoff
  AND state NOT IN ('SCHEDULED', 'EXECUTING')
  AND (:task_id IS NULL OR task_id = :task_id)
  AND task_id NOT IN (SELECT value FROM json_each(:exempt));

-- name: storage_checks_prune
-- The check_disk results of the runs runs_prune is about to delete (its rule, its parameters).
DELETE FROM storage_checks WHERE run_id IN (
  SELECT run_id FROM runs
  WHERE scheduled_time < :cutoff
    AND state NOT IN ('SCHEDULED', 'EXECUTING')
    AND (:task_id IS NULL OR task_id = :task_id)
    AND task_id NOT IN (SELECT value FROM json_each(:exempt))
);

-- name: subtasks_prune
-- The sub-tasks of the runs runs_prune is about to delete (its rule, its parameters).
DELETE FROM subtasks WHERE run_id IN (
  SELECT run_id FROM runs
  WHERE scheduled_time < :cutoff
    AND state NOT IN ('SCHEDULED', 'EXECUTING')
    AND (:task_id IS NULL OR task_id = :task_id)
    AND task_id NOT IN (SELECT value FROM json_each(:exempt))
);

-- name: task_runtime
-- Scheduler-owned fields of a live task (no version, no change_seq); NULL leaves a field as stored.
UPDATE tasks SET
    next_fire_at = CASE WHEN :clear_next_fire THEN NULL ELSE coalesce(:next_fire_at, next_fire_at) END,
    consecutive_failures = coalesce(:consecutive_failures, consecutive_failures),
    resumed_on = coalesce(:resumed_on, resumed_on),
    state = coalesce(:state, state),
    suspend_reason = CASE WHEN :state IS NULL THEN suspend_reason ELSE :suspend_reason END,
    last_suspended_on = CASE WHEN :state = 'suspended' AND state <> 'suspended' THEN :now
                             ELSE last_suspended_on END
WHERE id = :task_id AND dropped_on IS NULL
  AND (:guarded = 0 OR (version = :guard_version AND resumed_on IS :guard_anchor));

-- name: node_upsert
-- Register a node (again): a restarted node with the same id starts afresh.
INSERT INTO nodes (node_id, host, pid, role, version, started_at, heartbeat_at, stopped_at)
VALUES (:node_id, :host, :pid, :role, :version, :started_at, :heartbeat_at, NULL)
ON CONFLICT (node_id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, role = excluded.role, version = excluded.version,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL;

-- name: node_heartbeat
-- A node is alive.
UPDATE nodes SET heartbeat_at = :now WHERE node_id = :node_id;

-- name: node_stop
-- A node stopped cleanly.
UPDATE nodes SET stopped_at = :now, heartbeat_at = :now WHERE node_id = :node_id;

-- name: nodes_all
-- Every node, most recently started first.
SELECT * FROM nodes ORDER BY started_at DESC;

-- name: graph_version_find
-- The version of a root's graph with exactly these members, if it ran before.
SELECT graph_version FROM graph_versions WHERE root_task_id = :root_task_id AND members = :members;

-- name: graph_version_insert
-- Record a new version of a root's graph (the next number).
INSERT INTO graph_versions (root_task_id, graph_version, members, created_on)
SELECT :root_task_id, coalesce(max(graph_version), 0) + 1, :members, :created_on
FROM graph_versions WHERE root_task_id = :root_task_id
RETURNING graph_version;

-- name: graph_version_members
-- The members (JSON {task id: version}) of one graph version.
SELECT members FROM graph_versions WHERE root_task_id = :root_task_id AND graph_version = :graph_version;

-- name: graph_run_insert
-- Start a graph run (or continue it with a new attempt: same group id).
INSERT INTO graph_runs (
    graph_run_group_id, root_task_id, root_task_name, database_name, schema_name, graph_version, state,
    scheduled_from, scheduled_time, query_start_time, completed_time, attempt_number, root_run_id, config, node_id
) VALUES (
    :graph_run_group_id, :root_task_id, :root_task_name, :database_name, :schema_name, :graph_version, :state,
    :scheduled_from, :scheduled_time, :query_start_time, NULL, :attempt_number, :root_run_id, :config, :node_id
) ON CONFLICT (graph_run_group_id) DO UPDATE SET
    state = excluded.state, attempt_number = excluded.attempt_number, graph_version = excluded.graph_version,
    scheduled_from = excluded.scheduled_from, completed_time = NULL, first_error_task_name = NULL,
    first_error_code = NULL, first_error_message = NULL, node_id = excluded.node_id;

-- name: graph_run_finish
-- Settle a graph run.
UPDATE graph_runs SET
    state = :state, completed_time = :completed_time, first_error_task_name = :first_error_task_name,
    first_error_code = :first_error_code, first_error_message = :first_error_message
WHERE graph_run_group_id = :graph_run_group_id AND state = 'EXECUTING';

-- name: graph_run_by_id
-- One graph run.
SELECT * FROM graph_runs WHERE graph_run_group_id = :graph_run_group_id;

-- name: graph_runs_list
-- Graph runs, newest first: of one root (or all), in some states (JSON array); see runs_list.
SELECT * FROM graph_runs
WHERE TRUE
  AND root_task_id = :root_task_id  -- if root_task_id
  AND state IN (SELECT value FROM json_each(:states))  -- if states
ORDER BY scheduled_time DESC, rowid DESC
LIMIT :limit;

-- name: graph_runs_settle_lost
-- Settle every unsettled graph run of a node as FAILED (the node stopped during it); with the JSON
-- array :graph_runs, only those among them.
UPDATE graph_runs SET state = 'FAILED', completed_time = :now, first_error_code = 'NODE_LOST',
    first_error_message = :message
WHERE node_id = :node_id AND state = 'EXECUTING'
  AND (:graph_runs IS NULL OR graph_run_group_id IN (SELECT value FROM json_each(:graph_runs)));

-- name: runs_of_graph_run
-- Every run of one graph run (all attempts), oldest first.
SELECT * FROM runs WHERE graph_run_group_id = :graph_run_group_id ORDER BY run_id;

-- name: nodes_prune
-- Forget nodes stopped (or silent) before the cutoff that have no unsettled runs.
DELETE FROM nodes
WHERE heartbeat_at < :cutoff
  AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.node_id = nodes.node_id AND runs.state IN ('SCHEDULED', 'EXECUTING'));

-- name: outbox_insert
-- Queue one notification message, due at once; a message id already queued is left as it is.
INSERT INTO notification_outbox (message_id, integration, event_type, payload, created_at, state, attempts,
                                 next_attempt_at)
VALUES (:message_id, :integration, :event_type, :payload, :created_at, 'PENDING', 0, :created_at)
ON CONFLICT (message_id) DO NOTHING;

-- name: outbox_claim
-- Lease up to :limit due PENDING messages with a free (or expired) lease to :node_id, earliest due
-- first; messages of a disabled integration wait. (PostgreSQL: the inner SELECT takes FOR UPDATE
-- SKIP LOCKED; here the writer's BEGIN IMMEDIATE is the lock.)
UPDATE notification_outbox SET leased_by = :node_id, lease_until = :lease_until
WHERE message_id IN (
    SELECT o.message_id
    FROM notification_outbox AS o
    LEFT JOIN integrations AS i ON i.name = o.integration
    WHERE o.state = 'PENDING'
      AND o.next_attempt_at <= :now
      AND (o.lease_until IS NULL OR o.lease_until <= :now)
      AND (i.name IS NULL OR i.enabled = 1)
    ORDER BY o.next_attempt_at, o.created_at, o.message_id
    LIMIT :limit
)
RETURNING *;

-- name: outbox_record
-- Settle one attempt on a PENDING message held by :node_id (a delivery counts whoever holds it);
-- returns the message id when the message was updated.
UPDATE notification_outbox SET
    state = :state,
    attempts = max(attempts, :attempt),
    next_attempt_at = coalesce(:retry_at, next_attempt_at),
    leased_by = NULL,
    lease_until = NULL,
    last_error = :error,
    delivered_at = :delivered_at
WHERE message_id = :message_id
  AND state = 'PENDING'
  AND (leased_by = :node_id OR :state = 'DELIVERED')
RETURNING message_id;

-- name: notification_history_insert
-- Record one delivery attempt of a stored message (nothing when the message is gone).
INSERT INTO notification_history (message_id, integration, attempt, status_code, error, sent_at, duration_ms)
SELECT message_id, integration, :attempt, :status_code, :error, :sent_at, :duration_ms
FROM notification_outbox WHERE message_id = :message_id;

-- name: notification_history_list
-- Delivery attempts, newest first, with the message's event type and state (NULL filters do not filter).
SELECT h.message_id, h.integration, o.event_type, h.attempt, h.status_code, h.error, h.sent_at,
       h.duration_ms, o.state
FROM notification_history AS h
LEFT JOIN notification_outbox AS o ON o.message_id = h.message_id
WHERE (:message_id IS NULL OR h.message_id = :message_id)
  AND (:integration IS NULL OR h.integration = :integration)
ORDER BY h.sent_at DESC, h.id DESC
LIMIT :limit;

-- name: outbox_list
-- Stored messages, oldest first, optionally of one state.
SELECT * FROM notification_outbox
WHERE (:state IS NULL OR state = :state)
ORDER BY created_at, message_id
LIMIT :limit;

-- name: notification_history_prune
-- Delete the attempts of settled (delivered or given-up) messages created before the cutoff.
DELETE FROM notification_history
WHERE message_id IN (SELECT message_id FROM notification_outbox WHERE state <> 'PENDING' AND created_at < :cutoff);

-- name: outbox_prune
-- Delete settled (delivered or given-up) messages created before the cutoff.
DELETE FROM notification_outbox WHERE state <> 'PENDING' AND created_at < :cutoff;

-- name: outbox_next_due
-- When the earliest claimable message is due: its next attempt or the end of its lease, the later.
SELECT min(max(o.next_attempt_at, coalesce(o.lease_until, o.next_attempt_at))) AS due
FROM notification_outbox AS o
LEFT JOIN integrations AS i ON i.name = o.integration
WHERE o.state = 'PENDING' AND (i.name IS NULL OR i.enabled = 1);

-- --- cluster coordination (docs/architecture.md, "Cluster coordination") ------------------------
-- A lease is live while lease_state is 'live' or 'draining' and lease_until is after now, read from
-- the clock of this machine ('now', written as the catalog writes instants: microseconds and Z).
-- The write lock makes every transaction serial, so fenced writes need no row lock.
-- A task's pin is its definition's (NODE = 'n', or Ocient's LOCATION NODE n), else the explicit one
-- of its placement row (pin_tasks):
--   coalesce(<node or LOCATION NODE of t.definition>, p.pinned_node)
-- It is read from the task's row in the statement that uses it, so a pin changed by ALTER TASK
-- holds from the commit of that ALTER on. The text test ('"node":' occurs in the JSON only as that
-- key: inside a JSON string a quote is escaped) spares parsing definitions that pin nothing.

-- name: node_join
-- A node joins (again): its row, a new epoch from the catalog's counter, a live lease from now.
INSERT INTO nodes (node_id, host, pid, role, version, started_at, heartbeat_at, stopped_at, epoch,
                   lease_state, lease_ms, lease_until, capacity, running, warehouses, address)
SELECT :node_id, :host, :pid, :role, :version, :started_at, :started_at, NULL, node_epoch, 'live',
       :lease_ms, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+' || (:lease_ms / 1000.0) || ' seconds'),
       :capacity, 0, :warehouses, :address
FROM catalog_meta WHERE id = 1
ON CONFLICT (node_id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, role = excluded.role, version = excluded.version,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
    epoch = excluded.epoch, lease_state = 'live', lease_ms = excluded.lease_ms,
    lease_until = excluded.lease_until, capacity = excluded.capacity, running = 0,
    warehouses = excluded.warehouses, address = excluded.address
RETURNING epoch, lease_until;

-- name: node_epoch_next
-- Hand out the next epoch (node_join reads it in the same transaction).
UPDATE catalog_meta SET node_epoch = node_epoch + 1 WHERE id = 1 RETURNING node_epoch;

-- name: lease_renew
-- Extend a live lease by its length from now and record the runs executing.
UPDATE nodes SET
    lease_until = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+' || (lease_ms / 1000.0) || ' seconds'),
    running = :running
WHERE node_id = :node_id AND epoch = :epoch AND lease_state IN ('live', 'draining')
  AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
RETURNING lease_until;

-- name: lease_drain
-- A node with a live lease takes no new task.
UPDATE nodes SET lease_state = 'draining'
WHERE node_id = :node_id AND epoch = :epoch AND lease_state IN ('live', 'draining')
  AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
RETURNING node_id;

-- name: lease_leave
-- End a live lease (a clean stop).
UPDATE nodes SET lease_state = 'left', lease_until = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE node_id = :node_id AND epoch = :epoch AND lease_state IN ('live', 'draining')
  AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
RETURNING node_id;

-- name: lease_held
-- The fence's lease if it is live.
SELECT node_id FROM nodes
WHERE node_id = :node_id AND epoch = :epoch AND lease_state IN ('live', 'draining')
  AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now');

-- name: node_epoch_gone
-- The node's row while it still has this epoch and its lease is not live (lost, left, or run out).
SELECT node_id FROM nodes
WHERE node_id = :node_id AND epoch = :epoch
  AND NOT (lease_state IN ('live', 'draining')
           AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));

-- name: lease_claimer
-- The claimer's own live lease, with its slots and warehouses recorded; returns its lease state.
UPDATE nodes SET capacity = :capacity, warehouses = :warehouses
WHERE node_id = :node_id AND epoch = :epoch AND lease_state IN ('live', 'draining')
  AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
RETURNING lease_state;

-- name: leases_revoke
-- Revoke every lease that ran out.
UPDATE nodes SET lease_state = 'lost'
WHERE lease_state IN ('live', 'draining') AND lease_until <= strftime('%Y-%m-%dT%H:%M:%f000Z', 'now');

-- name: placements_fill
-- Give every live task without a placement an empty one.
INSERT INTO placements (task_id)
SELECT t.id FROM tasks AS t
WHERE t.dropped_on IS NULL AND NOT EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = t.id)
ORDER BY t.id;

-- name: placements_prune
-- Forget the placements of dropped tasks.
DELETE FROM placements
WHERE task_id IN (SELECT id FROM tasks WHERE dropped_on IS NOT NULL);

-- name: placements_take_must
-- Take the orphans only this node may run: pinned to it, or of a warehouse no other live node
-- serves (:warehouses: this node's JSON array, NULL: every warehouse).
UPDATE placements SET node_id = :node_id, epoch = :epoch,
    placed_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE task_id IN (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND (coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) IS NULL OR coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) = :node_id)
      AND (:warehouses IS NULL OR EXISTS (
              SELECT 1 FROM json_each(:warehouses)
              WHERE value = coalesce(json_extract(t.definition, '$.warehouse'), 'default')))
      AND (coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) = :node_id OR NOT EXISTS (
              SELECT 1 FROM nodes AS o
              WHERE o.node_id <> :node_id AND o.lease_state = 'live'
                AND o.lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
                AND (o.warehouses IS NULL OR EXISTS (
                        SELECT 1 FROM json_each(o.warehouses)
                        WHERE value = coalesce(json_extract(t.definition, '$.warehouse'), 'default')))))
)
RETURNING task_id;

-- name: placements_take_share
-- Take unpinned orphans of the warehouses this node serves, up to its share of the live tasks
-- (in proportion to its slots), none while its slots are full and another live node's are not.
WITH live AS (
    SELECT node_id, capacity, running FROM nodes
    WHERE lease_state = 'live' AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
), quota AS (
    SELECT CASE
        WHEN me.running >= me.capacity
             AND EXISTS (SELECT 1 FROM live WHERE live.node_id <> :node_id AND live.running < live.capacity)
        THEN 0
        ELSE max(0, CAST(ceil((SELECT count(*) FROM tasks WHERE dropped_on IS NULL) * me.capacity * 1.0
                              / (SELECT sum(capacity) FROM live)) AS INTEGER)
                    - (SELECT count(*) FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
                       WHERE t.dropped_on IS NULL AND p.node_id = :node_id AND p.epoch = :epoch))
        END AS n
    FROM live AS me WHERE me.node_id = :node_id
)
UPDATE placements SET node_id = :node_id, epoch = :epoch,
    placed_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE task_id IN (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) IS NULL
      AND (:warehouses IS NULL OR EXISTS (
              SELECT 1 FROM json_each(:warehouses)
              WHERE value = coalesce(json_extract(t.definition, '$.warehouse'), 'default')))
    ORDER BY p.task_id
    LIMIT coalesce((SELECT n FROM quota), 0)
)
RETURNING task_id;

-- name: placements_take_rest
-- Take the unpinned orphans left of the warehouses this node serves that no other live node serving
-- them would take at its next claim: each such node holds its share already, or its slots are full
-- while another live node's are not. Slots limit the runs executing, not the placements, so an
-- orphan never waits for a node to be below its share or to have a free slot.
WITH live AS (
    SELECT node_id, epoch, capacity, running, warehouses FROM nodes
    WHERE lease_state = 'live' AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
), willing AS (
    SELECT o.warehouses FROM live AS o
    WHERE o.node_id <> :node_id
      AND NOT (o.running >= o.capacity
               AND EXISTS (SELECT 1 FROM live AS r WHERE r.node_id <> o.node_id AND r.running < r.capacity))
      AND CAST(ceil((SELECT count(*) FROM tasks WHERE dropped_on IS NULL) * o.capacity * 1.0
                    / (SELECT sum(capacity) FROM live)) AS INTEGER)
          > (SELECT count(*) FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
             WHERE t.dropped_on IS NULL AND p.node_id = o.node_id AND p.epoch = o.epoch)
)
UPDATE placements SET node_id = :node_id, epoch = :epoch,
    placed_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE task_id IN (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE EXISTS (SELECT 1 FROM live WHERE live.node_id = :node_id)
      AND (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) IS NULL
      AND (:warehouses IS NULL OR EXISTS (
              SELECT 1 FROM json_each(:warehouses)
              WHERE value = coalesce(json_extract(t.definition, '$.warehouse'), 'default')))
      AND NOT EXISTS (
              SELECT 1 FROM willing AS o
              WHERE o.warehouses IS NULL OR EXISTS (
                  SELECT 1 FROM json_each(o.warehouses)
                  WHERE value = coalesce(json_extract(t.definition, '$.warehouse'), 'default')))
)
RETURNING task_id;

-- name: placements_release
-- Give up the placements a holder has among the JSON array :task_ids (NULL: all); returns their ids.
UPDATE placements SET node_id = NULL, epoch = NULL, placed_at = NULL
WHERE node_id = :node_id AND epoch = :epoch
  AND (:task_ids IS NULL OR task_id IN (SELECT value FROM json_each(:task_ids)))
RETURNING task_id;

-- name: placements_release_moved
-- Give up the placements the fence holds of tasks now pinned to another node; returns their ids.
UPDATE placements SET node_id = NULL, epoch = NULL, placed_at = NULL
WHERE task_id IN (
    SELECT p.task_id FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
    WHERE p.node_id = :node_id AND p.epoch = :epoch AND coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) <> :node_id
)
RETURNING task_id;

-- name: runs_hand_over
-- Delete a node's claims of instants of the JSON array :task_ids that never started; returns each
-- task's version and instant (the earliest is where its next instant goes back to).
DELETE FROM runs
WHERE node_id = :node_id AND task_id IN (SELECT value FROM json_each(:task_ids)) AND state = 'SCHEDULED'
  AND query_start_time IS NULL AND scheduled_from = 'SCHEDULE' AND attempt_number = 1
  AND graph_run_group_id IS NULL
RETURNING task_id, task_version, scheduled_time;

-- name: placement_pin
-- Pin a live task to a node (NULL: unpin); returns its holder.
INSERT INTO placements (task_id, pinned_node)
SELECT t.id, :pinned_node FROM tasks AS t WHERE t.id = :task_id AND t.dropped_on IS NULL
ON CONFLICT (task_id) DO UPDATE SET pinned_node = excluded.pinned_node
RETURNING task_id, node_id, epoch;

-- name: placement_unhold
-- Release one task from its holder (a pin moved it elsewhere).
UPDATE placements SET node_id = NULL, epoch = NULL, placed_at = NULL WHERE task_id = :task_id;

-- name: placements_list
-- Placements of live tasks, by task id: all, or those held by one node (any epoch); the pin is
-- the task's (its definition's, else the placement's own).
SELECT p.task_id, p.node_id, p.epoch, coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node) AS pinned_node, p.placed_at
FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
WHERE :node_id IS NULL OR p.node_id = :node_id
ORDER BY p.task_id;

-- name: cluster_members
-- Every node, most recently started first, with whether its lease is live now and the live tasks
-- its current epoch holds.
SELECT n.*,
    (n.lease_state IN ('live', 'draining')
     AND n.lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) AS live,
    (SELECT count(*) FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
     WHERE p.node_id = n.node_id AND p.epoch = n.epoch) AS placed
FROM nodes AS n
ORDER BY n.started_at DESC;

-- name: run_insert_fenced
-- run_insert, only while the fence's lease is live and the run's task (its graph root) is placed on it.
INSERT INTO runs (
    task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
    attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
    condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
)
SELECT :task_id, :task_version, :name, :database_name, :schema_name, :scheduled_time, :state,
    :scheduled_from, :attempt_number, :query_start_time, :completed_time, :error_code, :error_message,
    :query_text, :condition_text, :warehouse, :node_id, :graph_run_group_id, :root_task_id,
    :graph_version, :config
WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
              WHERE p.task_id = coalesce(:root_task_id, :task_id)
                AND p.node_id = :fence_node AND p.epoch = :fence_epoch
                AND coalesce(coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node), :fence_node) = :fence_node)
ON CONFLICT DO NOTHING RETURNING run_id;

-- name: run_settle_fenced
-- run_settle, only for a run of the fence's node while its lease is live; a start (EXECUTING) also
-- needs the run's task (its graph root) placed on the fence.
UPDATE runs SET
    state = :state,
    query_start_time = coalesce(:query_start_time, query_start_time),
    completed_time = coalesce(:completed_time, completed_time),
    error_code = :error_code,
    error_message = :error_message,
    rows_produced = coalesce(:rows_produced, rows_produced),
    rows_inserted = coalesce(:rows_inserted, rows_inserted),
    return_value = coalesce(:return_value, return_value),
    query_id = coalesce(:query_id, query_id)
WHERE run_id = :run_id AND state IN ('SCHEDULED', 'EXECUTING') AND node_id = :fence_node
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND (:state <> 'EXECUTING' OR EXISTS (
         SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
         WHERE p.task_id = coalesce(runs.root_task_id, runs.task_id)
           AND p.node_id = :fence_node AND p.epoch = :fence_epoch
           AND coalesce(coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               p.pinned_node), :fence_node) = :fence_node))
RETURNING run_id;

-- name: task_runtime_fenced
-- task_runtime, only while the fence's lease is live and the task is placed on it, or it runs on
-- every node (RUN ON HOSTS: each node applies the failure policy to its own runs, whoever holds it).
UPDATE tasks SET
    next_fire_at = CASE WHEN :clear_next_fire THEN NULL ELSE coalesce(:next_fire_at, next_fire_at) END,
    consecutive_failures = coalesce(:consecutive_failures, consecutive_failures),
    resumed_on = coalesce(:resumed_on, resumed_on),
    state = coalesce(:state, state),
    suspend_reason = CASE WHEN :state IS NULL THEN suspend_reason ELSE :suspend_reason END,
    last_suspended_on = CASE WHEN :state = 'suspended' AND state <> 'suspended' THEN :now
                             ELSE last_suspended_on END
WHERE id = :task_id AND dropped_on IS NULL
  AND (:guarded = 0 OR (version = :guard_version AND resumed_on IS :guard_anchor))
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND (EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = tasks.id
                AND p.node_id = :fence_node AND p.epoch = :fence_epoch)
       OR (instr(definition, '"run_on":"HOSTS"') > 0 AND json_extract(definition, '$.run_on') = 'HOSTS'));

-- name: graph_run_finish_fenced
-- graph_run_finish, only while the fence's lease is live.
UPDATE graph_runs SET
    state = :state, completed_time = :completed_time,
    first_error_task_name = :first_error_task_name, first_error_code = :first_error_code,
    first_error_message = :first_error_message
WHERE graph_run_group_id = :graph_run_group_id AND state = 'EXECUTING'
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state IN ('live', 'draining')
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'));

-- Work on several nodes (catalog/fanout.py): runs of RUN ON HOSTS tasks, one per node and instant
-- (runs_host_fence), and the sub-tasks of a maintenance run that fans out.

-- name: host_run_insert_fenced
-- A RUN ON HOSTS run of the fence's node, only while its lease is live; runs_host_fence admits one
-- per (task, instant, node). Returns its id.
INSERT INTO runs (
    task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
    attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
    condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config, host_node
)
SELECT :task_id, :task_version, :name, :database_name, :schema_name, :scheduled_time, :state,
    :scheduled_from, :attempt_number, :query_start_time, :completed_time, :error_code, :error_message,
    :query_text, :condition_text, :warehouse, :fence_node, NULL, NULL, NULL, :config, :fence_node
WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = :fence_node AND epoch = :fence_epoch
                AND lease_state = 'live'
                AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
ON CONFLICT DO NOTHING RETURNING run_id;

-- name: node_cluster_set
-- Record the cluster a node belongs to (its setting cluster_id).
UPDATE nodes SET cluster_id = :cluster_id WHERE node_id = :node_id;

-- name: fanout_nodes
-- The nodes with a live lease now, by id, with the warehouses they serve and their cluster.
SELECT node_id, epoch, warehouses, cluster_id FROM nodes
WHERE lease_state = 'live' AND lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
ORDER BY node_id;

-- name: subtask_insert
-- One sub-task of a run, PENDING.
INSERT INTO subtasks (run_id, task_id, task_name, node_id, task_type, location, state, items_total,
                      detail, created_at)
VALUES (:run_id, :task_id, :task_name, :node_id, :task_type, :location, 'PENDING', :items_total,
        :detail, :now)
RETURNING *;

-- name: subtasks_take
-- A node takes its pending sub-tasks (RUNNING from now); returns them.
UPDATE subtasks SET state = 'RUNNING', started_at = :now
WHERE node_id = :node_id AND state = 'PENDING'
RETURNING *;

-- name: subtask_progress
-- The items a running sub-task has done so far (and of how many, when given).
UPDATE subtasks SET items_done = :items_done, items_total = coalesce(:items_total, items_total)
WHERE subtask_id = :subtask_id AND state = 'RUNNING'
RETURNING subtask_id;

-- name: subtask_settle
-- Settle an open sub-task (a settled one is final).
UPDATE subtasks SET state = :state, completed_time = :now, started_at = coalesce(started_at, :now),
    items_done = coalesce(:items_done, items_done), error_code = :error_code, error_message = :error_message
WHERE subtask_id = :subtask_id AND state IN ('PENDING', 'RUNNING')
RETURNING subtask_id;

-- name: subtasks_cancel
-- Cancel the open sub-tasks of a task (:task_id) or of one run (:run_id); returns their ids.
UPDATE subtasks SET state = 'CANCELLED', completed_time = :now, error_code = 'CANCELLED',
    error_message = :reason
WHERE state IN ('PENDING', 'RUNNING')
  AND (:task_id IS NULL OR task_id = :task_id)
  AND (:run_id IS NULL OR run_id = :run_id)
RETURNING subtask_id;

-- name: subtasks_settle_lost
-- Fail the open sub-tasks of nodes whose lease is gone (lost, left, or run out by this machine's
-- clock), and the running ones of :node_id (a node that started again: they died with it).
UPDATE subtasks SET state = 'FAILED', completed_time = :now, error_code = 'NODE_LOST',
    error_message = 'node ' || node_id || ' was lost before it settled its sub-task'
WHERE state IN ('PENDING', 'RUNNING')
  AND ((node_id = :node_id AND state = 'RUNNING')
       OR EXISTS (SELECT 1 FROM nodes AS n WHERE n.node_id = subtasks.node_id
                    AND (n.lease_state IN ('lost', 'left')
                         OR (n.lease_state IN ('live', 'draining')
                             AND n.lease_until <= strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')))))
RETURNING subtask_id;

-- name: subtasks_list
-- Sub-tasks by id: all, or those of a run, a task or a node, or only the open ones.
SELECT * FROM subtasks
WHERE (:run_id IS NULL OR run_id = :run_id)
  AND (:task_id IS NULL OR task_id = :task_id)
  AND (:node_id IS NULL OR node_id = :node_id)
  AND (:open = 0 OR state IN ('PENDING', 'RUNNING'))
ORDER BY subtask_id;

-- name: placement_move
-- Move one unpinned task the fence holds to the current epoch of a node with a live lease (a
-- rebalance); returns its id when it moved.
UPDATE placements SET
    node_id = (SELECT n.node_id FROM nodes AS n WHERE n.node_id = :target),
    epoch = (SELECT n.epoch FROM nodes AS n WHERE n.node_id = :target),
    placed_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
WHERE task_id = :task_id AND node_id = :fence_node AND epoch = :fence_epoch
  AND EXISTS (SELECT 1 FROM nodes AS n WHERE n.node_id = :target AND n.lease_state = 'live'
                AND n.lease_until > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
  AND EXISTS (SELECT 1 FROM tasks AS t WHERE t.id = placements.task_id AND t.dropped_on IS NULL
                AND coalesce(CASE WHEN instr(t.definition, '"node":') > 0 OR instr(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(json_extract(t.definition, '$.node'),
                                 json_extract(t.definition, '$.body.location_name')) END,
               placements.pinned_node) IS NULL)
RETURNING task_id;

-- name: tasks_on_hosts
-- The live tasks with RUN ON HOSTS (the text test spares parsing every definition), by id.
SELECT * FROM tasks
WHERE dropped_on IS NULL AND instr(definition, '"run_on":"HOSTS"') > 0
  AND json_extract(definition, '$.run_on') = 'HOSTS'
ORDER BY id;

-- name: security_users_all
-- Every user, by name.
SELECT name, default_role, disabled, comment, token_sha256, created_by, created_on FROM security_users ORDER BY name;

-- name: security_roles_all
-- Every role made by CREATE ROLE, by name.
SELECT name, owner, comment, created_on FROM security_roles ORDER BY name;

-- name: security_role_grants_all
-- Every role grant.
SELECT role, grantee_kind, grantee, granted_by, created_on FROM security_role_grants ORDER BY role, grantee_kind, grantee;

-- name: security_privileges_all
-- Every privilege grant.
SELECT privilege, object_kind, object_name, role, granted_by, created_on FROM security_privileges
ORDER BY object_kind, object_name, privilege, role;

-- name: security_user_insert
-- Add a user; nothing when the name is taken (the caller counts what was inserted).
INSERT INTO security_users (name, default_role, disabled, comment, token_sha256, created_by, created_on)
VALUES (:name, :default_role, :disabled, :comment, :token_sha256, :created_by, :created_on)
ON CONFLICT (name) DO NOTHING;

-- name: security_user_update
-- Replace a user's changeable fields.
UPDATE security_users SET default_role = :default_role, disabled = :disabled, comment = :comment,
    token_sha256 = :token_sha256
WHERE name = :name;

-- name: security_user_delete
-- Drop a user.
DELETE FROM security_users WHERE name = :name;

-- name: security_user_by_token
-- The user whose token has this digest.
SELECT name, default_role, disabled, comment, token_sha256, created_by, created_on FROM security_users
WHERE token_sha256 = :token_sha256;

-- name: security_role_insert
-- Add a role; nothing when the name is taken.
INSERT INTO security_roles (name, owner, comment, created_on) VALUES (:name, :owner, :comment, :created_on)
ON CONFLICT (name) DO NOTHING;

-- name: security_role_delete
-- Drop a role.
DELETE FROM security_roles WHERE name = :name;

-- name: security_role_grant_insert
-- Grant a role; nothing when it is granted already.
INSERT INTO security_role_grants (role, grantee_kind, grantee, granted_by, created_on)
VALUES (:role, :grantee_kind, :grantee, :granted_by, :created_on)
ON CONFLICT (role, grantee_kind, grantee) DO NOTHING;

-- name: security_role_grant_delete
-- Revoke a role from a role or a user.
DELETE FROM security_role_grants WHERE role = :role AND grantee_kind = :grantee_kind AND grantee = :grantee;

-- name: security_role_grants_of_role_delete
-- Forget the grants of a dropped role, and to it.
DELETE FROM security_role_grants WHERE role = :name OR (grantee_kind = 'ROLE' AND grantee = :name);

-- name: security_role_grants_of_user_delete
-- Forget the roles granted to a dropped user.
DELETE FROM security_role_grants WHERE grantee_kind = 'USER' AND grantee = :name;

-- name: security_privilege_insert
-- Grant a privilege; nothing when it is granted already.
INSERT INTO security_privileges (privilege, object_kind, object_name, role, granted_by, created_on)
VALUES (:privilege, :object_kind, :object_name, :role, :granted_by, :created_on)
ON CONFLICT (privilege, object_kind, object_name, role) DO NOTHING;

-- name: security_privilege_delete
-- Revoke a privilege.
DELETE FROM security_privileges
WHERE privilege = :privilege AND object_kind = :object_kind AND object_name = :object_name AND role = :role;

-- name: security_privileges_of_role_delete
-- Forget the privileges of a dropped role.
DELETE FROM security_privileges WHERE role = :name;

-- name: security_privileges_of_object_delete
-- Forget the privileges on a dropped object.
DELETE FROM security_privileges WHERE object_kind = :object_kind AND object_name = :object_name;

-- name: audit_insert
-- Record one audited statement.
INSERT INTO audit_log (at, user_name, role_name, statement, outcome, error_code, error_message)
VALUES (:at, :user_name, :role_name, :statement, :outcome, :error_code, :error_message);

-- name: audit_list
-- The audit log, newest first.
SELECT id, at, user_name, role_name, statement, outcome, error_code, error_message FROM audit_log
ORDER BY id DESC LIMIT :limit;

-- name: audit_prune
-- Delete audit entries older than the cutoff.
DELETE FROM audit_log WHERE at < :cutoff;

-- name: storage_check_insert
-- One object a check_disk run checked.
INSERT INTO storage_checks (run_id, task_id, task_name, node_id, object_kind, storage_id, check_name,
                            result, detail, checked_at)
VALUES (:run_id, :task_id, :task_name, :node_id, :object_kind, :storage_id, :check_name, :result,
        :detail, :checked_at);

-- name: storage_checks_list
-- The objects check_disk runs checked, by id: all, or those of one run.
SELECT * FROM storage_checks
WHERE (:run_id IS NULL OR run_id = :run_id)
ORDER BY check_id;

-- name: catalog_integrity_check
-- SQLite's check of the whole catalog file: every page, index and constraint ('ok' when sound).
SELECT integrity_check AS finding FROM pragma_integrity_check;

-- name: catalog_quick_check
-- SQLite's faster check of the catalog file (no index-to-table cross-check).
SELECT quick_check AS finding FROM pragma_quick_check;
