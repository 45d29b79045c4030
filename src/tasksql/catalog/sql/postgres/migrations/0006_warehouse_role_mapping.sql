-- 0006: a warehouse's role mapping (tasksql role -> database role, as a JSON object): with security
-- on, the runs of a task owned by a mapped role execute as its database role (SET ROLE).
ALTER TABLE warehouses ADD COLUMN role_mapping text;
