-- Reconciliation (issue 8): each day's report, its differences and the
-- entries matched or carried across midnight, and the indexes that let a
-- run read one day of the books without reading the others.
--
-- A day is 'yyyy-MM-dd', China time, as the channel's bill names it. A run
-- replaces its day's report, differences and cross-day entries in one
-- transaction (SaveReconciliation deletes them explicitly; the cascade is
-- there so that deleting a report by hand leaves nothing behind).
-- merchant_id and order_id are NULL when no order of the books has the
-- difference. local and channel keep each side's JSON byte for byte, so
-- they are TEXT, not parsed.

-- +goose Up
CREATE TABLE IF NOT EXISTS reconciliations (
    day              TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    source           TEXT    NOT NULL DEFAULT '',
    channel_rows     INTEGER NOT NULL DEFAULT 0,
    local_rows       INTEGER NOT NULL DEFAULT 0,
    matched          INTEGER NOT NULL DEFAULT 0,
    repairs          INTEGER NOT NULL DEFAULT 0,
    difference_count INTEGER NOT NULL DEFAULT 0,
    open_count       INTEGER NOT NULL DEFAULT 0,
    error            TEXT    NOT NULL DEFAULT '',
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER NOT NULL,
    CONSTRAINT reconciliations_day_check CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    CONSTRAINT reconciliations_status_check CHECK (status IN ('done', 'failed'))
) STRICT;

CREATE TABLE IF NOT EXISTS reconciliation_differences (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    day            TEXT    NOT NULL REFERENCES reconciliations (day) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    merchant_id    INTEGER REFERENCES merchants (id),
    order_id       INTEGER REFERENCES orders (id),
    out_trade_no   TEXT    NOT NULL DEFAULT '',
    channel_no     TEXT    NOT NULL DEFAULT '',
    trade_no       TEXT    NOT NULL DEFAULT '',
    out_request_no TEXT    NOT NULL DEFAULT '',
    local          TEXT,
    channel        TEXT,
    repaired       INTEGER NOT NULL DEFAULT 0,
    action         TEXT    NOT NULL DEFAULT '',
    before_state   TEXT    NOT NULL DEFAULT '',
    after_state    TEXT    NOT NULL DEFAULT '',
    repaired_at    INTEGER,
    created_at     INTEGER NOT NULL,
    CONSTRAINT reconciliation_differences_kind_check CHECK (kind IN
        ('missing_local', 'missing_channel', 'status_mismatch', 'amount_mismatch', 'refund_mismatch')),
    CONSTRAINT reconciliation_differences_repaired_check CHECK (repaired IN (0, 1))
) STRICT;
-- The merchant API lists one day's differences of one merchant; the day
-- prefix also serves the report's own reads and deletes.
CREATE INDEX IF NOT EXISTS reconciliation_differences_day_merchant_idx
    ON reconciliation_differences (day, merchant_id, id);

-- Every repair of every run, kept: a day's report is replaced by each run,
-- and a run after a repair no longer sees the difference it repaired, so
-- the repairs (what, why, before and after, when) are appended here and
-- never deleted, the day's audit trail.
CREATE TABLE IF NOT EXISTS reconciliation_repairs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    day            TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    merchant_id    INTEGER REFERENCES merchants (id),
    order_id       INTEGER REFERENCES orders (id),
    out_trade_no   TEXT    NOT NULL DEFAULT '',
    channel_no     TEXT    NOT NULL DEFAULT '',
    trade_no       TEXT    NOT NULL DEFAULT '',
    out_request_no TEXT    NOT NULL DEFAULT '',
    local          TEXT,
    channel        TEXT,
    repaired       INTEGER NOT NULL DEFAULT 1,
    action         TEXT    NOT NULL DEFAULT '',
    before_state   TEXT    NOT NULL DEFAULT '',
    after_state    TEXT    NOT NULL DEFAULT '',
    repaired_at    INTEGER,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS reconciliation_repairs_day_idx ON reconciliation_repairs (day, id);

CREATE TABLE IF NOT EXISTS reconciliation_crossday (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    day            TEXT    NOT NULL REFERENCES reconciliations (day) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    channel_no     TEXT    NOT NULL,
    out_request_no TEXT    NOT NULL DEFAULT '',
    book_day       TEXT    NOT NULL,
    bill_day       TEXT    NOT NULL,
    carried        INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT reconciliation_crossday_kind_check CHECK (kind IN ('payment', 'refund')),
    CONSTRAINT reconciliation_crossday_days_check CHECK (
        book_day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]' AND
        bill_day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    CONSTRAINT reconciliation_crossday_carried_check CHECK (carried IN (0, 1))
) STRICT;
CREATE INDEX IF NOT EXISTS reconciliation_crossday_entry_idx
    ON reconciliation_crossday (kind, channel_no, out_request_no);
CREATE INDEX IF NOT EXISTS reconciliation_crossday_day_idx ON reconciliation_crossday (day, id);

-- The day scans. Only paid orders and succeeded refunds are read, hence
-- partial indexes: the pending and closed orders never paid cost nothing.
-- orders_paid_day_idx gives a China day's (UTC+8) payments in channel-number
-- order with every column the scan reads: one walk of one slice of the
-- index, no sort, no table lookups (measured: a million rows sorted took
-- 1.2 s more than this walk). orders_paid_at_idx serves windows that span
-- days or are short (the margins around midnight). See ScanBookPayments.
CREATE INDEX IF NOT EXISTS orders_paid_day_idx ON orders ((paid_at + 28800000000) / 86400000000, channel_no,
    trade_no, total_amount, paid_at)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS refunds_succeeded_at_idx ON refunds (succeeded_at) WHERE status = 'succeeded';

-- +goose Down
DROP INDEX IF EXISTS refunds_succeeded_at_idx;
DROP INDEX IF EXISTS orders_paid_at_idx;
DROP INDEX IF EXISTS orders_paid_day_idx;
DROP TABLE IF EXISTS reconciliation_repairs;
DROP TABLE IF EXISTS reconciliation_crossday;
DROP TABLE IF EXISTS reconciliation_differences;
DROP TABLE IF EXISTS reconciliations;
