-- 0004: cluster coordination: epochs and leases of nodes (judged by the clock of the machine that
-- holds the file), the placement of tasks on nodes, and the counter epochs are taken from.

-- The last epoch handed out to a joining node (epochs never repeat, whichever node joins).
ALTER TABLE catalog_meta ADD COLUMN node_epoch INTEGER NOT NULL DEFAULT 0 CHECK (node_epoch >= 0);

-- A node's lease: its epoch (0: it never joined), the lease's state and length, when it runs out,
-- its slots and runs executing, the warehouses it serves (a JSON array of names; NULL: every
-- warehouse) and its API's address.
ALTER TABLE nodes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN lease_state TEXT NOT NULL DEFAULT 'none'
    CHECK (lease_state IN ('none', 'live', 'draining', 'left', 'lost'));
ALTER TABLE nodes ADD COLUMN lease_ms INTEGER CHECK (lease_ms IS NULL OR lease_ms > 0);
ALTER TABLE nodes ADD COLUMN lease_until TEXT;
ALTER TABLE nodes ADD COLUMN capacity INTEGER CHECK (capacity IS NULL OR capacity >= 1);
ALTER TABLE nodes ADD COLUMN running INTEGER NOT NULL DEFAULT 0 CHECK (running >= 0);
ALTER TABLE nodes ADD COLUMN warehouses TEXT;
ALTER TABLE nodes ADD COLUMN address TEXT;

-- Which node runs each task: the holder (node and epoch; NULL: nobody), the node it is pinned to
-- (NULL: any node that serves its warehouse), since when it is held.
CREATE TABLE placements (
    task_id     INTEGER PRIMARY KEY,
    node_id     TEXT,
    epoch       INTEGER,
    pinned_node TEXT,
    placed_at   TEXT
);

-- The placements of one holder.
CREATE INDEX placements_holder ON placements (node_id, epoch);
