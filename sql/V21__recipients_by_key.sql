-- Recipients looked up by their primary key, whatever the table's size. Found with
-- `msgpool bench` (latency, after the fan-out's 10,000 recipients): two queries that join
-- recipients with a batch of unknown size were planned as a scan of the whole table, and a
-- lone message paid for it twice, about 0.5 ms each time.

-- check_recipients() as in V14. Its join with unnest() was planned anew on every call, and
-- as a hash join over every recipient; `key = ANY (...)` is an index scan in any plan.
CREATE OR REPLACE FUNCTION msgpool.check_recipients(wanted_keys text[])
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  found_keys text[];
  unknown_keys text[];
  disabled_keys text[];
BEGIN
  IF cardinality(wanted_keys) = 0 THEN
    RAISE EXCEPTION 'recipients is an empty list'
      USING ERRCODE = 'MP008',
            HINT = 'pass NULL to send to the type''s subscribers, or name at least one recipient';
  END IF;
  SELECT coalesce(array_agg(r.key::text ORDER BY r.key::text), '{}'),
         array_agg(r.key::text ORDER BY r.key::text) FILTER (WHERE NOT r.enabled)
    INTO found_keys, disabled_keys
    FROM msgpool.recipient r
   WHERE r.key = ANY (wanted_keys);
  unknown_keys := ARRAY(SELECT DISTINCT wanted FROM unnest(wanted_keys) AS wanted
                         WHERE wanted IS NULL OR wanted <> ALL (found_keys) ORDER BY 1);
  IF cardinality(unknown_keys) > 0 THEN
    RAISE EXCEPTION 'unknown recipient(s) %', array_to_string(unknown_keys, ', ', 'NULL')
      USING ERRCODE = 'MP005',
            HINT = coalesce(
              'did you mean ' || quote_literal(msgpool.nearest_key(coalesce(unknown_keys[1], ''),
                       ARRAY(SELECT r.key::text FROM msgpool.recipient r))) || '?',
              'an administrator adds recipients with: msgpool recipient add KEY --name NAME');
  END IF;
  IF disabled_keys IS NOT NULL THEN
    RAISE EXCEPTION 'recipient(s) % disabled', array_to_string(disabled_keys, ', ')
      USING ERRCODE = 'MP006',
            HINT = 'leave them out, or an administrator enables them with: msgpool recipient enable KEY';
  END IF;
  RETURN found_keys;
END;
$$;

-- dispatch() as in V15, looking each delivery's recipient up by its key.
CREATE OR REPLACE FUNCTION msgpool.dispatch(batch_size integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  expanded integer;
BEGIN
  WITH due AS (
    SELECT m.id, m.type_key, m.recipients, m.urgency, m.deliver_at IS NOT NULL AS timed
      FROM msgpool.message m
     WHERE m.state = 'pending' AND m.due_at <= msgpool.clock()
     ORDER BY m.due_at, m.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  ),
  audience AS (
    SELECT d.id AS message_id, d.type_key, d.urgency, d.timed, wanted AS recipient_key,
           NULL::msgpool.channel[] AS channels
      FROM due d CROSS JOIN LATERAL unnest(d.recipients) AS wanted
     WHERE d.recipients IS NOT NULL
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, s.recipient_key, s.channels
      FROM due d JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.recipient_key IS NOT NULL
     WHERE d.recipients IS NULL
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, gm.recipient_key, s.channels
      FROM due d
      JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.group_key IS NOT NULL
      JOIN msgpool.group_member gm ON gm.group_key = s.group_key
     WHERE d.recipients IS NULL
  ),
  targets AS (
    SELECT DISTINCT a.message_id, a.type_key, a.urgency, a.timed, a.recipient_key, c AS channel
      FROM audience a
      JOIN msgpool.message_type t ON t.key = a.type_key
      CROSS JOIN LATERAL unnest(t.channels) AS c
     WHERE a.channels IS NULL OR c = ANY (a.channels)
  ),
  checked AS (
    SELECT tg.*, t.digest,
           tg.urgency < 'urgent' AND ((t.send_policy <> 'immediate' AND NOT tg.timed) OR q.type_key IS NOT NULL)
             AS ruled,
           CASE
             WHEN NOT r.enabled THEN 'recipient disabled'
             WHEN tg.channel = 'email' AND r.email IS NULL THEN 'recipient has no email address'
             WHEN tg.channel = 'sms' AND r.phone IS NULL THEN 'recipient has no phone number'
             WHEN tg.channel = 'webhook' AND r.webhook_url IS NULL THEN 'recipient has no webhook'
           END AS unsendable
      FROM targets tg
      JOIN msgpool.message_type t ON t.key = tg.type_key
      -- one probe of the primary key per delivery (LIMIT keeps the planner from turning this
      -- into a join): estimating a batch's deliveries blindly, it chose a scan of every
      -- recipient, 0.5 ms of a lone message's way once there were 10,000 of them
      CROSS JOIN LATERAL (SELECT r.enabled, r.email, r.phone, r.webhook_url
                            FROM msgpool.recipient r WHERE r.key = tg.recipient_key LIMIT 1) r
      LEFT JOIN msgpool.quiet_hours q ON q.type_key = tg.type_key AND q.channel = tg.channel
  ),
  scheduled AS (
    SELECT c.*,
           CASE WHEN c.ruled AND c.unsendable IS NULL
                THEN msgpool.schedule_delivery(c.type_key, c.channel, c.recipient_key, c.urgency, c.timed)
           END AS s
      FROM checked c
  ),
  inserted AS (
    INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, skip_reason, next_attempt_at,
                                  deferred_by, gather_key)
    SELECT sc.message_id, sc.recipient_key, sc.channel,
           CASE WHEN sc.unsendable IS NULL AND (sc.s).dropped IS NOT TRUE THEN 'pending' ELSE 'skipped' END
             ::msgpool.delivery_state,
           coalesce(sc.unsendable, CASE WHEN (sc.s).dropped THEN (sc.s).deferred_by END),
           coalesce((sc.s).due_at, msgpool.clock()),
           CASE WHEN (sc.s).dropped IS NOT TRUE THEN (sc.s).deferred_by END,
           CASE WHEN sc.digest AND (sc.s).deferred_by IS NOT NULL AND (sc.s).dropped IS NOT TRUE
                THEN sc.type_key END
      FROM scheduled sc
    ON CONFLICT ON CONSTRAINT delivery_once DO NOTHING
    RETURNING 1
  )
  UPDATE msgpool.message m SET state = 'dispatched', dispatched_at = now()
    FROM due WHERE m.id = due.id;
  GET DIAGNOSTICS expanded = ROW_COUNT;
  RETURN expanded;
END;
$$;
