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
-- they are text, not jsonb (which would reorder and respace it).
-- Constraint names match the SQLite schema.

-- +goose Up
CREATE TABLE reconciliations (
    day              text        PRIMARY KEY,
    status           text        NOT NULL,
    source           text        NOT NULL DEFAULT '',
    channel_rows     bigint      NOT NULL DEFAULT 0,
    local_rows       bigint      NOT NULL DEFAULT 0,
    matched          bigint      NOT NULL DEFAULT 0,
    repairs          bigint      NOT NULL DEFAULT 0,
    difference_count bigint      NOT NULL DEFAULT 0,
    open_count       bigint      NOT NULL DEFAULT 0,
    error            text        NOT NULL DEFAULT '',
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    CONSTRAINT reconciliations_day_check CHECK (day ~ '^[0-9]{4}-[01][0-9]-[0-3][0-9]$'),
    CONSTRAINT reconciliations_status_check CHECK (status IN ('done', 'failed'))
);

CREATE TABLE reconciliation_differences (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day            text        NOT NULL REFERENCES reconciliations (day) ON DELETE CASCADE,
    kind           text        NOT NULL,
    merchant_id    bigint      REFERENCES merchants (id),
    order_id       bigint      REFERENCES orders (id),
    out_trade_no   text        NOT NULL DEFAULT '',
    channel_no     text        NOT NULL DEFAULT '',
    trade_no       text        NOT NULL DEFAULT '',
    out_request_no text        NOT NULL DEFAULT '',
    local          text,
    channel        text,
    repaired       boolean     NOT NULL DEFAULT false,
    action         text        NOT NULL DEFAULT '',
    before_state   text        NOT NULL DEFAULT '',
    after_state    text        NOT NULL DEFAULT '',
    repaired_at    timestamptz,
    created_at     timestamptz NOT NULL,
    CONSTRAINT reconciliation_differences_kind_check CHECK (kind IN
        ('missing_local', 'missing_channel', 'status_mismatch', 'amount_mismatch', 'refund_mismatch'))
);
-- The merchant API lists one day's differences of one merchant; the day
-- prefix also serves the report's own reads and deletes.
CREATE INDEX reconciliation_differences_day_merchant_idx
    ON reconciliation_differences (day, merchant_id, id);

-- Every repair of every run, kept: a day's report is replaced by each run,
-- and a run after a repair no longer sees the difference it repaired, so
-- the repairs (what, why, before and after, when) are appended here and
-- never deleted, the day's audit trail.
CREATE TABLE reconciliation_repairs (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day            text        NOT NULL,
    kind           text        NOT NULL,
    merchant_id    bigint      REFERENCES merchants (id),
    order_id       bigint      REFERENCES orders (id),
    out_trade_no   text        NOT NULL DEFAULT '',
    channel_no     text        NOT NULL DEFAULT '',
    trade_no       text        NOT NULL DEFAULT '',
    out_request_no text        NOT NULL DEFAULT '',
    local          text,
    channel        text,
    repaired       boolean     NOT NULL DEFAULT true,
    action         text        NOT NULL DEFAULT '',
    before_state   text        NOT NULL DEFAULT '',
    after_state    text        NOT NULL DEFAULT '',
    repaired_at    timestamptz,
    created_at     timestamptz NOT NULL
);
CREATE INDEX reconciliation_repairs_day_idx ON reconciliation_repairs (day, id);

CREATE TABLE reconciliation_crossday (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day            text        NOT NULL REFERENCES reconciliations (day) ON DELETE CASCADE,
    kind           text        NOT NULL,
    channel_no     text        NOT NULL,
    out_request_no text        NOT NULL DEFAULT '',
    book_day       text        NOT NULL,
    bill_day       text        NOT NULL,
    carried        boolean     NOT NULL DEFAULT false,
    CONSTRAINT reconciliation_crossday_kind_check CHECK (kind IN ('payment', 'refund')),
    CONSTRAINT reconciliation_crossday_days_check CHECK (
        book_day ~ '^[0-9]{4}-[01][0-9]-[0-3][0-9]$' AND bill_day ~ '^[0-9]{4}-[01][0-9]-[0-3][0-9]$')
);
CREATE INDEX reconciliation_crossday_entry_idx
    ON reconciliation_crossday (kind, channel_no, out_request_no);
CREATE INDEX reconciliation_crossday_day_idx ON reconciliation_crossday (day, id);

-- The day scans. Only paid orders and succeeded refunds are read, hence
-- partial indexes: the pending and closed orders never paid cost nothing.
-- orders_paid_day_idx gives a China day's (UTC+8) payments in byte order of
-- channel numbers, with every column the scan reads: an index-only walk of
-- one slice of the index, no sort (measured on a million rows: 0.45 s
-- against 1.5 to 1.8 s to sort them, in memory or on disk).
-- orders_paid_at_idx serves windows that span days. See ScanBookPayments.
CREATE INDEX orders_paid_day_idx ON orders (((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date), channel_no COLLATE "C")
    INCLUDE (paid_at, trade_no, total_amount)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL;
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX refunds_succeeded_at_idx ON refunds (succeeded_at) WHERE status = 'succeeded';

-- +goose Down
DROP INDEX refunds_succeeded_at_idx;
DROP INDEX orders_paid_at_idx;
DROP INDEX orders_paid_day_idx;
DROP TABLE reconciliation_repairs;
DROP TABLE reconciliation_crossday;
DROP TABLE reconciliation_differences;
DROP TABLE reconciliations;
