-- Packed journal rows: a run of order and book-event facts in one row of
-- compact binary (`packed`, postcard) instead of a JSON row per fact.
-- A row holds the facts `seq .. seq + facts - 1`; a JSON row holds one.
-- PostgreSQL's cost of the journal is mostly per byte and per row: a
-- trade is about 250 bytes of JSON and 40 packed.
ALTER TABLE journal
    ADD COLUMN facts INTEGER NOT NULL DEFAULT 1 CHECK (facts >= 1),
    ADD COLUMN packed BYTEA,
    ALTER COLUMN fact DROP NOT NULL,
    ADD CONSTRAINT journal_one_body CHECK ((fact IS NULL) <> (packed IS NULL));
DO $$
BEGIN
    ALTER TABLE journal ALTER COLUMN packed SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: packed journal rows keep the default compression';
END
$$;
