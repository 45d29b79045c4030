-- 0005: the fence of triggered runs (a task without SCHEDULE run when its stream gets data,
-- scheduled_from 'TRIGGER'): a trigger instant of a task (a standalone task or a graph's root) gets
-- at most one first attempt, whichever node fires it.
CREATE UNIQUE INDEX runs_trigger_fence ON runs (task_id, scheduled_time)
    WHERE scheduled_from = 'TRIGGER' AND attempt_number = 1 AND (root_task_id IS NULL OR root_task_id = task_id);
