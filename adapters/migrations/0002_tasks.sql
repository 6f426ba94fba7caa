-- Background tasks started over the API (create shares, update prices,
-- imports, exports): each as last journaled (`Fact::Task`, JSON), written
-- at checkpoints like every other folded table.
CREATE TABLE market_tasks (
    id   BIGINT PRIMARY KEY,
    task TEXT NOT NULL
);

-- Their files: an import's upload (kept before the task is journaled, so
-- a restart can carry it on) and an export's result.
CREATE TABLE task_files (
    task_id BIGINT NOT NULL,
    role    TEXT NOT NULL,
    body    BYTEA NOT NULL,
    PRIMARY KEY (task_id, role)
);

-- Prices from outside the random walk (admin, replays, tasks) are read
-- back from the journal per symbol, newest first.
CREATE INDEX journal_outside_prices ON journal ((fact -> 'tick' ->> 'symbol'), seq)
    WHERE kind = 'tick' AND (fact -> 'tick' ->> 'source') IS NOT NULL;
