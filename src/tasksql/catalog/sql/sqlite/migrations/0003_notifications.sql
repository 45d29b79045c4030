-- 0003: notifications: the outbox of messages to deliver (written with run outcomes) and the
-- history of every delivery attempt.

-- The notification outbox: one row per message (an event for one integration), written in the same
-- transaction as the run outcome that caused it. A dispatcher claims due PENDING rows by setting
-- leased_by/lease_until; attempts counts recorded delivery attempts; a message ends DELIVERED, or
-- FAILED when the dispatcher gave up. message_id is sent with every attempt (receivers de-duplicate).
CREATE TABLE notification_outbox (
    message_id      TEXT PRIMARY KEY,
    integration     TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    leased_by       TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    delivered_at    TEXT
) WITHOUT ROWID;

-- What a dispatcher asks for: pending messages by the instant they are next due.
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE state = 'PENDING';

-- Settled messages by age (pruning).
CREATE INDEX notification_outbox_settled ON notification_outbox (created_at) WHERE state <> 'PENDING';

-- Every delivery attempt (system.notification_history); deleted with its message when pruned.
CREATE TABLE notification_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL,
    integration TEXT NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    status_code INTEGER,
    error       TEXT,
    sent_at     TEXT NOT NULL,
    duration_ms REAL
);

-- The attempts of one message, in order.
CREATE INDEX notification_history_message ON notification_history (message_id, attempt);
