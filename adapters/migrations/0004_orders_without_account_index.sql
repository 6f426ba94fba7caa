-- Orders are written far more than read by account (users' reads come
-- from memory; PostgreSQL's only readers by account are recovery, which
-- reads every user's orders, and a user's own export, which filters a
-- range scan as every export does). Keeping `orders_by_account` cost each
-- checkpoint more than the primary key and the heap together: 800 ms per
-- 500,000 new orders here (heap 290 ms, primary key 510 ms). Trades have
-- never had one, for the same reason.
DROP INDEX IF EXISTS orders_by_account;
