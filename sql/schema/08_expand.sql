-- Expansion: a due message becomes one delivery per recipient and channel. A worker's
-- expander calls expand() batch after batch while messages are due (workers/src/expand.rs).

-- Expands up to batch_size due messages into one delivery per recipient and channel, in one
-- transaction, and returns how many messages it expanded.
--
-- Who: the message's explicit recipients, else the type's subscribers that are not paused
-- (directly or through a group; someone reached twice is one recipient, with the union of
-- the channels).
-- Which channels: the type's, narrowed by the subscription. A delivery that cannot be made
-- is recorded as skipped with the reason, for an administrator to act on: a key a producer
-- named that no recipient has (the door does not tell producers which keys exist); a disabled
-- recipient; a missing contact for a channel the subscription names; a recipient reachable
-- on none of the type's channels. A missing contact for a channel nobody asked of that
-- recipient (a person without a webhook, on a type that also posts to a robot) is not a
-- delivery at all. When: schedule_delivery() (04_policies.sql), called only for deliveries
-- a rule could touch. Expanding twice cannot double-send: delivery_once is unique.
-- SKIP LOCKED lets any number of expanders run side by side without waiting on each other.
CREATE FUNCTION msgpool.expand(batch_size integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
  -- each row carries its message's type, so finding the channels never joins back to `due`
  -- (planned blind, that join became a nested loop over both)
  audience AS (
    SELECT d.id AS message_id, d.type_key, d.urgency, d.timed, wanted AS recipient_key,
           NULL::msgpool.channel[] AS channels
      FROM due d CROSS JOIN LATERAL unnest(d.recipients) AS wanted
     WHERE d.recipients IS NOT NULL
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, s.recipient_key, s.channels
      FROM due d JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.recipient_key IS NOT NULL
     WHERE d.recipients IS NULL AND NOT s.paused
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, gm.recipient_key, s.channels
      FROM due d
      JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.group_key IS NOT NULL
      JOIN msgpool.group_member gm ON gm.group_key = s.group_key
     WHERE d.recipients IS NULL AND NOT s.paused
  ),
  targets AS (
    -- asked: a subscription names this channel for this recipient
    SELECT a.message_id, a.type_key, a.urgency, a.timed, a.recipient_key, c AS channel,
           bool_or(a.channels IS NOT NULL) AS asked
      FROM audience a
      JOIN msgpool.message_type t ON t.key = a.type_key
      CROSS JOIN LATERAL unnest(t.channels) AS c
     WHERE a.channels IS NULL OR c = ANY (a.channels)
     GROUP BY a.message_id, a.type_key, a.urgency, a.timed, a.recipient_key, c
  ),
  contacted AS (
    SELECT tg.*, t.digest,
           tg.urgency < 'urgent' AND ((t.send_policy <> 'immediate' AND NOT tg.timed) OR q.type_key IS NOT NULL)
             AS ruled,
           CASE
             WHEN r.enabled IS NULL THEN 'no recipient has this key'
             WHEN NOT r.enabled THEN 'recipient disabled'
             WHEN tg.channel = 'email' AND r.email IS NULL THEN 'recipient has no email address'
             WHEN tg.channel = 'sms' AND r.phone IS NULL THEN 'recipient has no phone number'
             WHEN tg.channel = 'webhook' AND r.webhook_url IS NULL THEN 'recipient has no webhook'
           END AS unsendable,
           coalesce(r.enabled, false) AS recipient_enabled
      FROM targets tg
      JOIN msgpool.message_type t ON t.key = tg.type_key
      -- one probe of the primary key per delivery (LIMIT keeps the planner from turning this
      -- into a join): estimating a batch's deliveries blindly, it would scan every recipient
      LEFT JOIN LATERAL (SELECT r.enabled, r.email, r.phone, r.webhook_url
                           FROM msgpool.recipient r WHERE r.key = tg.recipient_key LIMIT 1) r ON true
      LEFT JOIN msgpool.quiet_hours q ON q.type_key = tg.type_key AND q.channel = tg.channel
  ),
  checked AS (
    SELECT c.* FROM (
      SELECT ct.*, bool_or(ct.unsendable IS NULL) OVER (PARTITION BY ct.message_id, ct.recipient_key) AS reachable
        FROM contacted ct
    ) c
     WHERE c.unsendable IS NULL OR NOT c.recipient_enabled OR c.asked OR NOT c.reachable
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
  UPDATE msgpool.message m SET state = 'expanded', expanded_at = now()
    FROM due WHERE m.id = due.id;
  GET DIAGNOSTICS expanded = ROW_COUNT;
  RETURN expanded;
END;
$$;

COMMENT ON FUNCTION msgpool.expand IS
  'Expands up to batch_size due messages into deliveries (skipped ones with their reason); returns how many messages';

-- Statistics that keep up with a burst. plpgsql keeps each statement's plan for the session,
-- and a plan made while a hot table was (nearly) empty takes it for one row: the claim then
-- read the whole delivery table once per claim, until autovacuum's next ANALYZE. A busy
-- expander calls this every 100 ms at most: the message or delivery table, when the
-- planner knows it as small (analyzed, under 10,000 rows) and it has more than doubled
-- since, is analyzed now. Tables never analyzed, or known as large, already get plans that
-- hold; the inbox is left to autovacuum (workers only add to it). Returns what it analyzed.
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


COMMENT ON FUNCTION msgpool.refresh_statistics IS
  'Analyzes the message and delivery tables when a burst has outgrown the planner''s statistics of them';
