-- Task files (uploads, exports' 4 MiB parts) compress with lz4: the default
-- (pglz) takes about 55 ms per 4 MiB part of CSV on this project's bench
-- machine, lz4 about 8 ms, at a similar size. A server built without lz4
-- keeps the default.
DO $$
BEGIN
    ALTER TABLE task_files ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: task files keep the default compression';
END
$$;
