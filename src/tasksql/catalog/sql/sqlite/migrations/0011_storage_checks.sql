-- 0011: what each check_disk run checked: one row per object (catalog, warehouse file, table, index).
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
