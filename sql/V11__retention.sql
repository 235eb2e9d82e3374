-- Retention: finished history older than a setting goes, so the pool stays small and fast.
-- `msgpool prune` and the worker's housekeeping call msgpool.prune() until it returns less
-- than its batch.

-- The inbox keeps its own rendered copy of each message; the ids it holds stay as references
-- after pruning. Without these foreign keys pruning does not visit the inbox at all, and an
-- inbox write checks two fewer keys.
ALTER TABLE msgpool.inbox DROP CONSTRAINT inbox_message_id_fkey;
ALTER TABLE msgpool.inbox DROP CONSTRAINT inbox_delivery_id_fkey;

-- Deletes up to batch_size messages created more than older_than ago that are finished
-- (expanded, cancelled or dead) and have no delivery pending or in flight, with their
-- deliveries and attempt log (cascade). Oldest first; SKIP LOCKED, so it never waits on a
-- worker. Returns how many messages went.
-- SECURITY DEFINER: a worker may prune by these rules, not delete what it likes.
CREATE FUNCTION msgpool.prune(older_than interval DEFAULT interval '30 days', batch_size integer DEFAULT 5000)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pruned integer;
BEGIN
  IF older_than < interval '0' THEN
    RAISE EXCEPTION 'older_than must not be negative (got %)', older_than USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WITH doomed AS (
    SELECT m.id FROM msgpool.message m
     WHERE m.state <> 'pending' AND m.created_at < now() - older_than
       AND NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                        WHERE d.message_id = m.id AND d.state IN ('pending', 'sending'))
     ORDER BY m.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  )
  DELETE FROM msgpool.message m USING doomed WHERE m.id = doomed.id;
  GET DIAGNOSTICS pruned = ROW_COUNT;
  RETURN pruned;
END;
$$;

GRANT EXECUTE ON FUNCTION msgpool.prune(interval, integer) TO msgpool_worker;

-- The hot tables change fast; vacuum them early rather than after a fifth of them is dead.
ALTER TABLE msgpool.message SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE msgpool.delivery SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- PUBLIC may execute new functions by default, and per-schema default privileges cannot take
-- that away (it is granted globally), so each function added since V7 says it here.
-- tests/roles.rs checks that a role without grants can execute no msgpool function at all.
REVOKE ALL ON FUNCTION msgpool.prune(interval, integer),
  msgpool.retry_deliveries(bigint[], text, text, msgpool.channel),
  msgpool.message_type_guard() FROM PUBLIC;
