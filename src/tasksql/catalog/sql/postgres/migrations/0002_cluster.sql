-- 0002: cluster coordination: epochs and leases of nodes (judged by the server's clock), the
-- placement of tasks on nodes, and the counter epochs are taken from.

-- The last epoch handed out to a joining node (epochs never repeat, whichever node joins).
ALTER TABLE catalog_meta ADD COLUMN node_epoch bigint NOT NULL DEFAULT 0 CHECK (node_epoch >= 0);

-- A node's lease: its epoch (0: it never joined), the lease's state and length, when it runs out
-- (the server's clock), its slots and runs executing, the warehouses it serves (a JSON array of
-- names; NULL: every warehouse) and its API's address.
ALTER TABLE nodes
    ADD COLUMN epoch       bigint NOT NULL DEFAULT 0,
    ADD COLUMN lease_state text NOT NULL DEFAULT 'none'
        CHECK (lease_state IN ('none', 'live', 'draining', 'left', 'lost')),
    ADD COLUMN lease_ms    integer CHECK (lease_ms IS NULL OR lease_ms > 0),
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN capacity    integer CHECK (capacity IS NULL OR capacity >= 1),
    ADD COLUMN running     integer NOT NULL DEFAULT 0 CHECK (running >= 0),
    ADD COLUMN warehouses  text,
    ADD COLUMN address     text;

-- Which node runs each task: the holder (node and epoch; NULL: nobody), the node it is pinned to
-- (NULL: any node that serves its warehouse), since when it is held.
CREATE TABLE placements (
    task_id     bigint PRIMARY KEY,
    node_id     text,
    epoch       bigint,
    pinned_node text,
    placed_at   timestamptz
);

-- The placements of one holder.
CREATE INDEX placements_holder ON placements (node_id, epoch);
