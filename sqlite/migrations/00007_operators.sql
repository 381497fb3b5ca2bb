-- The operator console (issue 10): operators and their logins, the audit
-- trail of what they did, the sessions they ended before expiry, and the
-- indexes of the cross-merchant order search.
--
-- Times are INTEGER Unix microseconds, UTC; NULL in disabled_at and
-- locked_until means "not". operator_actions is only ever appended to.

-- +goose Up
CREATE TABLE IF NOT EXISTS operators (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    username             TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    role                 TEXT    NOT NULL,
    disabled_at          INTEGER,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         INTEGER,
    sessions_valid_after INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CONSTRAINT operators_username_key UNIQUE (username),
    CONSTRAINT operators_role_check CHECK (role IN ('viewer', 'admin')),
    CONSTRAINT operators_failed_logins_check CHECK (failed_logins >= 0)
) STRICT;

CREATE TABLE IF NOT EXISTS operator_actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    operator    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    order_id    INTEGER REFERENCES orders (id),
    merchant_id INTEGER REFERENCES merchants (id),
    target      TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS operator_actions_order_idx ON operator_actions (order_id, id);
CREATE INDEX IF NOT EXISTS operator_actions_merchant_idx ON operator_actions (merchant_id, id);

CREATE TABLE IF NOT EXISTS revoked_sessions (
    jti        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS revoked_sessions_expires_at_idx ON revoked_sessions (expires_at);

-- The console finds an order by either number without knowing its
-- merchant, or pages every merchant's orders by status or by day.
CREATE INDEX IF NOT EXISTS orders_out_trade_no_idx ON orders (out_trade_no);
CREATE INDEX IF NOT EXISTS orders_trade_no_idx ON orders (trade_no) WHERE trade_no <> '';
CREATE INDEX IF NOT EXISTS orders_status_id_idx ON orders (status, id DESC);
CREATE INDEX IF NOT EXISTS orders_created_at_idx ON orders (created_at);

-- +goose Down
DROP INDEX orders_created_at_idx;
DROP INDEX orders_status_id_idx;
DROP INDEX orders_trade_no_idx;
DROP INDEX orders_out_trade_no_idx;
DROP TABLE revoked_sessions;
DROP TABLE operator_actions;
DROP TABLE operators;
