-- The validation trigger of V20, cheaper for the usual message. What producers see is
-- unchanged: the same checks, the same errors (still raised by msgpool.refuse_message()).
--
-- PostgreSQL compiles every expression of a query each time the query runs, and those of a
-- plpgsql statement once per transaction, the first time the statement runs. A producer's
-- transaction is usually one message, so V20's one query, which computed every check and
-- every filled-in column at once, paid to compile all of them on every message. Profiled
-- (perf, pgbench with 8 clients), building that query's projection was the largest single
-- cost of the trigger. Now the query only reads the type; the checks of optional columns
-- run only when the column is given, and the reset of the pool's columns only when one was
-- written. Measured on pgbench, 8 clients taking turns with a bare INSERT, three sets of
-- 4-5 turns: send() went from 0.63-0.66 to 0.68-0.73 of the bare INSERT's rate.
CREATE OR REPLACE FUNCTION msgpool.message_validate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  enabled boolean;
  type_urgency msgpool.urgency;
  dedup_window interval;
  wake boolean;
  earlier bigint;
BEGIN
  SELECT mt.enabled, mt.urgency, mt.dedup_window,
         EXISTS (SELECT 1 FROM msgpool.waiting_worker w WHERE w.since > now() - interval '1 minute')
    INTO enabled, type_urgency, dedup_window, wake
    FROM msgpool.message_type mt
   WHERE mt.key = NEW.type_key;
  IF enabled IS NOT TRUE OR jsonb_typeof(NEW.payload) <> 'object'
     OR pg_column_size(NEW.payload) > msgpool.max_payload_bytes() THEN
    PERFORM msgpool.refuse_message(NEW);
  END IF;
  IF NEW.dedup_key IS NOT NULL OR NEW.source IS NOT NULL OR NEW.deliver_at IS NOT NULL THEN
    IF length(NEW.dedup_key) > 200 OR length(NEW.source) > 200
       OR NEW.deliver_at < msgpool.clock() - msgpool.max_deliver_at_lag() THEN
      PERFORM msgpool.refuse_message(NEW);
    END IF;
  END IF;

  NEW.payload := coalesce(NEW.payload, '{}');
  NEW.urgency := coalesce(NEW.urgency, type_urgency);
  NEW.due_at := greatest(NEW.deliver_at, msgpool.clock());
  NEW.source := coalesce(NEW.source, nullif(current_setting('application_name', true), ''));
  -- Whatever was written in the pool's own columns, a new message starts here.
  -- (Producers cannot write them; an administrator's INSERT might.)
  IF NEW.state IS DISTINCT FROM 'pending' OR NEW.duplicate_count IS DISTINCT FROM 0
     OR NEW.dispatched_at IS NOT NULL OR NEW.error IS NOT NULL THEN
    NEW.state := 'pending';
    NEW.duplicate_count := 0;
    NEW.dispatched_at := NULL;
    NEW.error := NULL;
  END IF;

  IF NEW.recipients IS NOT NULL THEN
    NEW.recipients := msgpool.check_recipients(NEW.recipients);
  END IF;
  IF NEW.dedup_key IS NOT NULL AND dedup_window > interval '0' THEN
    earlier := msgpool.count_duplicate(NEW.type_key, NEW.dedup_key, NEW.id,
                                       msgpool.clock() + dedup_window);
    IF earlier IS NOT NULL THEN
      -- for send(), which returns the earlier id; a raw INSERT simply inserts no row
      PERFORM set_config('msgpool.duplicate_of', earlier::text, true);
      RETURN NULL;
    END IF;
  END IF;
  IF wake THEN
    -- collapsed into one notification per transaction by PostgreSQL
    PERFORM pg_notify('msgpool_message', '');
  END IF;
  RETURN NEW;
END;
$$;
