-- Reconciliation per channel (issue 12): a day has one report per channel
-- whose bill was reconciled (alipay, wechat), side by side, and the books a
-- run reads are that channel's orders only.
--
-- Reports are keyed by (day, channel); their differences and cross-day
-- entries name the report's channel (bill_channel: the differences already
-- have a column named channel, the bill's side of a difference), and so do
-- the kept repairs. Everything stored before this was Alipay's: the
-- defaults say so. SQLite cannot change a primary key in place, so the
-- three report tables are rebuilt: moved aside (renaming a parent table
-- points its children's foreign keys at the new name), created anew,
-- copied with their ids (AUTOINCREMENT carries on after the largest), and
-- the old ones dropped children first, so that no cascade deletes a row.
--
-- The day scans read one channel's books. The day index becomes one per
-- channel, partial on the channel (orders_paid_day_alipay_idx,
-- orders_paid_day_wechat_idx): each has the columns and the size
-- orders_paid_day_idx had, so a day of one channel is one slice of one
-- index in channel-number order with every column the scan returns, as
-- the day was, at the same cost (a channel column leading one index made
-- it a twelfth bigger, and its scan as much slower; measured, see
-- BenchmarkScanBookChannel1M). orders_paid_at_idx, for the margins around
-- midnight, leads with the channel (see ScanBookPayments). The refunds' scan needs no new
-- index: it joins each refund's order for its channel number already, and
-- the channel is a column of the same row.

-- +goose Up
ALTER TABLE reconciliation_differences RENAME TO reconciliation_differences_v10;
ALTER TABLE reconciliation_crossday RENAME TO reconciliation_crossday_v10;
ALTER TABLE reconciliations RENAME TO reconciliations_v10;

CREATE TABLE reconciliations (
    day              TEXT    NOT NULL,
    channel          TEXT    NOT NULL DEFAULT 'alipay',
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
    PRIMARY KEY (day, channel),
    CONSTRAINT reconciliations_day_check CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    CONSTRAINT reconciliations_channel_check CHECK (channel IN ('alipay', 'wechat')),
    CONSTRAINT reconciliations_status_check CHECK (status IN ('done', 'failed'))
) STRICT;
INSERT INTO reconciliations (day, channel, status, source, channel_rows, local_rows, matched, repairs,
    difference_count, open_count, error, started_at, finished_at)
SELECT day, 'alipay', status, source, channel_rows, local_rows, matched, repairs,
    difference_count, open_count, error, started_at, finished_at FROM reconciliations_v10;

CREATE TABLE reconciliation_differences (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    day            TEXT    NOT NULL,
    bill_channel   TEXT    NOT NULL DEFAULT 'alipay',
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
    FOREIGN KEY (day, bill_channel) REFERENCES reconciliations (day, channel) ON DELETE CASCADE,
    CONSTRAINT reconciliation_differences_kind_check CHECK (kind IN
        ('missing_local', 'missing_channel', 'status_mismatch', 'amount_mismatch', 'refund_mismatch')),
    CONSTRAINT reconciliation_differences_repaired_check CHECK (repaired IN (0, 1))
) STRICT;
INSERT INTO reconciliation_differences (id, day, bill_channel, kind, merchant_id, order_id, out_trade_no, channel_no,
    trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at)
SELECT id, day, 'alipay', kind, merchant_id, order_id, out_trade_no, channel_no,
    trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at
FROM reconciliation_differences_v10;

CREATE TABLE reconciliation_crossday (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    day            TEXT    NOT NULL,
    bill_channel   TEXT    NOT NULL DEFAULT 'alipay',
    kind           TEXT    NOT NULL,
    channel_no     TEXT    NOT NULL,
    out_request_no TEXT    NOT NULL DEFAULT '',
    book_day       TEXT    NOT NULL,
    bill_day       TEXT    NOT NULL,
    carried        INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (day, bill_channel) REFERENCES reconciliations (day, channel) ON DELETE CASCADE,
    CONSTRAINT reconciliation_crossday_kind_check CHECK (kind IN ('payment', 'refund')),
    CONSTRAINT reconciliation_crossday_days_check CHECK (
        book_day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]' AND
        bill_day GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
    CONSTRAINT reconciliation_crossday_carried_check CHECK (carried IN (0, 1))
) STRICT;
INSERT INTO reconciliation_crossday (id, day, bill_channel, kind, channel_no, out_request_no, book_day, bill_day, carried)
SELECT id, day, 'alipay', kind, channel_no, out_request_no, book_day, bill_day, carried FROM reconciliation_crossday_v10;

DROP TABLE reconciliation_differences_v10;
DROP TABLE reconciliation_crossday_v10;
DROP TABLE reconciliations_v10;

-- The merchant API lists one day's differences of one merchant, of both
-- channels; the day prefix also serves a report's own reads and deletes.
CREATE INDEX reconciliation_differences_day_merchant_idx
    ON reconciliation_differences (day, merchant_id, id);
CREATE INDEX reconciliation_crossday_entry_idx
    ON reconciliation_crossday (bill_channel, kind, channel_no, out_request_no);
CREATE INDEX reconciliation_crossday_day_idx ON reconciliation_crossday (day, bill_channel, id);

ALTER TABLE reconciliation_repairs ADD COLUMN bill_channel TEXT NOT NULL DEFAULT 'alipay'
    CONSTRAINT reconciliation_repairs_channel_check CHECK (bill_channel IN ('alipay', 'wechat'));
DROP INDEX reconciliation_repairs_day_idx;
CREATE INDEX reconciliation_repairs_day_idx ON reconciliation_repairs (day, bill_channel, id);

DROP INDEX orders_paid_day_idx;
CREATE INDEX orders_paid_day_alipay_idx ON orders ((paid_at + 28800000000) / 86400000000, channel_no,
    trade_no, total_amount, paid_at)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL AND channel = 'alipay';
CREATE INDEX orders_paid_day_wechat_idx ON orders ((paid_at + 28800000000) / 86400000000, channel_no,
    trade_no, total_amount, paid_at)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL AND channel = 'wechat';
DROP INDEX orders_paid_at_idx;
CREATE INDEX orders_paid_at_idx ON orders (channel, paid_at) WHERE paid_at IS NOT NULL;

-- +goose Down
-- The schema before had one report per day: the Down keeps Alipay's
-- reports and repairs, and drops WeChat Pay's.
DROP INDEX orders_paid_at_idx;
CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
DROP INDEX orders_paid_day_wechat_idx;
DROP INDEX orders_paid_day_alipay_idx;
CREATE INDEX orders_paid_day_idx ON orders ((paid_at + 28800000000) / 86400000000, channel_no,
    trade_no, total_amount, paid_at)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL;

DELETE FROM reconciliation_repairs WHERE bill_channel <> 'alipay';
DROP INDEX reconciliation_repairs_day_idx;
ALTER TABLE reconciliation_repairs DROP COLUMN bill_channel;
CREATE INDEX reconciliation_repairs_day_idx ON reconciliation_repairs (day, id);

ALTER TABLE reconciliation_differences RENAME TO reconciliation_differences_v11;
ALTER TABLE reconciliation_crossday RENAME TO reconciliation_crossday_v11;
ALTER TABLE reconciliations RENAME TO reconciliations_v11;

CREATE TABLE reconciliations (
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
INSERT INTO reconciliations (day, status, source, channel_rows, local_rows, matched, repairs,
    difference_count, open_count, error, started_at, finished_at)
SELECT day, status, source, channel_rows, local_rows, matched, repairs,
    difference_count, open_count, error, started_at, finished_at FROM reconciliations_v11 WHERE channel = 'alipay';

CREATE TABLE reconciliation_differences (
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
INSERT INTO reconciliation_differences (id, day, kind, merchant_id, order_id, out_trade_no, channel_no,
    trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at)
SELECT id, day, kind, merchant_id, order_id, out_trade_no, channel_no,
    trade_no, out_request_no, local, channel, repaired, action, before_state, after_state, repaired_at, created_at
FROM reconciliation_differences_v11 WHERE bill_channel = 'alipay';

CREATE TABLE reconciliation_crossday (
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
INSERT INTO reconciliation_crossday (id, day, kind, channel_no, out_request_no, book_day, bill_day, carried)
SELECT id, day, kind, channel_no, out_request_no, book_day, bill_day, carried FROM reconciliation_crossday_v11
WHERE bill_channel = 'alipay';

DROP TABLE reconciliation_differences_v11;
DROP TABLE reconciliation_crossday_v11;
DROP TABLE reconciliations_v11;

CREATE INDEX reconciliation_differences_day_merchant_idx
    ON reconciliation_differences (day, merchant_id, id);
CREATE INDEX reconciliation_crossday_entry_idx
    ON reconciliation_crossday (kind, channel_no, out_request_no);
CREATE INDEX reconciliation_crossday_day_idx ON reconciliation_crossday (day, id);
