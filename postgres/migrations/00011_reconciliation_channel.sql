-- Reconciliation per channel (issue 12): a day has one report per channel
-- whose bill was reconciled (alipay, wechat), side by side, and the books a
-- run reads are that channel's orders only.
--
-- Reports are keyed by (day, channel); their differences and cross-day
-- entries name the report's channel (bill_channel: the differences already
-- have a column named channel, the bill's side of a difference), and so do
-- the kept repairs. Everything stored before this was Alipay's: the
-- defaults say so (constant defaults: no table rewrite). Constraint names
-- match the SQLite schema where SQLite names them.
--
-- The day scans read one channel's books. The day index becomes one per
-- channel, partial on the channel (orders_paid_day_alipay_idx,
-- orders_paid_day_wechat_idx): each has the columns and the size
-- orders_paid_day_idx had, so a day of one channel is an index-only walk
-- of one slice of one index in channel-number order, as the day was, at
-- the same cost (a channel column leading one index makes every entry
-- bigger, and the walk as much slower; see BenchmarkScanBookChannel1M).
-- orders_paid_at_idx, for the margins around midnight, leads with the
-- channel (see ScanBookPayments). The refunds' scan needs no new index: it
-- joins each refund's order for its channel number already, and the
-- channel is a column of the same row.

-- +goose Up
ALTER TABLE reconciliations ADD COLUMN channel text NOT NULL DEFAULT 'alipay'
    CONSTRAINT reconciliations_channel_check CHECK (channel IN ('alipay', 'wechat'));
ALTER TABLE reconciliation_differences ADD COLUMN bill_channel text NOT NULL DEFAULT 'alipay';
ALTER TABLE reconciliation_crossday ADD COLUMN bill_channel text NOT NULL DEFAULT 'alipay';
ALTER TABLE reconciliation_repairs ADD COLUMN bill_channel text NOT NULL DEFAULT 'alipay'
    CONSTRAINT reconciliation_repairs_channel_check CHECK (bill_channel IN ('alipay', 'wechat'));

ALTER TABLE reconciliation_differences DROP CONSTRAINT reconciliation_differences_day_fkey;
ALTER TABLE reconciliation_crossday DROP CONSTRAINT reconciliation_crossday_day_fkey;
ALTER TABLE reconciliations DROP CONSTRAINT reconciliations_pkey;
ALTER TABLE reconciliations ADD CONSTRAINT reconciliations_pkey PRIMARY KEY (day, channel);
ALTER TABLE reconciliation_differences ADD CONSTRAINT reconciliation_differences_report_fkey
    FOREIGN KEY (day, bill_channel) REFERENCES reconciliations (day, channel) ON DELETE CASCADE;
ALTER TABLE reconciliation_crossday ADD CONSTRAINT reconciliation_crossday_report_fkey
    FOREIGN KEY (day, bill_channel) REFERENCES reconciliations (day, channel) ON DELETE CASCADE;

-- The merchant API lists one day's differences of one merchant, of both
-- channels: reconciliation_differences_day_merchant_idx (day, merchant_id,
-- id) stays, its day prefix serving a report's own reads and deletes.
DROP INDEX reconciliation_crossday_entry_idx;
CREATE INDEX reconciliation_crossday_entry_idx
    ON reconciliation_crossday (bill_channel, kind, channel_no, out_request_no);
DROP INDEX reconciliation_crossday_day_idx;
CREATE INDEX reconciliation_crossday_day_idx ON reconciliation_crossday (day, bill_channel, id);
DROP INDEX reconciliation_repairs_day_idx;
CREATE INDEX reconciliation_repairs_day_idx ON reconciliation_repairs (day, bill_channel, id);

DROP INDEX orders_paid_day_idx;
CREATE INDEX orders_paid_day_alipay_idx ON orders (((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date), channel_no COLLATE "C")
    INCLUDE (paid_at, trade_no, total_amount)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL AND channel = 'alipay';
CREATE INDEX orders_paid_day_wechat_idx ON orders (((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date), channel_no COLLATE "C")
    INCLUDE (paid_at, trade_no, total_amount)
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
CREATE INDEX orders_paid_day_idx ON orders (((paid_at AT TIME ZONE 'UTC' + interval '8 hours')::date), channel_no COLLATE "C")
    INCLUDE (paid_at, trade_no, total_amount)
    WHERE paid_at IS NOT NULL AND channel_no IS NOT NULL;

DELETE FROM reconciliation_repairs WHERE bill_channel <> 'alipay';
DELETE FROM reconciliations WHERE channel <> 'alipay';
DROP INDEX reconciliation_repairs_day_idx;
CREATE INDEX reconciliation_repairs_day_idx ON reconciliation_repairs (day, id);
DROP INDEX reconciliation_crossday_day_idx;
CREATE INDEX reconciliation_crossday_day_idx ON reconciliation_crossday (day, id);
DROP INDEX reconciliation_crossday_entry_idx;
CREATE INDEX reconciliation_crossday_entry_idx
    ON reconciliation_crossday (kind, channel_no, out_request_no);

ALTER TABLE reconciliation_crossday DROP CONSTRAINT reconciliation_crossday_report_fkey;
ALTER TABLE reconciliation_differences DROP CONSTRAINT reconciliation_differences_report_fkey;
ALTER TABLE reconciliations DROP CONSTRAINT reconciliations_pkey;
ALTER TABLE reconciliations ADD CONSTRAINT reconciliations_pkey PRIMARY KEY (day);
ALTER TABLE reconciliation_differences ADD CONSTRAINT reconciliation_differences_day_fkey
    FOREIGN KEY (day) REFERENCES reconciliations (day) ON DELETE CASCADE;
ALTER TABLE reconciliation_crossday ADD CONSTRAINT reconciliation_crossday_day_fkey
    FOREIGN KEY (day) REFERENCES reconciliations (day) ON DELETE CASCADE;

ALTER TABLE reconciliation_repairs DROP COLUMN bill_channel;
ALTER TABLE reconciliation_crossday DROP COLUMN bill_channel;
ALTER TABLE reconciliation_differences DROP COLUMN bill_channel;
ALTER TABLE reconciliations DROP COLUMN channel;
