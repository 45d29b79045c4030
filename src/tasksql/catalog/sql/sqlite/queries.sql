-- Named queries of the SQLite catalog, loaded by tasksql.catalog.queries.
--
-- Each query starts with a "-- name: <query_name>" line followed by a one-line "-- description";
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

-- name: change_seq_bump
-- Advance the change sequence by one and return the new value.
UPDATE catalog_meta SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq;

-- name: task_by_name
-- The live task with this resolved name.
SELECT * FROM tasks
WHERE database_name = :database_name AND schema_name = :schema_name AND name = :name
  AND dropped_on IS NULL;

-- name: task_by_id
-- The live task with this id.
SELECT * FROM tasks WHERE id = :id AND dropped_on IS NULL;

-- name: tasks_live
-- Every live task, ordered by name.
SELECT * FROM tasks WHERE dropped_on IS NULL ORDER BY database_name, schema_name, name;

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
    webhook_signing_secret, comment, created_on, last_altered_on
) VALUES (
    :name, :type, :enabled, :webhook_url, :webhook_method, :webhook_authorization_header,
    :webhook_signing_secret, :comment, :created_on, :last_altered_on
) ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, enabled = excluded.enabled, webhook_url = excluded.webhook_url,
    webhook_method = excluded.webhook_method,
    webhook_authorization_header = excluded.webhook_authorization_header,
    webhook_signing_secret = excluded.webhook_signing_secret, comment = excluded.comment,
    last_altered_on = excluded.last_altered_on;

-- name: integration_delete
-- Delete an integration; returns its name when it existed.
DELETE FROM integrations WHERE name = :name RETURNING name;

-- name: warehouse_by_name
-- The warehouse with this name.
SELECT * FROM warehouses WHERE name = :name;

-- name: warehouses_all
-- Every warehouse, ordered by name.
SELECT * FROM warehouses ORDER BY name;

-- name: warehouse_upsert
-- Create a warehouse or overwrite one of that name, keeping its created_on.
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on)
VALUES (:name, :type, :url, :max_concurrency, :comment, :created_on, :last_altered_on)
ON CONFLICT (name) DO UPDATE SET
    type = excluded.type, url = excluded.url, max_concurrency = excluded.max_concurrency,
    comment = excluded.comment, last_altered_on = excluded.last_altered_on;

-- name: warehouse_seed
-- Create a warehouse unless one of that name exists (seeds 'default').
INSERT INTO warehouses (name, type, url, max_concurrency, comment, created_on, last_altered_on)
VALUES (:name, :type, :url, :max_concurrency, :comment, :created_on, :last_altered_on)
ON CONFLICT (name) DO NOTHING;

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
