-- Claiming: a worker leases a batch of one channel's due deliveries. claim_deliveries() is
-- four named steps, each a function below, in the order they run:
--
--   1. rescue_expired_leases()       leases whose worker stopped or hung come back
--   2. provider_budget()             the provider's per-second budget caps the batch
--   3. defer_over_recipient_limit()  what would break a recipient's or a chat robot's limit
--      defer_over_robot_limit()      moves later, saying why
--   4. the claim itself             the batch leased, with what to render and send it
--
-- Then spend_provider_budget() counts what was claimed. expand_and_claim() is expand() and
-- the claims in one round trip, for an idle worker woken by a producer. A worker keeps its
-- leases alive with extend_leases() and gives back what it will not start with
-- release_deliveries().

-- Step 1. Leases that expired (their worker died or hung) are taken back: the delivery is due
-- again at once, or dead if that was its last attempt, or cancelled if its message was
-- (unsent_state()). Returns how many. Steps 1 and 2 are plpgsql, and step 4 is written in
-- claim_deliveries() itself, so that each keeps its plan for the session: a claim runs many
-- times a second, and neither planning it anew nor handing its rows through one more
-- function is free.
CREATE FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  rescued_count integer;
BEGIN
  WITH rescued AS (
    UPDATE msgpool.delivery d
       SET state = msgpool.unsent_state(m.state, false, d.attempts >= t.max_attempts),
           last_error = 'lease expired: the worker sending it stopped or hung',
           lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock(), gathered_into = NULL
      FROM msgpool.message m, msgpool.message_type t
     WHERE d.state = 'sending' AND d.lease_deadline < now() AND d.channel = rescue_expired_leases.channel
       AND m.id = d.message_id AND t.key = m.type_key
    RETURNING 1
  )
  SELECT count(*)::integer INTO rescued_count FROM rescued;
  RETURN rescued_count;
END;
$$;

COMMENT ON FUNCTION msgpool.rescue_expired_leases IS
  'Takes back a channel''s expired leases: due again, or dead on their last attempt, or cancelled with their message';

-- Step 2. How many of batch_size the provider's per-second budget (rate_limit in
-- 04_policies.sql) lets a claim take now; batch_size where the channel has no such limit.
-- The row lock taken here makes concurrent claims of a channel share one budget until they
-- commit. A provider counts real seconds, so the budget does too, whatever the clock says.
CREATE FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  room integer;
BEGIN
  WITH budget AS (
    UPDATE msgpool.rate_limit r
       SET budget_used = CASE WHEN r.budget_second = date_trunc('second', now()) THEN r.budget_used ELSE 0 END,
           budget_second = date_trunc('second', now())
     WHERE r.channel = provider_budget.channel AND r.provider_per_second IS NOT NULL
    RETURNING least(batch_size, r.provider_per_second - r.budget_used) AS room
  )
  SELECT b.room INTO room FROM budget b;
  RETURN coalesce(room, batch_size);
END;
$$;

COMMENT ON FUNCTION msgpool.provider_budget IS
  'How many deliveries a claim of the channel may take this second under the provider''s limit';

-- After the claim: what it took counts against the second's budget.
CREATE FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer)
RETURNS void
LANGUAGE sql
AS $$
  UPDATE msgpool.rate_limit r SET budget_used = r.budget_used + claimed
   WHERE r.channel = spend_provider_budget.channel AND r.provider_per_second IS NOT NULL
$$;

COMMENT ON FUNCTION msgpool.spend_provider_budget IS 'Counts a claim''s deliveries against the provider''s budget of this second';

-- Step 3.
-- The per-recipient rate limit (rate_limit in 04_policies.sql), applied by claim_deliveries():
-- moves due deliveries of a channel that would break it to when the oldest send in the
-- window leaves it, saying why. Looks at what the next claim of batch_size would take
-- (urgent messages aside); deliveries gathered into one digest are one send. Returns how
-- many it deferred.
CREATE FUNCTION msgpool.defer_over_recipient_limit(
  channel msgpool.channel, max_sends integer, per interval, batch_size integer)
RETURNS integer
LANGUAGE sql
AS $$
  WITH due AS (
    SELECT d.id, d.recipient_key, coalesce(d.gather_key, d.id::text) AS send
      FROM msgpool.delivery d
      JOIN msgpool.message m ON m.id = d.message_id
     WHERE d.state = 'pending' AND d.channel = defer_over_recipient_limit.channel AND d.next_attempt_at <= msgpool.clock()
       AND m.urgency < 'urgent'
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  ranked AS (
    -- deliveries gathered into one digest are one send
    SELECT due.id, due.recipient_key, dense_rank() OVER (PARTITION BY due.recipient_key ORDER BY due.send) AS nth
      FROM due
  ),
  recent AS (
    SELECT x.recipient_key, count(*) AS sends, min(x.sent_at) AS oldest
      FROM msgpool.delivery x
     WHERE x.recipient_key IN (SELECT due.recipient_key FROM due)
       AND x.channel = defer_over_recipient_limit.channel AND x.gathered_into IS NULL
       AND (x.state = 'sending' OR (x.state = 'sent' AND x.sent_at > msgpool.clock() - per))
     GROUP BY x.recipient_key
  ),
  deferred AS (
    UPDATE msgpool.delivery d
       SET next_attempt_at = coalesce(r.oldest, msgpool.clock()) + per,
           deferred_by = format('rate limit: %s %s per %s per recipient', max_sends, defer_over_recipient_limit.channel, per)
      FROM ranked k LEFT JOIN recent r ON r.recipient_key = k.recipient_key
     WHERE d.id = k.id AND k.nth + coalesce(r.sends, 0) > max_sends
    RETURNING 1
  )
  SELECT count(*)::integer FROM deferred
$$;

COMMENT ON FUNCTION msgpool.defer_over_recipient_limit IS
  'Moves due deliveries that would break a recipient''s rate limit to when the window allows them';

-- Chat robots' limits (robot_limit in 04_policies.sql), applied by claim_deliveries() to the
-- webhook channel: due deliveries to a robot that would break a limit of its flavor move to
-- when the oldest send in the window leaves it, saying why; a digest-mode type's may then be
-- gathered (gather_key), so the excess goes out as one digest. Looks at what the next claim
-- of batch_size would take; deliveries gathered into one digest are one send. Returns how
-- many it deferred.
CREATE FUNCTION msgpool.defer_over_robot_limit(batch_size integer)
RETURNS integer
LANGUAGE sql
AS $$
  WITH due AS (
    SELECT d.id, r.webhook_url AS robot, r.webhook_flavor AS flavor, t.digest, t.key AS type_key,
           -- a send: one delivery, or a digest's deliveries for one recipient
           d.recipient_key || '/' || coalesce(d.gather_key, d.id::text) AS send
      FROM msgpool.delivery d
      JOIN msgpool.recipient r ON r.key = d.recipient_key
      JOIN msgpool.message m ON m.id = d.message_id
      JOIN msgpool.message_type t ON t.key = m.type_key
     WHERE d.state = 'pending' AND d.channel = 'webhook' AND d.next_attempt_at <= msgpool.clock()
       AND r.webhook_flavor IN (SELECT l.flavor FROM msgpool.robot_limit l)
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  ranked AS (
    SELECT s.*, l.max_sends, l.per,
           dense_rank() OVER (PARTITION BY s.robot, l.per ORDER BY s.first, s.send) AS nth
      FROM (SELECT due.*, min(due.id) OVER (PARTITION BY due.send) AS first FROM due) s
      JOIN msgpool.robot_limit l ON l.flavor = s.flavor
  ),
  recent AS (
    SELECT w.robot, w.per, count(*) AS sends, min(x.sent_at) AS oldest
      FROM (SELECT DISTINCT k.robot, k.per FROM ranked k) w
      JOIN msgpool.robot_send x ON x.robot = w.robot AND x.sent_at > now() - w.per
     GROUP BY w.robot, w.per
  ),
  over AS (
    -- the longest wait among the limits it would break
    SELECT DISTINCT ON (k.id) k.id, k.digest, k.type_key,
           coalesce(r.oldest, now()) + k.per - now() AS wait,
           format('robot limit: %s robots take %s per %s', k.flavor, k.max_sends, k.per) AS why
      FROM ranked k LEFT JOIN recent r ON r.robot = k.robot AND r.per = k.per
     WHERE k.nth + coalesce(r.sends, 0) > k.max_sends
     ORDER BY k.id, coalesce(r.oldest, now()) + k.per DESC
  ),
  deferred AS (
    UPDATE msgpool.delivery d
       SET next_attempt_at = msgpool.clock() + o.wait, deferred_by = o.why,
           gather_key = CASE WHEN o.digest THEN coalesce(d.gather_key, o.type_key) ELSE d.gather_key END
      FROM over o
     WHERE d.id = o.id
    RETURNING 1
  )
  SELECT count(*)::integer FROM deferred
$$;

COMMENT ON FUNCTION msgpool.defer_over_robot_limit IS
  'Moves due webhook deliveries that would break a chat robot''s limit later, or gathers them into a digest';

-- Step 4, the claim itself (in claim_deliveries() below, where it keeps its plan for the
-- session): leases up to batch_size due deliveries of one channel for `lease`, oldest due
-- first, and no more than their payloads' settings.max_claim_bytes (at least one), so a
-- worker's memory is bounded by bytes as well as rows; returns them with everything to
-- render and send them. Deferred deliveries of a
-- digest-mode type due together for one recipient share one lease token: the worker sends
-- them as one digest and writes the same outcome for each; all but the first (the lead)
-- record gathered_into = the lead's id. Each send to a limited chat robot is remembered
-- (robot_send; a digest is one).
-- A worker's claim: the four steps above, in one transaction.
CREATE FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  limits msgpool.rate_limit;
  claimed integer;
BEGIN
  -- 1. leases whose worker stopped or hung come back
  PERFORM msgpool.rescue_expired_leases(claim_deliveries.channel);
  -- 2. the provider's budget caps the batch
  SELECT * INTO limits FROM msgpool.rate_limit r WHERE r.channel = claim_deliveries.channel;
  IF limits.provider_per_second IS NOT NULL THEN
    batch_size := msgpool.provider_budget(claim_deliveries.channel, batch_size);
    IF batch_size <= 0 THEN
      RETURN;
    END IF;
  END IF;
  -- 3. what would break a recipient's or a chat robot's limit moves later
  IF limits.recipient_max IS NOT NULL THEN
    PERFORM msgpool.defer_over_recipient_limit(claim_deliveries.channel, limits.recipient_max,
                                               limits.recipient_window, batch_size);
  END IF;
  IF claim_deliveries.channel = 'webhook' THEN
    -- one webhook claim at a time counts robots' sends: a concurrent claim's sends are
    -- committed, and seen, before this one counts
    PERFORM pg_advisory_xact_lock(hashtext('msgpool.robot_limit'));
    PERFORM msgpool.defer_over_robot_limit(batch_size);
  END IF;
  -- 4. the claim
  RETURN QUERY
  WITH locked AS (
    SELECT d.id, d.recipient_key, d.gather_key, d.next_attempt_at, pg_column_size(m.payload) AS bytes
      FROM msgpool.delivery d JOIN msgpool.message m ON m.id = d.message_id
     WHERE d.state = 'pending' AND d.channel = claim_deliveries.channel AND d.next_attempt_at <= msgpool.clock()
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  -- what is locked past the byte budget stays pending (the lock ends with the claim)
  due AS (
    SELECT s.id, s.recipient_key, s.gather_key
      FROM (SELECT l.*, sum(l.bytes) OVER (ORDER BY l.next_attempt_at, l.id) - l.bytes AS before
              FROM locked l) s
     WHERE s.before < (SELECT st.max_claim_bytes FROM msgpool.settings st)
  ),
  digests AS (
    SELECT g.recipient_key, g.gather_key, min(g.id) AS lead, gen_random_uuid() AS token
      FROM due g
     WHERE g.gather_key IS NOT NULL
     GROUP BY g.recipient_key, g.gather_key
  ),
  claimed AS (
    UPDATE msgpool.delivery d
       SET state = 'sending', lease_token = coalesce(dg.token, gen_random_uuid()),
           lease_deadline = now() + lease, attempts = d.attempts + 1,
           gathered_into = CASE WHEN dg.lead <> d.id THEN dg.lead END
      FROM due LEFT JOIN digests dg ON dg.recipient_key = due.recipient_key AND dg.gather_key = due.gather_key
     WHERE d.id = due.id
    RETURNING d.*
  ),
  robot_sends AS (
    INSERT INTO msgpool.robot_send (robot)
    SELECT r.webhook_url FROM claimed c JOIN msgpool.recipient r ON r.key = c.recipient_key
     WHERE claim_deliveries.channel = 'webhook' AND c.gathered_into IS NULL
       AND r.webhook_flavor IN (SELECT l.flavor FROM msgpool.robot_limit l)
  )
  SELECT c.id, c.lease_token, c.attempts, c.channel, m.id, m.payload, m.duplicate_count,
         msgpool.local_time(m.created_at, t.time_zone),
         m.urgency, t.key::text, t.name, t.category, tpl.subject, tpl.body,
         r.key::text, r.name, r.email, r.phone, r.webhook_url, r.webhook_flavor, r.webhook_secret,
         tpl.digest_subject, tpl.digest_body, tpl.html_body,
         'msgpool-' || c.id || '-' || to_char(c.created_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS')
    FROM claimed c
    JOIN msgpool.message m ON m.id = c.message_id
    JOIN msgpool.message_type t ON t.key = m.type_key
    JOIN msgpool.recipient r ON r.key = c.recipient_key
    LEFT JOIN msgpool.template tpl ON tpl.type_key = m.type_key AND tpl.channel = c.channel
   ORDER BY c.id;
  IF limits.provider_per_second IS NOT NULL THEN
    GET DIAGNOSTICS claimed = ROW_COUNT;
    PERFORM msgpool.spend_provider_budget(claim_deliveries.channel, claimed);
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.claim_deliveries IS
  'A worker''s claim of a channel: expired leases rescued, limits applied, up to batch_size deliveries leased';

-- For an idle worker woken by a producer: expand what is due and claim the deliveries due
-- on the worker's channels, in one round trip instead of two. Busy workers call expand()
-- and claim_deliveries() separately, so expansion and sending overlap. One plan per
-- statement, expand()'s included: planning its large statement afresh for a lone message
-- would cost more than the message's way (a busy expander keeps a plan for its batch size).
CREATE FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  on_channel msgpool.channel;
BEGIN
  PERFORM msgpool.expand(batch_size);
  FOREACH on_channel IN ARRAY channels LOOP
    -- a glance at the claim's own index spares a channel with nothing due the whole claim
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                               WHERE d.state = 'pending' AND d.channel = on_channel
                                 AND d.next_attempt_at <= msgpool.clock());
    RETURN QUERY SELECT * FROM msgpool.claim_deliveries(on_channel, batch_size, lease);
  END LOOP;
END;
$$;

COMMENT ON FUNCTION msgpool.expand_and_claim IS
  'expand() and the claims of some channels in one round trip, for an idle worker woken by a producer';

-- Heartbeat: pushes the deadline of the caller's leases out to now() + lease. Returns how
-- many leases it still held (fewer means some expired and were taken back).
CREATE FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH extended AS (
    UPDATE msgpool.delivery d SET lease_deadline = now() + lease
     WHERE d.state = 'sending' AND d.lease_token = ANY (lease_tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM extended
$$;

COMMENT ON FUNCTION msgpool.extend_leases IS 'A worker''s heartbeat: extends its leases; returns how many it still holds';

-- Gives back deliveries claimed but not started: due after `wait` (at once by default), the
-- claim does not count as an attempt, and a released digest is gathered afresh; one of a
-- message cancelled meanwhile is cancelled (unsent_state()). A worker shutting down gives
-- back what it had not started; one whose destination is paused or full gives those back
-- for later, and `why` becomes their deferred_by.
CREATE FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval DEFAULT interval '0',
                                           why text DEFAULT NULL)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH released AS (
    UPDATE msgpool.delivery d
       SET state = msgpool.unsent_state(m.state, false, false),
           lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock() + wait,
           attempts = greatest(d.attempts - 1, 0), gathered_into = NULL,
           deferred_by = coalesce(why, d.deferred_by)
      FROM msgpool.message m
     WHERE d.state = 'sending' AND d.lease_token = ANY (lease_tokens) AND m.id = d.message_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;

COMMENT ON FUNCTION msgpool.release_deliveries IS
  'Gives back claimed, unstarted deliveries without spending an attempt, due after wait, why kept as deferred_by';
