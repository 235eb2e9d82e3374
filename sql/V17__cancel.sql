-- Cancelling a message ("the server is back, forget that alert"):
--   SELECT msgpool.cancel(42);
-- Its unsent deliveries become cancelled, what was sent stays as history, and its dedup key
-- closes, so the next message with that key opens a new one. A delivery being sent at this
-- moment finishes. Returns how many deliveries it cancelled; an unknown id is MP011.
-- SECURITY DEFINER: producers may cancel by id without reading the pool.
CREATE FUNCTION msgpool.cancel(message_id bigint)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cancelled integer;
BEGIN
  -- waits for a dispatcher expanding it, so the deliveries it made are cancelled too
  PERFORM FROM msgpool.message m WHERE m.id = cancel.message_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no message %', coalesce(cancel.message_id::text, 'NULL')
      USING ERRCODE = 'MP011',
            HINT = 'msgpool.send() returns the id; msgpool deliveries lists recent messages with theirs';
  END IF;
  UPDATE msgpool.message m SET state = 'cancelled'
   WHERE m.id = cancel.message_id AND m.state IN ('pending', 'dispatched');
  UPDATE msgpool.delivery d SET state = 'cancelled', deferred_by = NULL
   WHERE d.message_id = cancel.message_id AND d.state = 'pending';
  GET DIAGNOSTICS cancelled = ROW_COUNT;
  DELETE FROM msgpool.dedup dd WHERE dd.message_id = cancel.message_id;
  RETURN cancelled;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.cancel(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.cancel(bigint) TO msgpool_producer, msgpool_admin;
