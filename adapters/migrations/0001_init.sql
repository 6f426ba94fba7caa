-- marketsim's PostgreSQL schema. Money and prices are integers in minor
-- units (cents); domain times are integers in nanoseconds since the epoch.

-- Every fact in the order it happened; `seq` is gap-free from 1 (one
-- writer assigns it, and a failed batch is retried with the same numbers).
CREATE TABLE journal (
    seq         BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    fact        JSON NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The tables below hold the state folded from the journal up to `seq`;
-- recovery loads them and folds the journal after it.
CREATE TABLE checkpoint (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    seq      BIGINT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO checkpoint (seq) VALUES (0);

CREATE TABLE users (
    account_id BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    account_id BIGINT PRIMARY KEY,
    cash       BIGINT NOT NULL CHECK (cash >= 0)
);

CREATE TABLE holdings (
    account_id BIGINT NOT NULL,
    symbol     TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (account_id, symbol)
);

CREATE TABLE stocks (
    symbol      TEXT PRIMARY KEY,
    tick        BIGINT NOT NULL,
    reference   BIGINT NOT NULL,
    open        BIGINT,
    high        BIGINT NOT NULL,
    low         BIGINT NOT NULL,
    last        BIGINT NOT NULL,
    volume      BIGINT NOT NULL,
    trades      BIGINT NOT NULL,
    turnover    BIGINT NOT NULL,
    last_update BIGINT NOT NULL,
    trade_seq   BIGINT NOT NULL,
    listed      BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE orders (
    order_id        BIGINT PRIMARY KEY,
    account_id      BIGINT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT,
    order_type      TEXT,
    time_in_force   TEXT,
    quantity        BIGINT NOT NULL,
    limit_price     BIGINT,
    client_order_id TEXT,
    status          TEXT NOT NULL,
    filled          BIGINT NOT NULL,
    remaining       BIGINT NOT NULL,
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX orders_by_account ON orders (account_id, order_id);
CREATE INDEX orders_open ON orders (order_id) WHERE status IN ('accepted', 'partially_filled');

CREATE TABLE trades (
    symbol        TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    price         BIGINT NOT NULL,
    quantity      BIGINT NOT NULL,
    maker_order   BIGINT NOT NULL,
    maker_account BIGINT NOT NULL,
    taker_order   BIGINT NOT NULL,
    taker_account BIGINT NOT NULL,
    taker_side    TEXT NOT NULL,
    ts            BIGINT NOT NULL,
    PRIMARY KEY (symbol, seq)
);
-- No indexes by account: trades are written far more than read by account
-- (only at recovery, for users' fills), and every index slows checkpoints.

CREATE TABLE candles (
    symbol TEXT NOT NULL,
    start  BIGINT NOT NULL,
    open   BIGINT NOT NULL,
    high   BIGINT NOT NULL,
    low    BIGINT NOT NULL,
    close  BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    trades INTEGER NOT NULL,
    PRIMARY KEY (symbol, start)
);

-- Background tasks of a server (price generator, agents, persistence):
-- what runs, since when, and its last heartbeat.
CREATE TABLE tasks (
    name         TEXT PRIMARY KEY,
    status       TEXT NOT NULL,
    detail       TEXT,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
