-- Named queries of the PostgreSQL catalog, loaded by tasksql.catalog.queries.
--
-- Each query starts with a "-- name: <query_name>" line followed by a one-line "-- description";
-- a line ending in "-- if <filter>" is kept only when that filter is given (CatalogDialect.shaped);
-- parameters are psycopg's named placeholders (%(param)s; a literal percent sign is written %%).
-- Instants are passed as UTC ISO-8601 text and compared as timestamptz; a parameter whose type the
-- server cannot infer from its place (x IS NULL, a CASE) carries a cast. Tables are unqualified:
-- every connection runs with search_path set to the catalog's schema.

-- name: schema_versions
-- Every applied migration version, oldest first.
SELECT version, name FROM schema_version ORDER BY version;

-- name: schema_version_insert
-- Record that a migration was applied.
INSERT INTO schema_version (version, name, applied_on) VALUES (%(version)s, %(name)s, %(applied_on)s);

-- name: schema_exists
-- Whether the catalog's schema exists (CREATE SCHEMA IF NOT EXISTS needs CREATE on the database
-- even when it does).
SELECT 1 AS found FROM pg_namespace WHERE nspname = %(schema)s;

-- name: migrate_lock
-- Serialise the creation and migration of one catalog schema until the end of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended('tasksql.migrate:' || %(schema)s::text, 0));

-- name: schema_objects
-- Names of the tables, views and sequences in the catalog's schema (to recognise a tasksql catalog).
SELECT c.relname AS name
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'S', 'p')
ORDER BY c.relname;

-- name: change_seq
-- The current change sequence.
SELECT change_seq FROM catalog_meta WHERE id = 1;

-- name: meta_touch
-- Rewrite the meta row unchanged (a write for a durable commit to flush).
UPDATE catalog_meta SET change_seq = change_seq WHERE id = 1;

-- name: change_seq_bump
-- Advance the change sequence by one, tell listeners at commit, and return the new value.
WITH bumped AS (
    UPDATE catalog_meta SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq
)
SELECT change_seq, pg_notify(%(channel)s, change_seq::text) FROM bumped;

-- name: task_by_name
-- The live task with this resolved name.
SELECT * FROM tasks
WHERE database_name = %(database_name)s AND schema_name = %(schema_name)s AND name = %(name)s
  AND dropped_on IS NULL;

-- name: task_by_name_for_update
-- The live task with this resolved name, locked until the end of the transaction.
SELECT * FROM tasks
WHERE database_name = %(database_name)s AND schema_name = %(schema_name)s AND name = %(name)s
  AND dropped_on IS NULL
FOR UPDATE;

-- name: task_by_id
-- The live task with this id.
SELECT * FROM tasks WHERE id = %(id)s AND dropped_on IS NULL;

-- name: task_by_id_for_update
-- The live task with this id, locked until the end of the transaction (optimistic checks read it).
SELECT * FROM tasks WHERE id = %(id)s AND dropped_on IS NULL FOR UPDATE;

-- name: tasks_live
-- Every live task, ordered by name (byte order, as SQLite compares text).
SELECT * FROM tasks WHERE dropped_on IS NULL
ORDER BY database_name COLLATE "C", schema_name COLLATE "C", name COLLATE "C";

-- name: task_stubs
-- What a scheduler caches of the live tasks after an id, by id (LIMIT NULL: all): no definition,
-- only whether the task belongs to a graph (runs after others or finalizes one). Keys left at their
-- default are absent from the JSON, and inside a JSON string a quote is escaped, so '"after":'
-- occurs only as a key.
SELECT id, version, state, suspend_reason, resumed_on, last_committed_on, next_fire_at,
    consecutive_failures,
    strpos(definition, '"after":') > 0 OR strpos(definition, '"finalize":') > 0 AS in_graph
FROM tasks WHERE dropped_on IS NULL AND id > %(after_id)s ORDER BY id LIMIT %(limit)s;

-- name: tasks_by_ids
-- The live tasks among an array of ids, by id.
SELECT * FROM tasks WHERE id = ANY(%(ids)s::bigint[]) AND dropped_on IS NULL ORDER BY id;

-- name: task_retentions
-- HISTORY_RETENTION (milliseconds) of every live task that sets one.
SELECT id, (definition::jsonb ->> 'history_retention_ms')::bigint AS retention_ms
FROM tasks
WHERE dropped_on IS NULL AND definition::jsonb ? 'history_retention_ms'
  AND jsonb_typeof(definition::jsonb -> 'history_retention_ms') <> 'null';

-- name: task_insert
-- Store a new task row and return its id.
INSERT INTO tasks (
    database_name, schema_name, name, version, definition, canonical_sql, spelling, state,
    suspend_reason, owner, created_on, last_committed_on, last_suspended_on, resumed_on,
    next_fire_at, consecutive_failures, dropped_on
) VALUES (
    %(database_name)s, %(schema_name)s, %(name)s, %(version)s, %(definition)s, %(canonical_sql)s,
    %(spelling)s, %(state)s, %(suspend_reason)s, %(owner)s, %(created_on)s, %(last_committed_on)s,
    %(last_suspended_on)s, %(resumed_on)s, %(next_fire_at)s, %(consecutive_failures)s, %(dropped_on)s
) RETURNING id;

-- name: task_write
-- Overwrite every mutable column of a task row (the caller merged the change into the row).
UPDATE tasks SET
    database_name = %(database_name)s, schema_name = %(schema_name)s, name = %(name)s,
    version = %(version)s, definition = %(definition)s, canonical_sql = %(canonical_sql)s,
    spelling = %(spelling)s, state = %(state)s, suspend_reason = %(suspend_reason)s, owner = %(owner)s,
    last_committed_on = %(last_committed_on)s, last_suspended_on = %(last_suspended_on)s,
    resumed_on = %(resumed_on)s, next_fire_at = %(next_fire_at)s,
    consecutive_failures = %(consecutive_failures)s, dropped_on = %(dropped_on)s
WHERE id = %(id)s;

-- name: task_version_insert
-- Record one committed version of a task's definition.
INSERT INTO task_versions (task_id, version, definition, canonical_sql, created_on, actor)
VALUES (%(task_id)s, %(version)s, %(definition)s, %(canonical_sql)s, %(created_on)s, %(actor)s);

-- name: task_versions
-- Every version of a task, oldest first.
SELECT * FROM task_versions WHERE task_id = %(task_id)s ORDER BY version;

-- name: task_version
-- One version of a task.
SELECT * FROM task_versions WHERE task_id = %(task_id)s AND version = %(version)s;

-- name: integration_by_name
-- The integration with this name.
SELECT * FROM integrations WHERE name = %(name)s;

-- name: integrations_all
-- Every integration, ordered by name.
SELECT * FROM integrations ORDER BY name COLLATE "C";

-- name: integration_upsert
-- Create an integration or overwrite one of that name, keeping its created_on.
INSERT INTO integrations (
    name, type, enabled, webhook_url, webhook_method, webhook_authorization_header,
    webhook_signing_secret, comment, created_on, last_altered_on, webhook_body_template,
    webhook_secret
) VALUES (
    %(name)s, %(type)s, %(enabled)s, %(webhook_url)s, %(webhook_method)s,
    %(webhook_authorization_header)s, %(webhook_signing_secret)s, %(comment)s, %(created_on)s,
    %(last_altered_on)s, %(webhook_body_template)s, %(webhook_secret)s
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
    %(name)s, %(type)s, %(enabled)s, %(webhook_url)s, %(webhook_method)s,
    %(webhook_authorization_header)s, %(webhook_signing_secret)s, %(comment)s, %(created_on)s,
    %(last_altered_on)s, %(webhook_body_template)s, %(webhook_secret)s
) ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: integration_delete
-- Delete an integration; returns its name when it existed.
DELETE FROM integrations WHERE name = %(name)s RETURNING name;

-- name: secret_by_name
-- The secret with this name (database, schema and name joined by U+001F).
SELECT * FROM secrets WHERE name = %(name)s;

-- name: secrets_all
-- Every secret, ordered by name.
SELECT * FROM secrets ORDER BY name COLLATE "C";

-- name: secret_upsert
-- Create a secret or overwrite one of that name, keeping its created_on.
INSERT INTO secrets (name, type, source, value, owner, comment, created_on, last_altered_on)
VALUES (%(name)s, %(type)s, %(source)s, %(value)s, %(owner)s, %(comment)s, %(created_on)s, %(last_altered_on)s)
ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, source = excluded.source, value = excluded.value, owner = excluded.owner,
    comment = excluded.comment, last_altered_on = excluded.last_altered_on;

-- name: secret_insert
-- Create a secret unless one of that name exists; returns its name when it was created.
INSERT INTO secrets (name, type, source, value, owner, comment, created_on, last_altered_on)
VALUES (%(name)s, %(type)s, %(source)s, %(value)s, %(owner)s, %(comment)s, %(created_on)s, %(last_altered_on)s)
ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: secret_delete
-- Delete a secret; returns its name when it existed.
DELETE FROM secrets WHERE name = %(name)s RETURNING name;

-- name: warehouse_by_name
-- The warehouse with this name.
SELECT * FROM warehouses WHERE name = %(name)s;

-- name: warehouses_all
-- Every warehouse, ordered by name.
SELECT * FROM warehouses ORDER BY name COLLATE "C";

-- name: warehouse_upsert
-- Create a warehouse or overwrite one of that name, keeping its created_on.
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on, role_mapping)
VALUES (%(name)s, %(type)s, %(url)s, %(max_concurrency)s, %(comment)s, %(created_on)s, %(last_altered_on)s, %(role_mapping)s)
ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, url = excluded.url, max_concurrency = excluded.max_concurrency,
    comment = excluded.comment, last_altered_on = excluded.last_altered_on,
    role_mapping = excluded.role_mapping;

-- name: warehouse_insert
-- Create a warehouse unless one of that name exists (seeds 'default'); returns its name when it was
-- created.
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on, role_mapping)
VALUES (%(name)s, %(type)s, %(url)s, %(max_concurrency)s, %(comment)s, %(created_on)s, %(last_altered_on)s, %(role_mapping)s)
ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: warehouse_delete
-- Delete a warehouse; returns its name when it existed.
DELETE FROM warehouses WHERE name = %(name)s RETURNING name;

-- name: setting_get
-- The value of a setting.
SELECT value FROM settings WHERE key = %(key)s;

-- name: setting_put
-- Set a setting.
INSERT INTO settings (key, value) VALUES (%(key)s, %(value)s)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: setting_delete
-- Remove a setting.
DELETE FROM settings WHERE key = %(key)s;

-- name: run_insert
-- Insert a run unless a fence (runs_fence, runs_graph_fence) already holds that instant; returns its id.
INSERT INTO runs (
    task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
    attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
    condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
) VALUES (
    %(task_id)s, %(task_version)s, %(name)s, %(database_name)s, %(schema_name)s, %(scheduled_time)s,
    %(state)s, %(scheduled_from)s, %(attempt_number)s, %(query_start_time)s, %(completed_time)s,
    %(error_code)s, %(error_message)s, %(query_text)s, %(condition_text)s, %(warehouse)s, %(node_id)s,
    %(graph_run_group_id)s, %(root_task_id)s, %(graph_version)s, %(config)s
) ON CONFLICT DO NOTHING RETURNING run_id;

-- name: runs_start_claims
-- Start the claims of a node among the array :run_ids (SCHEDULED, not started) at :at; returns
-- their ids, and those of its runs started at :at already (a call repeated).
UPDATE runs SET state = 'EXECUTING', query_start_time = %(at)s::timestamptz
WHERE run_id = ANY(%(run_ids)s::bigint[]) AND node_id = %(node_id)s
  AND ((state = 'SCHEDULED' AND query_start_time IS NULL)
       OR (state = 'EXECUTING' AND query_start_time = %(at)s::timestamptz))
RETURNING run_id;

-- name: runs_start_claims_fenced
-- runs_start_claims, only while the fence's lease is live and each run's task (its graph root) is
-- placed on the fence's epoch (the fence's node is :node_id).
UPDATE runs SET state = 'EXECUTING', query_start_time = %(at)s::timestamptz
WHERE run_id = ANY(%(run_ids)s::bigint[]) AND node_id = %(node_id)s AND node_id = %(fence_node)s
  AND ((state = 'SCHEDULED' AND query_start_time IS NULL)
       OR (state = 'EXECUTING' AND query_start_time = %(at)s::timestamptz))
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
              WHERE p.task_id = coalesce(runs.root_task_id, runs.task_id)
                AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s
                AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node), %(fence_node)s) = %(fence_node)s
              FOR SHARE OF p)
RETURNING run_id;

-- name: runs_take_over_claims
-- Delete the claims other nodes hold of the tasks of the array :task_ids whose placement the
-- fence's epoch holds (runs that never started), of every instant from :margin seconds before the
-- task's next instant on (come or to come; every instant when it has none); returns each task's
-- version and instant (the earliest is where its next instant goes back to). The bound keeps the
-- scan to the runs since the task's next instant (the index on task and instant), not its history.
DELETE FROM runs AS r USING tasks AS t
WHERE t.id = r.task_id AND t.id = ANY(%(task_ids)s::bigint[])
  AND r.scheduled_time >= coalesce(t.next_fire_at - make_interval(secs => %(margin)s), '-infinity')
  AND r.node_id <> %(fence_node)s
  AND r.state = 'SCHEDULED' AND r.query_start_time IS NULL AND r.scheduled_from = 'SCHEDULE'
  AND r.attempt_number = 1 AND r.graph_run_group_id IS NULL
  AND EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = r.task_id
                AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s FOR SHARE OF p)
RETURNING r.task_id, r.task_version, r.scheduled_time;

-- name: run_by_id
-- One run.
SELECT * FROM runs WHERE run_id = %(run_id)s;

-- name: run_settle
-- Settle (or start) a run that is not settled yet; returns the run id when it was updated.
UPDATE runs SET
    state = %(state)s,
    query_start_time = coalesce(%(query_start_time)s::timestamptz, query_start_time),
    completed_time = coalesce(%(completed_time)s::timestamptz, completed_time),
    error_code = %(error_code)s,
    error_message = %(error_message)s,
    rows_produced = coalesce(%(rows_produced)s::bigint, rows_produced),
    rows_inserted = coalesce(%(rows_inserted)s::bigint, rows_inserted),
    return_value = coalesce(%(return_value)s::text, return_value),
    query_id = coalesce(%(query_id)s::text, query_id)
WHERE run_id = %(run_id)s AND state IN ('SCHEDULED', 'EXECUTING')
RETURNING run_id;

-- name: runs_list
-- History, newest first; a line ending in "-- if <filter>" is kept only when that filter is given.
SELECT * FROM runs
WHERE TRUE
  AND task_id = %(task_id)s::bigint  -- if task_id
  AND scheduled_time >= %(start)s::timestamptz  -- if start
  AND scheduled_time < %(end)s::timestamptz  -- if end
  AND state IN ('FAILED', 'FAILED_AND_AUTO_SUSPENDED')  -- if error_only
  AND root_task_id = %(root_task_id)s::bigint  -- if root_task_id
ORDER BY scheduled_time DESC, run_id DESC
LIMIT %(limit)s;

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
    WHERE task_id = ids.task_id AND (state <> 'SCHEDULED' OR scheduled_time <= %(now)s::timestamptz)
    ORDER BY run_id DESC
    LIMIT 1
);

-- name: runs_open_of_nodes
-- Runs of the nodes in the array :node_ids that are not settled.
SELECT * FROM runs
WHERE node_id = ANY(%(node_ids)s::text[]) AND state IN ('SCHEDULED', 'EXECUTING')
ORDER BY run_id;

-- name: runs_nodes
-- The node of each run in the array :run_ids.
SELECT run_id, node_id FROM runs WHERE run_id = ANY(%(run_ids)s::bigint[]);

-- name: runs_lost_committed
-- Record a lost node's run whose body committed (its completion marker was found), if not settled.
UPDATE runs SET state = %(state)s, completed_time = %(completed_time)s::timestamptz,
    query_start_time = coalesce(query_start_time, %(query_start_time)s::timestamptz),
    error_code = %(error_code)s, error_message = %(error_message)s
WHERE run_id = %(run_id)s AND node_id = %(node_id)s AND state IN ('SCHEDULED', 'EXECUTING')
RETURNING task_id;

-- name: runs_lost_skip
-- Record a lost node's run that never started SKIPPED (if it still has not started).
UPDATE runs SET state = 'SKIPPED', completed_time = %(completed_time)s::timestamptz,
    error_code = %(error_code)s, error_message = %(error_message)s
WHERE run_id = %(run_id)s AND node_id = %(node_id)s AND state = 'SCHEDULED' AND query_start_time IS NULL
RETURNING task_id;

-- name: runs_lost_delete
-- Delete a lost node's run that never started (if it still has not started); returns its task,
-- version and instant (for the rewind of a re-planned instant).
DELETE FROM runs
WHERE run_id = %(run_id)s AND node_id = %(node_id)s AND state = 'SCHEDULED' AND query_start_time IS NULL
RETURNING task_id, task_version, scheduled_time;

-- name: task_rewind_next_fire
-- A re-planned instant: the task's next instant goes back to it, while the task is started at the
-- run's version and its next instant is later (or unset).
UPDATE tasks SET next_fire_at = %(at)s::timestamptz
WHERE id = %(task_id)s AND version = %(version)s AND state = 'started' AND dropped_on IS NULL
  AND (next_fire_at IS NULL OR next_fire_at > %(at)s::timestamptz);

-- name: runs_drop_future_claims
-- Delete the runs a node claimed for instants after :now (they never started), but those in the
-- array :keep (and, with the array :only, those not in it).
DELETE FROM runs
WHERE node_id = %(node_id)s AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE'
  AND scheduled_time > %(now)s::timestamptz AND query_start_time IS NULL
  AND run_id <> ALL(%(keep)s::bigint[])
  AND (%(only)s::bigint[] IS NULL OR run_id = ANY(%(only)s::bigint[]));

-- name: runs_skip_lost_unstarted
-- Record SKIPPED every run of a lost node that never started (it is not a failed run), but those
-- in the array :keep (and, with the array :only, those not in it).
UPDATE runs SET state = 'SKIPPED', completed_time = %(now)s::timestamptz, error_code = 'NODE_LOST',
    error_message = 'node ' || node_id || ' was lost before the run started'
WHERE node_id = %(node_id)s AND state = 'SCHEDULED' AND query_start_time IS NULL
  AND run_id <> ALL(%(keep)s::bigint[])
  AND (%(only)s::bigint[] IS NULL OR run_id = ANY(%(only)s::bigint[]))
RETURNING run_id;

-- name: runs_release_claim
-- Delete a node's claim of an instant that will not happen (if still SCHEDULED).
DELETE FROM runs
WHERE task_id = %(task_id)s AND scheduled_time = %(scheduled_time)s::timestamptz AND node_id = %(node_id)s
  AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE' AND attempt_number = 1;

-- name: runs_release_claim_fenced
-- runs_release_claim, only for a claim of the fence's node while its lease is live and the task is
-- placed on the fence's epoch (as the claim's insert), or the task is dropped (nobody takes it over):
-- a claim of a task that went to another node is that node's to take over (take_over_claims rewinds
-- the task's next instant to it), not its old holder's to delete.
DELETE FROM runs
WHERE task_id = %(task_id)s AND scheduled_time = %(scheduled_time)s::timestamptz AND node_id = %(node_id)s
  AND node_id = %(fence_node)s
  AND state = 'SCHEDULED' AND scheduled_from = 'SCHEDULE' AND attempt_number = 1
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND (EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
               WHERE p.task_id = runs.task_id
                 AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s
                 AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                    THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
                p.pinned_node), %(fence_node)s) = %(fence_node)s
               FOR SHARE OF p)
       OR EXISTS (SELECT 1 FROM tasks AS d WHERE d.id = runs.task_id AND d.dropped_on IS NOT NULL));

-- name: runs_settle_lost
-- Settle every run of a node that started and is not settled as FAILED (the node stopped during it),
-- but those in the array :keep (and, with the array :only, those not in it).
UPDATE runs SET state = 'FAILED', completed_time = %(now)s, error_code = 'NODE_LOST',
    error_message = %(message)s
WHERE node_id = %(node_id)s AND state IN ('SCHEDULED', 'EXECUTING')
  AND run_id <> ALL(%(keep)s::bigint[])
  AND (%(only)s::bigint[] IS NULL OR run_id = ANY(%(only)s::bigint[]))
RETURNING run_id;

-- name: runs_prune
-- Delete settled runs scheduled before the cutoff: of one task, or (task_id NULL) of every task not
-- in the array :exempt (tasks with a retention of their own).
DELETE FROM runs
WHERE scheduled_time < %(cutoff)s::timestamptz
  AND state NOT IN ('SCHEDULED', 'EXECUTING')
  AND (%(task_id)s::bigint IS NULL OR task_id = %(task_id)s::bigint)
  AND task_id <> ALL(%(exempt)s::bigint[]);

-- name: storage_checks_prune
-- The check_disk results of the runs runs_prune is about to delete (its rule, its parameters).
DELETE FROM storage_checks WHERE run_id IN (
  SELECT run_id FROM runs
  WHERE scheduled_time < %(cutoff)s::timestamptz
    AND state NOT IN ('SCHEDULED', 'EXECUTING')
    AND (%(task_id)s::bigint IS NULL OR task_id = %(task_id)s::bigint)
    AND task_id <> ALL(%(exempt)s::bigint[])
);

-- name: subtasks_prune
-- The sub-tasks of the runs runs_prune is about to delete (its rule, its parameters).
DELETE FROM subtasks WHERE run_id IN (
  SELECT run_id FROM runs
  WHERE scheduled_time < %(cutoff)s::timestamptz
    AND state NOT IN ('SCHEDULED', 'EXECUTING')
    AND (%(task_id)s::bigint IS NULL OR task_id = %(task_id)s::bigint)
    AND task_id <> ALL(%(exempt)s::bigint[])
);

-- name: task_runtime
-- Scheduler-owned fields of a live task (no version, no change_seq); NULL leaves a field as stored.
UPDATE tasks SET
    next_fire_at = CASE WHEN %(clear_next_fire)s::int = 1 THEN NULL
                        ELSE coalesce(%(next_fire_at)s::timestamptz, next_fire_at) END,
    consecutive_failures = coalesce(%(consecutive_failures)s::int, consecutive_failures),
    resumed_on = coalesce(%(resumed_on)s::timestamptz, resumed_on),
    state = coalesce(%(state)s::text, state),
    suspend_reason = CASE WHEN %(state)s::text IS NULL THEN suspend_reason ELSE %(suspend_reason)s::text END,
    last_suspended_on = CASE WHEN %(state)s::text = 'suspended' AND state <> 'suspended'
                             THEN %(now)s::timestamptz ELSE last_suspended_on END
WHERE id = %(task_id)s AND dropped_on IS NULL
  AND (%(guarded)s::int = 0 OR (version = %(guard_version)s::int
                                AND resumed_on IS NOT DISTINCT FROM %(guard_anchor)s::timestamptz));

-- name: node_upsert
-- Register a node (again): a restarted node with the same id starts afresh.
INSERT INTO nodes (node_id, host, pid, role, version, started_at, heartbeat_at, stopped_at)
VALUES (%(node_id)s, %(host)s, %(pid)s, %(role)s, %(version)s, %(started_at)s, %(heartbeat_at)s, NULL)
ON CONFLICT (node_id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, role = excluded.role, version = excluded.version,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL;

-- name: node_heartbeat
-- A node is alive.
UPDATE nodes SET heartbeat_at = %(now)s WHERE node_id = %(node_id)s;

-- name: node_stop
-- A node stopped cleanly.
UPDATE nodes SET stopped_at = %(now)s, heartbeat_at = %(now)s WHERE node_id = %(node_id)s;

-- name: nodes_all
-- Every node, most recently started first.
SELECT * FROM nodes ORDER BY started_at DESC;

-- name: graph_version_lock
-- Serialise the numbering of one root's graph versions until the end of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended('tasksql.graph_versions:' || current_schema(), %(root_task_id)s));

-- name: graph_version_find
-- The version of a root's graph with exactly these members, if it ran before.
SELECT graph_version FROM graph_versions WHERE root_task_id = %(root_task_id)s AND members = %(members)s;

-- name: graph_version_insert
-- Record a new version of a root's graph (the next number).
INSERT INTO graph_versions (root_task_id, graph_version, members, created_on)
SELECT %(root_task_id)s, coalesce(max(graph_version), 0) + 1, %(members)s, %(created_on)s::timestamptz
FROM graph_versions WHERE root_task_id = %(root_task_id)s
RETURNING graph_version;

-- name: graph_version_members
-- The members (JSON {task id: version}) of one graph version.
SELECT members FROM graph_versions
WHERE root_task_id = %(root_task_id)s AND graph_version = %(graph_version)s;

-- name: graph_run_insert
-- Start a graph run (or continue it with a new attempt: same group id).
INSERT INTO graph_runs (
    graph_run_group_id, root_task_id, root_task_name, database_name, schema_name, graph_version, state,
    scheduled_from, scheduled_time, query_start_time, completed_time, attempt_number, root_run_id, config,
    node_id
) VALUES (
    %(graph_run_group_id)s, %(root_task_id)s, %(root_task_name)s, %(database_name)s, %(schema_name)s,
    %(graph_version)s, %(state)s, %(scheduled_from)s, %(scheduled_time)s, %(query_start_time)s, NULL,
    %(attempt_number)s, %(root_run_id)s, %(config)s, %(node_id)s
) ON CONFLICT (graph_run_group_id) DO UPDATE SET
    state = excluded.state, attempt_number = excluded.attempt_number,
    graph_version = excluded.graph_version, scheduled_from = excluded.scheduled_from,
    completed_time = NULL, first_error_task_name = NULL, first_error_code = NULL,
    first_error_message = NULL, node_id = excluded.node_id;

-- name: graph_run_finish
-- Settle a graph run.
UPDATE graph_runs SET
    state = %(state)s, completed_time = %(completed_time)s,
    first_error_task_name = %(first_error_task_name)s, first_error_code = %(first_error_code)s,
    first_error_message = %(first_error_message)s
WHERE graph_run_group_id = %(graph_run_group_id)s AND state = 'EXECUTING';

-- name: graph_run_by_id
-- One graph run.
SELECT * FROM graph_runs WHERE graph_run_group_id = %(graph_run_group_id)s;

-- name: graph_runs_list
-- Graph runs, newest first: of one root (or all), in some states (an array); see runs_list.
SELECT * FROM graph_runs
WHERE TRUE
  AND root_task_id = %(root_task_id)s::bigint  -- if root_task_id
  AND state = ANY(%(states)s::text[])  -- if states
ORDER BY scheduled_time DESC, seq DESC
LIMIT %(limit)s;

-- name: graph_runs_settle_lost
-- Settle every unsettled graph run of a node as FAILED (the node stopped during it); with the array
-- :graph_runs, only those among them.
UPDATE graph_runs SET state = 'FAILED', completed_time = %(now)s, first_error_code = 'NODE_LOST',
    first_error_message = %(message)s
WHERE node_id = %(node_id)s AND state = 'EXECUTING'
  AND (%(graph_runs)s::text[] IS NULL OR graph_run_group_id = ANY(%(graph_runs)s::text[]));

-- name: runs_of_graph_run
-- Every run of one graph run (all attempts), oldest first.
SELECT * FROM runs WHERE graph_run_group_id = %(graph_run_group_id)s ORDER BY run_id;

-- name: nodes_prune
-- Forget nodes stopped (or silent) before the cutoff that have no unsettled runs.
DELETE FROM nodes
WHERE heartbeat_at < %(cutoff)s::timestamptz
  AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.node_id = nodes.node_id
                  AND runs.state IN ('SCHEDULED', 'EXECUTING'));

-- name: outbox_insert
-- Queue one notification message, due at once; a message id already queued is left as it is.
INSERT INTO notification_outbox (message_id, integration, event_type, payload, created_at, state, attempts,
                                 next_attempt_at)
VALUES (%(message_id)s, %(integration)s, %(event_type)s, %(payload)s, %(created_at)s, 'PENDING', 0,
        %(created_at)s)
ON CONFLICT (message_id) DO NOTHING;

-- name: outbox_claim
-- Lease up to :limit due PENDING messages with a free (or expired) lease to :node_id, earliest due
-- first; messages of a disabled integration wait. FOR UPDATE SKIP LOCKED: two dispatchers claiming
-- at once take different messages, and neither waits for the other.
UPDATE notification_outbox SET leased_by = %(node_id)s, lease_until = %(lease_until)s::timestamptz
WHERE message_id IN (
    SELECT o.message_id
    FROM notification_outbox AS o
    LEFT JOIN integrations AS i ON i.name = o.integration
    WHERE o.state = 'PENDING'
      AND o.next_attempt_at <= %(now)s::timestamptz
      AND (o.lease_until IS NULL OR o.lease_until <= %(now)s::timestamptz)
      AND (i.name IS NULL OR i.enabled)
    ORDER BY o.next_attempt_at, o.created_at, o.message_id
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
)
RETURNING *;

-- name: outbox_record
-- Settle one attempt on a PENDING message held by :node_id (a delivery counts whoever holds it);
-- returns the message id when the message was updated.
UPDATE notification_outbox SET
    state = %(state)s,
    attempts = greatest(attempts, %(attempt)s::int),
    next_attempt_at = coalesce(%(retry_at)s::timestamptz, next_attempt_at),
    leased_by = NULL,
    lease_until = NULL,
    last_error = %(error)s,
    delivered_at = %(delivered_at)s::timestamptz
WHERE message_id = %(message_id)s
  AND state = 'PENDING'
  AND (leased_by = %(node_id)s OR %(state)s::text = 'DELIVERED')
RETURNING message_id;

-- name: notification_history_insert
-- Record one delivery attempt of a stored message (nothing when the message is gone).
INSERT INTO notification_history (message_id, integration, attempt, status_code, error, sent_at, duration_ms)
SELECT message_id, integration, %(attempt)s, %(status_code)s::int, %(error)s::text,
       %(sent_at)s::timestamptz, %(duration_ms)s::double precision
FROM notification_outbox WHERE message_id = %(message_id)s;

-- name: notification_history_list
-- Delivery attempts, newest first, with the message's event type and state (NULL filters do not filter).
SELECT h.message_id, h.integration, o.event_type, h.attempt, h.status_code, h.error, h.sent_at,
       h.duration_ms, o.state
FROM notification_history AS h
LEFT JOIN notification_outbox AS o ON o.message_id = h.message_id
WHERE (%(message_id)s::text IS NULL OR h.message_id = %(message_id)s::text)
  AND (%(integration)s::text IS NULL OR h.integration = %(integration)s::text)
ORDER BY h.sent_at DESC, h.id DESC
LIMIT %(limit)s;

-- name: outbox_list
-- Stored messages, oldest first, optionally of one state.
SELECT * FROM notification_outbox
WHERE (%(state)s::text IS NULL OR state = %(state)s::text)
ORDER BY created_at, message_id
LIMIT %(limit)s;

-- name: notification_history_prune
-- Delete the attempts of settled (delivered or given-up) messages created before the cutoff.
DELETE FROM notification_history
WHERE message_id IN (SELECT message_id FROM notification_outbox
                     WHERE state <> 'PENDING' AND created_at < %(cutoff)s::timestamptz);

-- name: outbox_prune
-- Delete settled (delivered or given-up) messages created before the cutoff.
DELETE FROM notification_outbox WHERE state <> 'PENDING' AND created_at < %(cutoff)s::timestamptz;

-- name: outbox_next_due
-- When the earliest claimable message is due: its next attempt or the end of its lease, the later.
SELECT min(greatest(o.next_attempt_at, coalesce(o.lease_until, o.next_attempt_at))) AS due
FROM notification_outbox AS o
LEFT JOIN integrations AS i ON i.name = o.integration
WHERE o.state = 'PENDING' AND (i.name IS NULL OR i.enabled);

-- --- cluster coordination (docs/architecture.md, "Cluster coordination") ------------------------
-- A lease is live while lease_state is 'live' or 'draining' and lease_until is after the server's
-- clock_timestamp(). Fenced writes (and lease_held) lock the writer's node row FOR KEY SHARE, and
-- every statement that ends a lease or changes a row's epoch (node_join, lease_drain, lease_leave,
-- leases_revoke) first locks the row FOR UPDATE, the one row lock that conflicts with KEY SHARE: a
-- fenced write and the end of that lease happen one after the other (the write commits first and
-- whoever takes the node's tasks over sees it, or it waits, reads the row again and is refused).
-- Statements that change the row's other columns without ending its lease (lease_renew,
-- node_heartbeat, lease_claimer when the slots or warehouses changed: FOR NO KEY UPDATE, the lock
-- of an UPDATE of non-key columns) do not wait for fenced writes in flight, nor they for them.
-- A task's pin is its definition's (NODE = 'n', or Ocient's LOCATION NODE n), else the explicit one
-- of its placement row (pin_tasks):
--   coalesce(<node or LOCATION NODE of t.definition>, p.pinned_node)
-- It is read from the task's row in the statement that uses it, so a pin changed by ALTER TASK
-- holds from the commit of that ALTER on. The text test ('"node":' occurs in the JSON only as that
-- key: inside a JSON string a quote is escaped) spares parsing definitions that pin nothing.

-- name: node_join
-- A node joins (again): its row, a new epoch from the catalog's counter, a live lease from now. A
-- row it had already is locked FOR UPDATE first (held), so the new epoch waits for the fenced
-- writes of an earlier epoch in flight (the upsert alone would lock it FOR NO KEY UPDATE only).
WITH held AS (
    SELECT node_id FROM nodes WHERE node_id = %(node_id)s FOR UPDATE
), next AS (
    UPDATE catalog_meta SET node_epoch = node_epoch + 1 WHERE id = 1 RETURNING node_epoch
)
INSERT INTO nodes (node_id, host, pid, role, version, started_at, heartbeat_at, stopped_at, epoch,
                   lease_state, lease_ms, lease_until, capacity, running, warehouses, address)
SELECT %(node_id)s, %(host)s, %(pid)s, %(role)s, %(version)s, %(started_at)s::timestamptz,
       %(started_at)s::timestamptz, NULL, next.node_epoch, 'live', %(lease_ms)s,
       clock_timestamp() + %(lease_ms)s * interval '1 millisecond', %(capacity)s, 0,
       %(warehouses)s::text, %(address)s::text
FROM next LEFT JOIN held ON TRUE
ON CONFLICT (node_id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, role = excluded.role, version = excluded.version,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL,
    epoch = excluded.epoch, lease_state = 'live', lease_ms = excluded.lease_ms,
    lease_until = excluded.lease_until, capacity = excluded.capacity, running = 0,
    warehouses = excluded.warehouses, address = excluded.address
RETURNING epoch, lease_until;

-- name: lease_renew
-- Extend a live lease by its length from now and record the runs executing.
UPDATE nodes SET lease_until = clock_timestamp() + lease_ms * interval '1 millisecond',
    running = %(running)s
WHERE node_id = %(node_id)s AND epoch = %(epoch)s AND lease_state IN ('live', 'draining')
  AND lease_until > clock_timestamp()
RETURNING lease_until;

-- name: lease_drain
-- A node with a live lease takes no new task (its row locked FOR UPDATE first: see above).
UPDATE nodes SET lease_state = 'draining'
WHERE node_id IN (
    SELECT node_id FROM nodes
    WHERE node_id = %(node_id)s AND epoch = %(epoch)s AND lease_state IN ('live', 'draining')
      AND lease_until > clock_timestamp()
    FOR UPDATE
) AND epoch = %(epoch)s AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp()
RETURNING node_id;

-- name: lease_leave
-- End a live lease (a clean stop), its row locked FOR UPDATE first (see above).
UPDATE nodes SET lease_state = 'left', lease_until = clock_timestamp()
WHERE node_id IN (
    SELECT node_id FROM nodes
    WHERE node_id = %(node_id)s AND epoch = %(epoch)s AND lease_state IN ('live', 'draining')
      AND lease_until > clock_timestamp()
    FOR UPDATE
) AND epoch = %(epoch)s AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp()
RETURNING node_id;

-- name: lease_held
-- The fence's lease if it is live (its node row locked FOR KEY SHARE until the end of the transaction).
SELECT node_id FROM nodes
WHERE node_id = %(node_id)s AND epoch = %(epoch)s AND lease_state IN ('live', 'draining')
  AND lease_until > clock_timestamp()
FOR KEY SHARE;

-- name: node_epoch_gone
-- The node's row while it still has this epoch and its lease is not live (lost, left, or run out),
-- locked FOR KEY SHARE until the end of the transaction: a join of that node (FOR UPDATE first)
-- waits for the settling of its runs.
SELECT node_id FROM nodes
WHERE node_id = %(node_id)s AND epoch = %(epoch)s
  AND NOT (lease_state IN ('live', 'draining') AND lease_until > clock_timestamp())
FOR KEY SHARE;

-- name: lease_claimer
-- The claimer's own live lease (locked FOR KEY SHARE until the end of the transaction, so that no
-- end of it comes in between), with its slots and warehouses recorded; returns its lease state.
-- The row is updated only when they changed: an UPDATE locks it FOR NO KEY UPDATE until the claim's
-- transaction (a writer's group) commits, and a renewal would wait for that.
WITH held AS (
    SELECT node_id, lease_state FROM nodes
    WHERE node_id = %(node_id)s AND epoch = %(epoch)s AND lease_state IN ('live', 'draining')
      AND lease_until > clock_timestamp()
    FOR KEY SHARE
), recorded AS (
    UPDATE nodes SET capacity = %(capacity)s::int, warehouses = %(warehouses)s::text
    WHERE node_id IN (SELECT node_id FROM held)
      AND (capacity IS DISTINCT FROM %(capacity)s::int OR warehouses IS DISTINCT FROM %(warehouses)s::text)
)
SELECT lease_state FROM held;

-- name: leases_revoke
-- Revoke every lease that ran out; rows locked by a write in flight (FOR KEY SHARE by a fenced
-- write, or by a renewal) are skipped by the FOR UPDATE SKIP LOCKED (revoked next time). Returns
-- the leases skipped that ran out more than %(grace_ms)s ago: their rows are still locked, by a
-- session of a node that stopped mid-transaction (see backends_end).
WITH revoked AS (
    UPDATE nodes SET lease_state = 'lost'
    WHERE node_id IN (
        SELECT node_id FROM nodes
        WHERE lease_state IN ('live', 'draining') AND lease_until <= clock_timestamp()
        FOR UPDATE SKIP LOCKED
    ) AND lease_state IN ('live', 'draining') AND lease_until <= clock_timestamp()
    RETURNING node_id
)
SELECT node_id, epoch, current_schema() AS schema FROM nodes
WHERE lease_state IN ('live', 'draining')
  AND lease_until <= clock_timestamp() - %(grace_ms)s * interval '1 millisecond'
  AND node_id NOT IN (SELECT node_id FROM revoked);

-- name: backends_end
-- End the sessions of the catalog's database whose application_name is one of %(labels)s (the
-- fence labels of leases that leases_revoke skipped), other than this one: their transactions roll
-- back and their row locks go. Raises insufficient_privilege (42501) unless the catalog's user is
-- theirs (or a member of it, or of pg_signal_backend).
SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity
WHERE datname = current_database() AND application_name = ANY(%(labels)s) AND pid <> pg_backend_pid();

-- name: placements_fill
-- Give every live task without a placement an empty one.
INSERT INTO placements (task_id)
SELECT t.id FROM tasks AS t
WHERE t.dropped_on IS NULL AND NOT EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = t.id)
ORDER BY t.id
ON CONFLICT (task_id) DO NOTHING;

-- name: placements_prune
-- Forget the placements of dropped tasks (rows a claimer holds are left for next time).
DELETE FROM placements WHERE task_id IN (
    SELECT p.task_id FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
    WHERE t.dropped_on IS NOT NULL
    FOR UPDATE OF p SKIP LOCKED
);

-- name: placements_take_must
-- Take the orphans only this node may run: pinned to it, or of a warehouse no other live node
-- serves (:warehouses: this node's JSON array, NULL: every warehouse).
WITH taken AS (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND (coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) IS NULL OR coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) = %(node_id)s)
      AND (%(warehouses)s::text IS NULL
           OR %(warehouses)s::jsonb ? coalesce(t.definition::jsonb ->> 'warehouse', 'default'))
      AND (coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) = %(node_id)s OR NOT EXISTS (
              SELECT 1 FROM nodes AS o
              WHERE o.node_id <> %(node_id)s AND o.lease_state = 'live'
                AND o.lease_until > clock_timestamp()
                AND (o.warehouses IS NULL
                     OR o.warehouses::jsonb ? coalesce(t.definition::jsonb ->> 'warehouse', 'default'))))
    ORDER BY p.task_id
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE placements AS p SET node_id = %(node_id)s, epoch = %(epoch)s, placed_at = clock_timestamp()
FROM taken WHERE p.task_id = taken.task_id
RETURNING p.task_id;

-- name: placements_take_share
-- Take unpinned orphans of the warehouses this node serves, up to its share of the live tasks
-- (in proportion to its slots), none while its slots are full and another live node's are not.
WITH live AS (
    SELECT node_id, capacity, running FROM nodes
    WHERE lease_state = 'live' AND lease_until > clock_timestamp()
), quota AS (
    SELECT CASE
        WHEN me.running >= me.capacity
             AND EXISTS (SELECT 1 FROM live WHERE live.node_id <> %(node_id)s AND live.running < live.capacity)
        THEN 0
        ELSE greatest(0, ceil((SELECT count(*) FROM tasks WHERE dropped_on IS NULL) * me.capacity::numeric
                              / (SELECT sum(capacity) FROM live))
                         - (SELECT count(*) FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
                            WHERE t.dropped_on IS NULL AND p.node_id = %(node_id)s AND p.epoch = %(epoch)s))
        END::bigint AS n
    FROM live AS me WHERE me.node_id = %(node_id)s
), taken AS (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) IS NULL
      AND (%(warehouses)s::text IS NULL
           OR %(warehouses)s::jsonb ? coalesce(t.definition::jsonb ->> 'warehouse', 'default'))
    ORDER BY p.task_id
    LIMIT coalesce((SELECT n FROM quota), 0)
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE placements AS p SET node_id = %(node_id)s, epoch = %(epoch)s, placed_at = clock_timestamp()
FROM taken WHERE p.task_id = taken.task_id
RETURNING p.task_id;

-- name: placements_take_rest
-- Take the unpinned orphans left of the warehouses this node serves that no other live node serving
-- them would take at its next claim: each such node holds its share already, or its slots are full
-- while another live node's are not. Slots limit the runs executing, not the placements, so an
-- orphan never waits for a node to be below its share or to have a free slot.
WITH live AS (
    SELECT node_id, epoch, capacity, running, warehouses FROM nodes
    WHERE lease_state = 'live' AND lease_until > clock_timestamp()
), willing AS (
    SELECT o.warehouses FROM live AS o
    WHERE o.node_id <> %(node_id)s
      AND NOT (o.running >= o.capacity
               AND EXISTS (SELECT 1 FROM live AS r WHERE r.node_id <> o.node_id AND r.running < r.capacity))
      AND ceil((SELECT count(*) FROM tasks WHERE dropped_on IS NULL) * o.capacity::numeric
               / (SELECT sum(capacity) FROM live))
          > (SELECT count(*) FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
             WHERE t.dropped_on IS NULL AND p.node_id = o.node_id AND p.epoch = o.epoch)
), taken AS (
    SELECT p.task_id
    FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
    WHERE EXISTS (SELECT 1 FROM live WHERE live.node_id = %(node_id)s)
      AND (p.node_id IS NULL OR NOT EXISTS (
              SELECT 1 FROM nodes AS h WHERE h.node_id = p.node_id AND h.epoch = p.epoch
                AND h.lease_state IN ('live', 'draining')))
      AND coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) IS NULL
      AND (%(warehouses)s::text IS NULL
           OR %(warehouses)s::jsonb ? coalesce(t.definition::jsonb ->> 'warehouse', 'default'))
      AND NOT EXISTS (
              SELECT 1 FROM willing AS o
              WHERE o.warehouses IS NULL
                 OR o.warehouses::jsonb ? coalesce(t.definition::jsonb ->> 'warehouse', 'default'))
    ORDER BY p.task_id
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE placements AS p SET node_id = %(node_id)s, epoch = %(epoch)s, placed_at = clock_timestamp()
FROM taken WHERE p.task_id = taken.task_id
RETURNING p.task_id;

-- name: placements_release
-- Give up the placements a holder has among the array :task_ids (NULL: all); returns their ids.
UPDATE placements SET node_id = NULL, epoch = NULL, placed_at = NULL
WHERE node_id = %(node_id)s AND epoch = %(epoch)s
  AND (%(task_ids)s::bigint[] IS NULL OR task_id = ANY(%(task_ids)s::bigint[]))
RETURNING task_id;

-- name: placements_release_moved
-- Give up the placements the fence holds of tasks now pinned to another node; returns their ids.
UPDATE placements AS q SET node_id = NULL, epoch = NULL, placed_at = NULL
FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
WHERE q.task_id = p.task_id AND p.node_id = %(node_id)s AND p.epoch = %(epoch)s
  AND coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) <> %(node_id)s
RETURNING q.task_id;

-- name: runs_hand_over
-- Delete a node's claims of instants of the array :task_ids that never started; returns each task's
-- version and instant (the earliest is where its next instant goes back to).
DELETE FROM runs
WHERE node_id = %(node_id)s AND task_id = ANY(%(task_ids)s::bigint[]) AND state = 'SCHEDULED'
  AND query_start_time IS NULL AND scheduled_from = 'SCHEDULE' AND attempt_number = 1
  AND graph_run_group_id IS NULL
RETURNING task_id, task_version, scheduled_time;

-- name: placement_pin
-- Pin a live task to a node (NULL: unpin); returns its holder before the change.
INSERT INTO placements AS p (task_id, pinned_node)
SELECT t.id, %(pinned_node)s::text FROM tasks AS t WHERE t.id = %(task_id)s AND t.dropped_on IS NULL
ON CONFLICT (task_id) DO UPDATE SET pinned_node = excluded.pinned_node
RETURNING p.task_id, p.node_id, p.epoch;

-- name: placement_unhold
-- Release one task from its holder (a pin moved it elsewhere).
UPDATE placements SET node_id = NULL, epoch = NULL, placed_at = NULL WHERE task_id = %(task_id)s;

-- name: placements_list
-- Placements of live tasks, by task id: all, or those held by one node (any epoch); the pin is
-- the task's (its definition's, else the placement's own).
SELECT p.task_id, p.node_id, p.epoch, coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) AS pinned_node, p.placed_at
FROM placements AS p JOIN tasks AS t ON t.id = p.task_id AND t.dropped_on IS NULL
WHERE %(node_id)s::text IS NULL OR p.node_id = %(node_id)s::text
ORDER BY p.task_id;

-- name: cluster_members
-- Every node, most recently started first, with whether its lease is live now and the live tasks
-- its current epoch holds.
SELECT n.*,
    (n.lease_state IN ('live', 'draining') AND n.lease_until > clock_timestamp()) AS live,
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
SELECT %(task_id)s::bigint, %(task_version)s::int, %(name)s::text, %(database_name)s::text,
    %(schema_name)s::text, %(scheduled_time)s::timestamptz, %(state)s::text, %(scheduled_from)s::text,
    %(attempt_number)s::int, %(query_start_time)s::timestamptz, %(completed_time)s::timestamptz,
    %(error_code)s::text, %(error_message)s::text, %(query_text)s::text, %(condition_text)s::text,
    %(warehouse)s::text, %(node_id)s::text, %(graph_run_group_id)s::text, %(root_task_id)s::bigint,
    %(graph_version)s::int, %(config)s::text
WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND EXISTS (SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
              WHERE p.task_id = coalesce(%(root_task_id)s::bigint, %(task_id)s::bigint)
                AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s
                AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node), %(fence_node)s) = %(fence_node)s
              FOR SHARE OF p)
ON CONFLICT DO NOTHING RETURNING run_id;

-- name: run_settle_fenced
-- run_settle, only for a run of the fence's node while its lease is live; a start (EXECUTING) also
-- needs the run's task (its graph root) placed on the fence.
UPDATE runs SET
    state = %(state)s,
    query_start_time = coalesce(%(query_start_time)s::timestamptz, query_start_time),
    completed_time = coalesce(%(completed_time)s::timestamptz, completed_time),
    error_code = %(error_code)s,
    error_message = %(error_message)s,
    rows_produced = coalesce(%(rows_produced)s::bigint, rows_produced),
    rows_inserted = coalesce(%(rows_inserted)s::bigint, rows_inserted),
    return_value = coalesce(%(return_value)s::text, return_value),
    query_id = coalesce(%(query_id)s::text, query_id)
WHERE run_id = %(run_id)s AND state IN ('SCHEDULED', 'EXECUTING') AND node_id = %(fence_node)s
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND (%(state)s::text <> 'EXECUTING' OR EXISTS (
         SELECT 1 FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
         WHERE p.task_id = coalesce(runs.root_task_id, runs.task_id)
           AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s
           AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node), %(fence_node)s) = %(fence_node)s
         FOR SHARE OF p))
RETURNING run_id;

-- name: task_runtime_fenced
-- task_runtime, only while the fence's lease is live and the task is placed on it, or it runs on
-- every node (RUN ON HOSTS: each node applies the failure policy to its own runs, whoever holds it).
UPDATE tasks SET
    next_fire_at = CASE WHEN %(clear_next_fire)s::int = 1 THEN NULL
                        ELSE coalesce(%(next_fire_at)s::timestamptz, next_fire_at) END,
    consecutive_failures = coalesce(%(consecutive_failures)s::int, consecutive_failures),
    resumed_on = coalesce(%(resumed_on)s::timestamptz, resumed_on),
    state = coalesce(%(state)s::text, state),
    suspend_reason = CASE WHEN %(state)s::text IS NULL THEN suspend_reason ELSE %(suspend_reason)s::text END,
    last_suspended_on = CASE WHEN %(state)s::text = 'suspended' AND state <> 'suspended'
                             THEN %(now)s::timestamptz ELSE last_suspended_on END
WHERE id = %(task_id)s AND dropped_on IS NULL
  AND (%(guarded)s::int = 0 OR (version = %(guard_version)s::int
                                AND resumed_on IS NOT DISTINCT FROM %(guard_anchor)s::timestamptz))
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND (EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = tasks.id
                AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s FOR SHARE OF p)
       OR (strpos(definition, '"run_on":"HOSTS"') > 0 AND definition::jsonb ->> 'run_on' = 'HOSTS'));

-- name: graph_run_finish_fenced
-- graph_run_finish, only while the fence's lease is live.
UPDATE graph_runs SET
    state = %(state)s, completed_time = %(completed_time)s,
    first_error_task_name = %(first_error_task_name)s, first_error_code = %(first_error_code)s,
    first_error_message = %(first_error_message)s
WHERE graph_run_group_id = %(graph_run_group_id)s AND state = 'EXECUTING'
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE);

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
SELECT %(task_id)s::bigint, %(task_version)s::int, %(name)s::text, %(database_name)s::text,
    %(schema_name)s::text, %(scheduled_time)s::timestamptz, %(state)s::text, %(scheduled_from)s::text,
    %(attempt_number)s::int, %(query_start_time)s::timestamptz, %(completed_time)s::timestamptz,
    %(error_code)s::text, %(error_message)s::text, %(query_text)s::text, %(condition_text)s::text,
    %(warehouse)s::text, %(fence_node)s::text, NULL, NULL, NULL, %(config)s::text, %(fence_node)s::text
WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state = 'live' AND lease_until > clock_timestamp() FOR KEY SHARE)
ON CONFLICT DO NOTHING RETURNING run_id;

-- name: node_cluster_set
-- Record the cluster a node belongs to (its setting cluster_id).
UPDATE nodes SET cluster_id = %(cluster_id)s WHERE node_id = %(node_id)s;

-- name: fanout_nodes
-- The nodes with a live lease now, by id, with the warehouses they serve and their cluster.
SELECT node_id, epoch, warehouses, cluster_id FROM nodes
WHERE lease_state = 'live' AND lease_until > clock_timestamp()
ORDER BY node_id;

-- name: subtask_insert
-- One sub-task of a run, PENDING.
INSERT INTO subtasks (run_id, task_id, task_name, node_id, task_type, location, state, items_total,
                      detail, created_at)
VALUES (%(run_id)s, %(task_id)s, %(task_name)s, %(node_id)s, %(task_type)s, %(location)s, 'PENDING',
        %(items_total)s, %(detail)s, %(now)s::timestamptz)
RETURNING *;

-- name: subtasks_take
-- A node takes its pending sub-tasks (RUNNING from now); returns them.
UPDATE subtasks SET state = 'RUNNING', started_at = %(now)s::timestamptz
WHERE subtask_id IN (
    SELECT subtask_id FROM subtasks WHERE node_id = %(node_id)s AND state = 'PENDING'
    ORDER BY subtask_id FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: subtask_progress
-- The items a running sub-task has done so far (and of how many, when given).
UPDATE subtasks SET items_done = %(items_done)s,
    items_total = coalesce(%(items_total)s::int, items_total)
WHERE subtask_id = %(subtask_id)s AND state = 'RUNNING'
RETURNING subtask_id;

-- name: subtask_settle
-- Settle an open sub-task (a settled one is final).
UPDATE subtasks SET state = %(state)s, completed_time = %(now)s::timestamptz,
    started_at = coalesce(started_at, %(now)s::timestamptz),
    items_done = coalesce(%(items_done)s::int, items_done),
    error_code = %(error_code)s, error_message = %(error_message)s
WHERE subtask_id = %(subtask_id)s AND state IN ('PENDING', 'RUNNING')
RETURNING subtask_id;

-- name: subtasks_cancel
-- Cancel the open sub-tasks of a task (:task_id) or of one run (:run_id); returns their ids.
UPDATE subtasks SET state = 'CANCELLED', completed_time = %(now)s::timestamptz,
    error_code = 'CANCELLED', error_message = %(reason)s
WHERE state IN ('PENDING', 'RUNNING')
  AND (%(task_id)s::bigint IS NULL OR task_id = %(task_id)s::bigint)
  AND (%(run_id)s::bigint IS NULL OR run_id = %(run_id)s::bigint)
RETURNING subtask_id;

-- name: subtasks_settle_lost
-- Fail the open sub-tasks of nodes whose lease is gone (lost, left, or run out by the server's
-- clock), and the running ones of :node_id (a node that started again: they died with it).
UPDATE subtasks AS s SET state = 'FAILED', completed_time = %(now)s::timestamptz, error_code = 'NODE_LOST',
    error_message = 'node ' || s.node_id || ' was lost before it settled its sub-task'
WHERE s.state IN ('PENDING', 'RUNNING')
  AND ((s.node_id = %(node_id)s::text AND s.state = 'RUNNING')
       OR EXISTS (SELECT 1 FROM nodes AS n WHERE n.node_id = s.node_id
                    AND (n.lease_state IN ('lost', 'left')
                         OR (n.lease_state IN ('live', 'draining') AND n.lease_until <= clock_timestamp()))))
RETURNING s.subtask_id;

-- name: subtasks_list
-- Sub-tasks by id: all, or those of a run, a task or a node, or only the open ones.
SELECT * FROM subtasks
WHERE (%(run_id)s::bigint IS NULL OR run_id = %(run_id)s::bigint)
  AND (%(task_id)s::bigint IS NULL OR task_id = %(task_id)s::bigint)
  AND (%(node_id)s::text IS NULL OR node_id = %(node_id)s::text)
  AND (%(open)s::int = 0 OR state IN ('PENDING', 'RUNNING'))
ORDER BY subtask_id;

-- name: placement_move
-- Move one unpinned task the fence holds to the current epoch of a node with a live lease (a
-- rebalance); returns its id when it moved.
UPDATE placements AS p SET node_id = n.node_id, epoch = n.epoch, placed_at = clock_timestamp()
FROM nodes AS n, tasks AS t
WHERE p.task_id = %(task_id)s AND t.id = p.task_id AND t.dropped_on IS NULL
  AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s
  AND n.node_id = %(target)s AND n.lease_state = 'live' AND n.lease_until > clock_timestamp()
  AND coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node) IS NULL
RETURNING p.task_id;

-- name: tasks_on_hosts
-- The live tasks with RUN ON HOSTS (the text test spares parsing every definition), by id.
SELECT * FROM tasks
WHERE dropped_on IS NULL AND strpos(definition, '"run_on":"HOSTS"') > 0
  AND definition::jsonb ->> 'run_on' = 'HOSTS'
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
VALUES (%(name)s, %(default_role)s, %(disabled)s, %(comment)s, %(token_sha256)s, %(created_by)s, %(created_on)s::timestamptz)
ON CONFLICT (name) DO NOTHING;

-- name: security_user_update
-- Replace a user's changeable fields.
UPDATE security_users SET default_role = %(default_role)s, disabled = %(disabled)s, comment = %(comment)s,
    token_sha256 = %(token_sha256)s
WHERE name = %(name)s;

-- name: security_user_delete
-- Drop a user.
DELETE FROM security_users WHERE name = %(name)s;

-- name: security_user_by_token
-- The user whose token has this digest.
SELECT name, default_role, disabled, comment, token_sha256, created_by, created_on FROM security_users
WHERE token_sha256 = %(token_sha256)s;

-- name: security_role_insert
-- Add a role; nothing when the name is taken.
INSERT INTO security_roles (name, owner, comment, created_on) VALUES (%(name)s, %(owner)s, %(comment)s, %(created_on)s::timestamptz)
ON CONFLICT (name) DO NOTHING;

-- name: security_role_delete
-- Drop a role.
DELETE FROM security_roles WHERE name = %(name)s;

-- name: security_role_grant_insert
-- Grant a role; nothing when it is granted already.
INSERT INTO security_role_grants (role, grantee_kind, grantee, granted_by, created_on)
VALUES (%(role)s, %(grantee_kind)s, %(grantee)s, %(granted_by)s, %(created_on)s::timestamptz)
ON CONFLICT (role, grantee_kind, grantee) DO NOTHING;

-- name: security_role_grant_delete
-- Revoke a role from a role or a user.
DELETE FROM security_role_grants WHERE role = %(role)s AND grantee_kind = %(grantee_kind)s AND grantee = %(grantee)s;

-- name: security_role_grants_of_role_delete
-- Forget the grants of a dropped role, and to it.
DELETE FROM security_role_grants WHERE role = %(name)s OR (grantee_kind = 'ROLE' AND grantee = %(name)s);

-- name: security_role_grants_of_user_delete
-- Forget the roles granted to a dropped user.
DELETE FROM security_role_grants WHERE grantee_kind = 'USER' AND grantee = %(name)s;

-- name: security_privilege_insert
-- Grant a privilege; nothing when it is granted already.
INSERT INTO security_privileges (privilege, object_kind, object_name, role, granted_by, created_on)
VALUES (%(privilege)s, %(object_kind)s, %(object_name)s, %(role)s, %(granted_by)s, %(created_on)s::timestamptz)
ON CONFLICT (privilege, object_kind, object_name, role) DO NOTHING;

-- name: security_privilege_delete
-- Revoke a privilege.
DELETE FROM security_privileges
WHERE privilege = %(privilege)s AND object_kind = %(object_kind)s AND object_name = %(object_name)s AND role = %(role)s;

-- name: security_privileges_of_role_delete
-- Forget the privileges of a dropped role.
DELETE FROM security_privileges WHERE role = %(name)s;

-- name: security_privileges_of_object_delete
-- Forget the privileges on a dropped object.
DELETE FROM security_privileges WHERE object_kind = %(object_kind)s AND object_name = %(object_name)s;

-- name: audit_insert
-- Record one audited statement.
INSERT INTO audit_log (at, user_name, role_name, statement, outcome, error_code, error_message)
VALUES (%(at)s::timestamptz, %(user_name)s, %(role_name)s, %(statement)s, %(outcome)s, %(error_code)s, %(error_message)s);

-- name: audit_list
-- The audit log, newest first.
SELECT id, at, user_name, role_name, statement, outcome, error_code, error_message FROM audit_log
ORDER BY id DESC LIMIT %(limit)s;

-- name: audit_prune
-- Delete audit entries older than the cutoff.
DELETE FROM audit_log WHERE at < %(cutoff)s::timestamptz;

-- name: storage_check_insert
-- One object a check_disk run checked.
INSERT INTO storage_checks (run_id, task_id, task_name, node_id, object_kind, storage_id, check_name,
                            result, detail, checked_at)
VALUES (%(run_id)s, %(task_id)s, %(task_name)s, %(node_id)s, %(object_kind)s, %(storage_id)s,
        %(check_name)s, %(result)s, %(detail)s, %(checked_at)s::timestamptz);

-- name: storage_checks_list
-- The objects check_disk runs checked, by id: all, or those of one run.
SELECT * FROM storage_checks
WHERE (%(run_id)s::bigint IS NULL OR run_id = %(run_id)s::bigint)
ORDER BY check_id;

-- name: catalog_amcheck_schema
-- The schema of the amcheck extension, when it is installed in the catalog's database.
SELECT n.nspname AS schema FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'amcheck';

-- name: catalog_search_path
-- The connection's search_path.
SELECT current_setting('search_path') AS path;

-- name: catalog_search_path_set
-- Set the connection's search_path (amcheck's schema is added for its check, then taken off).
SELECT set_config('search_path', %(path)s, false) AS path;

-- name: catalog_btree_indexes
-- The B-tree indexes of the catalog's schema, by name.
SELECT c.oid::bigint AS oid, c.relname AS name
FROM pg_class AS c JOIN pg_am AS a ON a.oid = c.relam
WHERE c.relkind = 'i' AND a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace
ORDER BY c.relname;

-- name: catalog_btree_check
-- amcheck's check of one B-tree index (raises on damage).
SELECT 1 AS ok FROM (SELECT bt_index_check(%(oid)s::bigint::oid::regclass)) AS checked;

-- name: run_settle_set
-- run_settle of a batch of distinct runs, one array element per run; returns each settled run's ordinal.
-- The runs are also named by run_id = ANY(...): an index scan of the batch's rows that the planner
-- sizes right (joined to the array alone, it hashed a scan of the whole table for larger batches).
UPDATE runs SET
    state = v.state,
    query_start_time = coalesce(v.query_start_time, runs.query_start_time),
    completed_time = coalesce(v.completed_time, runs.completed_time),
    error_code = v.error_code,
    error_message = v.error_message,
    rows_produced = coalesce(v.rows_produced, runs.rows_produced),
    rows_inserted = coalesce(v.rows_inserted, runs.rows_inserted),
    return_value = coalesce(v.return_value, runs.return_value),
    query_id = coalesce(v.query_id, runs.query_id)
FROM unnest(%(run_id)s::bigint[], %(state)s::text[], %(query_start_time)s::timestamptz[],
            %(completed_time)s::timestamptz[], %(error_code)s::text[], %(error_message)s::text[],
            %(rows_produced)s::bigint[], %(rows_inserted)s::bigint[], %(return_value)s::text[],
            %(query_id)s::text[]) WITH ORDINALITY
     AS v(run_id, state, query_start_time, completed_time, error_code, error_message, rows_produced,
          rows_inserted, return_value, query_id, ord)
WHERE runs.run_id = v.run_id AND runs.run_id = ANY(%(run_id)s::bigint[]) AND runs.state IN ('SCHEDULED', 'EXECUTING')
RETURNING v.ord, runs.run_id;

-- name: run_settle_fenced_set
-- run_settle_fenced of a batch of distinct runs, one array element per run; returns each settled run's ordinal.
-- (run_id = ANY(...): see run_settle_set.)
UPDATE runs SET
    state = v.state,
    query_start_time = coalesce(v.query_start_time, runs.query_start_time),
    completed_time = coalesce(v.completed_time, runs.completed_time),
    error_code = v.error_code,
    error_message = v.error_message,
    rows_produced = coalesce(v.rows_produced, runs.rows_produced),
    rows_inserted = coalesce(v.rows_inserted, runs.rows_inserted),
    return_value = coalesce(v.return_value, runs.return_value),
    query_id = coalesce(v.query_id, runs.query_id)
FROM unnest(%(run_id)s::bigint[], %(state)s::text[], %(query_start_time)s::timestamptz[],
            %(completed_time)s::timestamptz[], %(error_code)s::text[], %(error_message)s::text[],
            %(rows_produced)s::bigint[], %(rows_inserted)s::bigint[], %(return_value)s::text[],
            %(query_id)s::text[]) WITH ORDINALITY
     AS v(run_id, state, query_start_time, completed_time, error_code, error_message, rows_produced,
          rows_inserted, return_value, query_id, ord)
WHERE runs.run_id = v.run_id AND runs.run_id = ANY(%(run_id)s::bigint[])
  AND runs.state IN ('SCHEDULED', 'EXECUTING') AND runs.node_id = %(fence_node)s
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND (v.state <> 'EXECUTING' OR (
         -- looked up run by run (see run_insert_fenced_set)
         SELECT TRUE FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
         WHERE p.task_id = coalesce(runs.root_task_id, runs.task_id)
           AND p.node_id || '' = %(fence_node)s AND p.epoch + 0 = %(fence_epoch)s
           AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                   THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
               p.pinned_node), %(fence_node)s) = %(fence_node)s
         FOR SHARE OF p) IS NOT NULL)
RETURNING v.ord, runs.run_id;

-- name: task_runtime_set
-- task_runtime of a batch of distinct tasks, one array element per task.
UPDATE tasks SET
    next_fire_at = CASE WHEN v.clear_next_fire = 1 THEN NULL
                        ELSE coalesce(v.next_fire_at, tasks.next_fire_at) END,
    consecutive_failures = coalesce(v.consecutive_failures, tasks.consecutive_failures),
    resumed_on = coalesce(v.resumed_on, tasks.resumed_on),
    state = coalesce(v.state, tasks.state),
    suspend_reason = CASE WHEN v.state IS NULL THEN tasks.suspend_reason ELSE v.suspend_reason END,
    last_suspended_on = CASE WHEN v.state = 'suspended' AND tasks.state <> 'suspended'
                             THEN %(now)s::timestamptz ELSE tasks.last_suspended_on END
FROM unnest(%(task_id)s::bigint[], %(next_fire_at)s::timestamptz[], %(clear_next_fire)s::int[],
            %(consecutive_failures)s::int[], %(resumed_on)s::timestamptz[], %(state)s::text[],
            %(suspend_reason)s::text[], %(guarded)s::int[], %(guard_version)s::int[],
            %(guard_anchor)s::timestamptz[])
     AS v(task_id, next_fire_at, clear_next_fire, consecutive_failures, resumed_on, state,
          suspend_reason, guarded, guard_version, guard_anchor)
WHERE tasks.id = v.task_id AND tasks.dropped_on IS NULL
  AND (v.guarded = 0 OR (tasks.version = v.guard_version
                         AND tasks.resumed_on IS NOT DISTINCT FROM v.guard_anchor));

-- name: task_runtime_fenced_set
-- task_runtime_fenced of a batch of distinct tasks, one array element per task.
UPDATE tasks SET
    next_fire_at = CASE WHEN v.clear_next_fire = 1 THEN NULL
                        ELSE coalesce(v.next_fire_at, tasks.next_fire_at) END,
    consecutive_failures = coalesce(v.consecutive_failures, tasks.consecutive_failures),
    resumed_on = coalesce(v.resumed_on, tasks.resumed_on),
    state = coalesce(v.state, tasks.state),
    suspend_reason = CASE WHEN v.state IS NULL THEN tasks.suspend_reason ELSE v.suspend_reason END,
    last_suspended_on = CASE WHEN v.state = 'suspended' AND tasks.state <> 'suspended'
                             THEN %(now)s::timestamptz ELSE tasks.last_suspended_on END
FROM unnest(%(task_id)s::bigint[], %(next_fire_at)s::timestamptz[], %(clear_next_fire)s::int[],
            %(consecutive_failures)s::int[], %(resumed_on)s::timestamptz[], %(state)s::text[],
            %(suspend_reason)s::text[], %(guarded)s::int[], %(guard_version)s::int[],
            %(guard_anchor)s::timestamptz[])
     AS v(task_id, next_fire_at, clear_next_fire, consecutive_failures, resumed_on, state,
          suspend_reason, guarded, guard_version, guard_anchor)
WHERE tasks.id = v.task_id AND tasks.dropped_on IS NULL
  AND (v.guarded = 0 OR (tasks.version = v.guard_version
                         AND tasks.resumed_on IS NOT DISTINCT FROM v.guard_anchor))
  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
  AND (EXISTS (SELECT 1 FROM placements AS p WHERE p.task_id = tasks.id
                AND p.node_id = %(fence_node)s AND p.epoch = %(fence_epoch)s FOR SHARE OF p)
       OR (strpos(tasks.definition, '"run_on":"HOSTS"') > 0 AND tasks.definition::jsonb ->> 'run_on' = 'HOSTS'));

-- name: run_insert_set
-- run_insert of a batch of runs with distinct keys, inserted in array order; returns each inserted run's ordinal.
WITH v AS (
    SELECT * FROM unnest(
        %(task_id)s::bigint[], %(task_version)s::int[], %(name)s::text[], %(database_name)s::text[],
        %(schema_name)s::text[], %(scheduled_time)s::timestamptz[], %(state)s::text[],
        %(scheduled_from)s::text[], %(attempt_number)s::int[], %(query_start_time)s::timestamptz[],
        %(completed_time)s::timestamptz[], %(error_code)s::text[], %(error_message)s::text[],
        %(query_text)s::text[], %(condition_text)s::text[], %(warehouse)s::text[], %(node_id)s::text[],
        %(graph_run_group_id)s::text[], %(root_task_id)s::bigint[], %(graph_version)s::int[],
        %(config)s::text[]) WITH ORDINALITY
    AS v(task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
         attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
         condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config, ord)
), ins AS (
    INSERT INTO runs (
        task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
        attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
        condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
    )
    SELECT task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
        attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
        condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
    FROM v ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING run_id, task_id, scheduled_time, scheduled_from, attempt_number, graph_run_group_id, node_id
)
SELECT v.ord, ins.run_id FROM ins JOIN v
  ON ins.task_id = v.task_id AND ins.scheduled_time = v.scheduled_time
 AND ins.scheduled_from = v.scheduled_from AND ins.attempt_number = v.attempt_number
 AND ins.graph_run_group_id IS NOT DISTINCT FROM v.graph_run_group_id
 AND ins.node_id IS NOT DISTINCT FROM v.node_id;

-- name: run_insert_fenced_set
-- run_insert_fenced of a batch of runs with distinct keys, inserted in array order; returns each inserted run's ordinal.
WITH v AS (
    SELECT * FROM unnest(
        %(task_id)s::bigint[], %(task_version)s::int[], %(name)s::text[], %(database_name)s::text[],
        %(schema_name)s::text[], %(scheduled_time)s::timestamptz[], %(state)s::text[],
        %(scheduled_from)s::text[], %(attempt_number)s::int[], %(query_start_time)s::timestamptz[],
        %(completed_time)s::timestamptz[], %(error_code)s::text[], %(error_message)s::text[],
        %(query_text)s::text[], %(condition_text)s::text[], %(warehouse)s::text[], %(node_id)s::text[],
        %(graph_run_group_id)s::text[], %(root_task_id)s::bigint[], %(graph_version)s::int[],
        %(config)s::text[]) WITH ORDINALITY
    AS v(task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
         attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
         condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config, ord)
), ins AS (
    INSERT INTO runs (
        task_id, task_version, name, database_name, schema_name, scheduled_time, state, scheduled_from,
        attempt_number, query_start_time, completed_time, error_code, error_message, query_text,
        condition_text, warehouse, node_id, graph_run_group_id, root_task_id, graph_version, config
    )
    SELECT v.task_id, v.task_version, v.name, v.database_name, v.schema_name, v.scheduled_time, v.state,
        v.scheduled_from, v.attempt_number, v.query_start_time, v.completed_time, v.error_code,
        v.error_message, v.query_text, v.condition_text, v.warehouse, v.node_id, v.graph_run_group_id,
        v.root_task_id, v.graph_version, v.config
    FROM (
        -- the placement looked up run by run, by its key (a scalar subquery is never made into a
        -- join: a semi join hashed every placement of the node, a cost that grows with the tasks,
        -- not the batch; the holder's columns are compared as expressions, so that no plan walks
        -- the node's placements when the statistics say it holds few)
        SELECT v.*, (SELECT TRUE FROM placements AS p JOIN tasks AS t ON t.id = p.task_id
                     WHERE p.task_id = coalesce(v.root_task_id, v.task_id)
                       AND p.node_id || '' = %(fence_node)s AND p.epoch + 0 = %(fence_epoch)s
                       AND coalesce(coalesce(CASE WHEN strpos(t.definition, '"node":') > 0 OR strpos(t.definition, '"location":"NODE"') > 0
                          THEN coalesce(t.definition::jsonb ->> 'node', t.definition::jsonb -> 'body' ->> 'location_name') END,
                      p.pinned_node), %(fence_node)s) = %(fence_node)s
                     FOR SHARE OF p) AS placed
        FROM v OFFSET 0
    ) AS v
    WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = %(fence_node)s AND epoch = %(fence_epoch)s
                    AND lease_state IN ('live', 'draining') AND lease_until > clock_timestamp() FOR KEY SHARE)
      AND v.placed
    ORDER BY v.ord
    ON CONFLICT DO NOTHING
    RETURNING run_id, task_id, scheduled_time, scheduled_from, attempt_number, graph_run_group_id, node_id
)
SELECT v.ord, ins.run_id FROM ins JOIN v
  ON ins.task_id = v.task_id AND ins.scheduled_time = v.scheduled_time
 AND ins.scheduled_from = v.scheduled_from AND ins.attempt_number = v.attempt_number
 AND ins.graph_run_group_id IS NOT DISTINCT FROM v.graph_run_group_id
 AND ins.node_id IS NOT DISTINCT FROM v.node_id;
