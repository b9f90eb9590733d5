-- The payee store on Citus (issue 17): run once on the coordinator after the first `paratii payee`
-- command has migrated the database (payee_migrations, then the tables below exist).
--
-- Every table is keyed by `channel` (Keccak-256 of delegation id, payee and token) and already
-- hash-partitioned by it on plain PostgreSQL, so distributing them changes no query: each batch's
-- statements filter or join on `channel` (= ANY(...), unnest(...) joined on channel), which Citus
-- routes to the shards holding those channels. `receipts` and `redemptions` are co-located with `channels`: a channel's
-- row lock, its receipts and its redemption live on the same worker, so a batch's transaction stays correct.
-- payee_migrations is bookkeeping, read once per process start: it stays a local table on the coordinator.
SELECT create_distributed_table('channels', 'channel', shard_count => 32);
SELECT create_distributed_table('receipts', 'channel', colocate_with => 'channels');
SELECT create_distributed_table('redemptions', 'channel', colocate_with => 'channels');
