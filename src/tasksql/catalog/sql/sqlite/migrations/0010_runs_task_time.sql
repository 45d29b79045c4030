-- 0010: a task's history, newest first, read in index order: a page, a time range or a page deep in
-- a long history costs the rows it returns (runs_list with a task), not the task's whole history.
CREATE INDEX runs_task_time ON runs (task_id, scheduled_time, run_id);
