-- Statistics that keep up with a burst. plpgsql keeps each statement's plan for the session,
-- and a plan made while a hot table was (nearly) empty takes it for a table of one row: the
-- claim then joined its batch to the delivery table by reading the whole table, once per
-- claim. A drained pool is in that state once it has been vacuumed, which autovacuum does
-- after a prune empties it. Measured on a scratch cluster with one worker: a 50,000-message
-- burn-down after `VACUUM ANALYZE` of the emptied tables ran at 1,000-4,200 deliveries/s
-- instead of 14,600, the claim taking 100-450 ms a batch instead of 18, and a fan-out to
-- 10,000 took 2.3-9.4 s instead of 0.4-0.5, until the next ANALYZE. autovacuum's comes within
-- autovacuum_naptime, a minute by default: the worst minute, as a quiet month ends in an
-- outage.
--
-- The dispatcher calls this while a burst lasts, every 100 ms at most. The message or
-- delivery table, if the planner knows it as a small one (analyzed, under 10,000 rows) and
-- it has grown to more than twice that, is analyzed at once, and every session plans its
-- statements on it afresh. A burst into a drained pool has it analyzed a handful of times,
-- a few ms each. Left alone, because their plans already hold: a table never analyzed (the
-- planner takes it for ten pages or what it has, whichever is more; a first burst after
-- installing ran at 14,800-17,000 per s before this function existed), and one known to be
-- large (from some 10,000 rows the claim's plans probe the keys). Analyzing those too, at
-- every doubling, cost the burn-down 4-6% against no call at all (three pairs each); as
-- it is, no cost showed. The inbox is left to autovacuum: the worker only adds to it.
-- Returns the tables it analyzed.
CREATE FUNCTION msgpool.refresh_statistics()
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- never wait behind autovacuum or another worker's ANALYZE: the next batch looks again
SET lock_timeout = '50ms'
AS $$
DECLARE
  hot regclass;
  analyzed text[] := '{}';
BEGIN
  FOR hot IN
    SELECT c.oid FROM pg_class c
     WHERE c.oid IN ('msgpool.message'::regclass, 'msgpool.delivery'::regclass)
       AND c.reltuples >= 0 AND c.reltuples < 10000
       -- pages: current at once, they catch a table growing from empty; live rows (counted
       -- within a second or so): they catch one refilling the space a prune freed
       AND (pg_relation_size(c.oid) / current_setting('block_size')::integer > 2 * c.relpages + 16
            OR pg_stat_get_live_tuples(c.oid) > 2 * c.reltuples + 1000)
  LOOP
    BEGIN
      EXECUTE format('ANALYZE %s', hot);
      analyzed := analyzed || hot::text;
    EXCEPTION WHEN lock_not_available THEN
      NULL; -- being vacuumed or analyzed already
    END;
  END LOOP;
  RETURN analyzed;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.refresh_statistics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.refresh_statistics() TO msgpool_worker;
