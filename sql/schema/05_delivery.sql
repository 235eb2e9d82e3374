-- What happens to a message: one delivery per recipient and channel, every attempt at it,
-- and the queue the workers run, one function per step:
--
--   msgpool.dispatch(n)                       expand up to n due messages into deliveries
--   msgpool.claim_deliveries(ch, n, lease)    lease up to n due deliveries of a channel
--   msgpool.dispatch_and_claim(n, chs, lease) both in one round trip (an idle worker, woken)
--   msgpool.record_outcomes(json)             write outcomes, only under the lease token
--   msgpool.deliver_to_inbox(json)            the inbox channel (06_inbox.sql)
--   msgpool.extend_leases(tokens, lease)      heartbeat for long sends
--   msgpool.release_deliveries(tokens, ...)   give back claimed-but-unstarted work
--   msgpool.refresh_statistics()              a burst's tables analyzed as they outgrow plans
--
-- Claims are leases: a claim commits at once, the send happens outside any transaction, and
-- an expired lease makes the delivery claimable again, so a killed worker's work is finished
-- by another. Rules (send times, quiet hours, rate limits) read msgpool.clock(); leases the
-- real now(). These functions run with the owner's rights: the worker role reaches the
-- tables only through them, and only by their rules.
--
-- No foreign keys on this hot path (each check locked the row it named, once per delivery):
-- deliveries go with their message by message_deleted(), attempts with their delivery by
-- delivery_deleted(), and recipient_guard() keeps a recipient with history.
CREATE TABLE msgpool.delivery (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id      bigint NOT NULL,
  recipient_key   msgpool.recipient_key NOT NULL,
  channel         msgpool.channel NOT NULL,
  state           msgpool.delivery_state NOT NULL DEFAULT 'pending',
  attempts        integer NOT NULL DEFAULT 0 CONSTRAINT delivery_attempts_not_negative CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a claim is a lease: only the holder of lease_token may write the outcome, and once
  -- lease_deadline passes the delivery may be claimed again
  lease_token     uuid,
  lease_deadline  timestamptz,
  last_error      text,
  skip_reason     text,
  -- the provider's id for what was sent (an email's Message-ID, an SMS gateway's BizId, ...)
  provider_ref    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  -- the rule that put next_attempt_at in the future, in words; NULL: due when made
  deferred_by     text,
  -- set on deliveries that may be gathered into a digest: their type's key
  gather_key      text,
  -- a delivery sent inside another's digest: that delivery's id
  gathered_into   bigint,
  CONSTRAINT delivery_once UNIQUE (message_id, recipient_key, channel),
  CONSTRAINT delivery_leased_while_sending
    CHECK ((state = 'sending') = (lease_token IS NOT NULL AND lease_deadline IS NOT NULL)),
  CONSTRAINT delivery_skip_has_reason CHECK (state <> 'skipped' OR skip_reason IS NOT NULL)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- Exactly the rows a deliverer claims per channel, and the leases that may have expired.
CREATE INDEX delivery_due ON msgpool.delivery (channel, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX delivery_lease ON msgpool.delivery (lease_deadline) WHERE state = 'sending';
CREATE INDEX delivery_dead ON msgpool.delivery (channel, id) WHERE state = 'dead';
CREATE INDEX delivery_recipient ON msgpool.delivery (recipient_key);
CREATE INDEX delivery_sent_at ON msgpool.delivery (sent_at) WHERE state = 'sent';

CREATE TABLE msgpool.delivery_attempt (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL,
  attempt     integer NOT NULL,
  outcome     msgpool.attempt_outcome NOT NULL,
  error       text,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  worker      text
);

CREATE INDEX delivery_attempt_delivery ON msgpool.delivery_attempt (delivery_id);

-- Everything a worker needs to render and send one claimed delivery.
CREATE TYPE msgpool.claimed_delivery AS (
  id              bigint,
  lease_token     uuid,
  attempt         integer,
  channel         msgpool.channel,
  message_id      bigint,
  payload         jsonb,
  duplicate_count integer,
  created_at      text,   -- in the type's time zone, with the offset (msgpool.local_time)
  urgency         msgpool.urgency,
  type_key        text,
  type_name       text,
  category        text,
  subject         text,   -- the channel's template; NULL: the built-in default
  body            text,
  recipient_key   text,
  recipient_name  text,
  email           text,
  phone           text,
  webhook_url     text,
  webhook_flavor  msgpool.webhook_flavor,
  webhook_secret  text,
  digest_subject  text,   -- the channel's digest template; NULL: the built-in digest
  digest_body     text,
  html_body       text,   -- an email template's HTML part; NULL: plain text only
  -- the same on every send of this delivery (its id and when it was made, unique beyond this
  -- database), so a receiver can drop a repeat: the email's Message-ID, Idempotency-Key
  identity        text
);

-- How long to wait before retry number `attempt` (1 = the first retry): exponential from
-- msgpool.retry_base (default 5 s) up to msgpool.retry_cap (default 1 h), with ±25 % jitter
-- so a provider outage does not end in a synchronised stampede.
CREATE FUNCTION msgpool.backoff(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $$
  SELECT least(
           coalesce(nullif(current_setting('msgpool.retry_base', true), '')::interval, interval '5 seconds')
             * power(2, least(greatest(attempt, 1) - 1, 30)),
           coalesce(nullif(current_setting('msgpool.retry_cap', true), '')::interval, interval '1 hour'))
         * (0.75 + random() * 0.5)
$$;

-- Expands up to batch_size due messages into one delivery per recipient and channel, in one
-- transaction, and returns how many messages it expanded. SKIP LOCKED lets any number of
-- dispatchers run side by side without waiting on each other.
--
-- Who: the message's explicit recipients, else the type's subscribers that are not paused
-- (directly or through a group; someone reached twice is one recipient, with the union of
-- the channels).
-- Which channels: the type's, narrowed by the subscription. A delivery that cannot be made
-- is recorded as skipped with the reason, for an administrator to act on: a disabled
-- recipient; a missing contact for a channel the subscription names; a recipient reachable
-- on none of the type's channels. A missing contact for a channel nobody asked of that
-- recipient (a person without a webhook, on a type that also posts to a robot) is not a
-- delivery at all. When: schedule_delivery() (04_policies.sql), called only for deliveries
-- a rule could touch. Expanding twice cannot double-send: delivery_once is unique.
CREATE FUNCTION msgpool.dispatch(batch_size integer DEFAULT 100)
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
             WHEN NOT r.enabled THEN 'recipient disabled'
             WHEN tg.channel = 'email' AND r.email IS NULL THEN 'recipient has no email address'
             WHEN tg.channel = 'sms' AND r.phone IS NULL THEN 'recipient has no phone number'
             WHEN tg.channel = 'webhook' AND r.webhook_url IS NULL THEN 'recipient has no webhook'
           END AS unsendable,
           r.enabled AS recipient_enabled
      FROM targets tg
      JOIN msgpool.message_type t ON t.key = tg.type_key
      -- one probe of the primary key per delivery (LIMIT keeps the planner from turning this
      -- into a join): estimating a batch's deliveries blindly, it chose a scan of every
      -- recipient, 0.5 ms of a lone message's way once there were 10,000 of them
      CROSS JOIN LATERAL (SELECT r.enabled, r.email, r.phone, r.webhook_url
                            FROM msgpool.recipient r WHERE r.key = tg.recipient_key LIMIT 1) r
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
  UPDATE msgpool.message m SET state = 'dispatched', dispatched_at = now()
    FROM due WHERE m.id = due.id;
  GET DIAGNOSTICS expanded = ROW_COUNT;
  RETURN expanded;
END;
$$;

-- The per-recipient rate limit (rate_limit in 04_policies.sql), applied by claim_deliveries():
-- moves due deliveries of a channel that would break it to when the oldest send in the
-- window leaves it, saying why. Looks at what the next claim of batch_size would take
-- (urgent messages aside); deliveries gathered into one digest are one send. Returns how
-- many it deferred.
CREATE FUNCTION msgpool.defer_over_recipient_limit(
  on_channel msgpool.channel, max_sends integer, per interval, batch_size integer)
RETURNS integer
LANGUAGE sql
AS $$
  WITH due AS (
    SELECT d.id, d.recipient_key, coalesce(d.gather_key, d.id::text) AS send
      FROM msgpool.delivery d
      JOIN msgpool.message m ON m.id = d.message_id
     WHERE d.state = 'pending' AND d.channel = on_channel AND d.next_attempt_at <= msgpool.clock()
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
       AND x.channel = on_channel AND x.gathered_into IS NULL
       AND (x.state = 'sending' OR (x.state = 'sent' AND x.sent_at > msgpool.clock() - per))
     GROUP BY x.recipient_key
  ),
  deferred AS (
    UPDATE msgpool.delivery d
       SET next_attempt_at = coalesce(r.oldest, msgpool.clock()) + per,
           deferred_by = format('rate limit: %s %s per %s per recipient', max_sends, on_channel, per)
      FROM ranked k LEFT JOIN recent r ON r.recipient_key = k.recipient_key
     WHERE d.id = k.id AND k.nth + coalesce(r.sends, 0) > max_sends
    RETURNING 1
  )
  SELECT count(*)::integer FROM deferred
$$;

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

-- Leases up to batch_size due deliveries of one channel for `lease`, oldest due first, and
-- returns them. Leases that expired (their worker died or hung) are taken back first; one
-- that expired on its last allowed attempt goes dead instead of looping forever, and one of
-- a message cancelled meanwhile is cancelled: a cancel sticks, whatever the lease. The
-- channel's rate limits (04_policies.sql) apply: the provider's budget caps the batch, and
-- deliveries over a recipient's limit, or a chat robot's, are moved later first. Deferred deliveries of a
-- digest-mode type due together for one recipient share one lease token: the worker sends
-- them as one digest and writes the same outcome for each; all but the first (the lead)
-- record gathered_into = the lead's id.
CREATE FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  at timestamptz := msgpool.clock();
  lim msgpool.rate_limit;
  claimed_count integer;
BEGIN
  UPDATE msgpool.delivery d
     SET state = CASE WHEN m.state = 'cancelled' THEN 'cancelled'
                      WHEN d.attempts >= t.max_attempts THEN 'dead'
                      ELSE 'pending' END::msgpool.delivery_state,
         last_error = 'lease expired: the worker sending it stopped or hung',
         lease_token = NULL, lease_deadline = NULL, next_attempt_at = at, gathered_into = NULL
    FROM msgpool.message m, msgpool.message_type t
   WHERE d.state = 'sending' AND d.lease_deadline < now() AND d.channel = claim_deliveries.channel
     AND m.id = d.message_id AND t.key = m.type_key;

  SELECT * INTO lim FROM msgpool.rate_limit r WHERE r.channel = claim_deliveries.channel;
  IF lim.provider_per_second IS NOT NULL THEN
    -- the row lock taken here makes concurrent claims of this channel share one budget; a
    -- provider's rate is in real seconds, so the budget is too, whatever the clock says
    UPDATE msgpool.rate_limit r
       SET budget_used = CASE WHEN r.budget_second = date_trunc('second', now()) THEN r.budget_used ELSE 0 END,
           budget_second = date_trunc('second', now())
     WHERE r.channel = claim_deliveries.channel
    RETURNING least(batch_size, r.provider_per_second - r.budget_used) INTO batch_size;
    IF batch_size <= 0 THEN
      RETURN;
    END IF;
  END IF;
  IF lim.recipient_max IS NOT NULL THEN
    PERFORM msgpool.defer_over_recipient_limit(claim_deliveries.channel, lim.recipient_max,
                                               lim.recipient_window, batch_size);
  END IF;
  IF claim_deliveries.channel = 'webhook' THEN
    -- one webhook claim at a time counts robots' sends: a concurrent claim's sends are
    -- committed, and seen, before this one counts
    PERFORM pg_advisory_xact_lock(hashtext('msgpool.robot_limit'));
    PERFORM msgpool.defer_over_robot_limit(batch_size);
  END IF;

  RETURN QUERY
  WITH due AS (
    SELECT d.id, d.recipient_key, d.gather_key FROM msgpool.delivery d
     WHERE d.state = 'pending' AND d.channel = claim_deliveries.channel AND d.next_attempt_at <= at
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
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
    -- the robot limits' memory: each send to a limited robot (a digest is one)
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

  IF lim.provider_per_second IS NOT NULL THEN
    GET DIAGNOSTICS claimed_count = ROW_COUNT;
    UPDATE msgpool.rate_limit r SET budget_used = r.budget_used + claimed_count
     WHERE r.channel = claim_deliveries.channel;
  END IF;
END;
$$;

-- For an idle worker woken by a producer: expand what is due and claim the deliveries due
-- on the worker's channels, in one round trip instead of two. Busy workers call dispatch()
-- and claim_deliveries() separately, so expansion and sending overlap.
-- One plan per statement, dispatch()'s included: planning its large statement afresh for a
-- lone message was a good part of that message's way (a busy worker's dispatch() keeps a
-- plan for its batch size: the general plan expands full batches at under half the rate).
CREATE FUNCTION msgpool.dispatch_and_claim(batch_size integer, channels msgpool.channel[], lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  on_channel msgpool.channel;
BEGIN
  PERFORM msgpool.dispatch(batch_size);
  FOREACH on_channel IN ARRAY channels LOOP
    -- a glance at the claim's own index spares a channel with nothing due the whole claim
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                               WHERE d.state = 'pending' AND d.channel = on_channel
                                 AND d.next_attempt_at <= msgpool.clock());
    RETURN QUERY SELECT * FROM msgpool.claim_deliveries(on_channel, batch_size, lease);
  END LOOP;
END;
$$;

-- Writes a batch of outcomes, each only where the delivery is still leased under its token
-- (a stale worker whose lease expired cannot overwrite a newer claim), and logs each attempt.
-- outcomes: [{"id": 1, "token": "…", "outcome": "sent"|"retry"|"dead"|"throttled",
--             "error": "…", "provider_ref": "…", "started_at": "…", "worker": "…",
--             "wait_ms": 30000}, …]
-- A throttled delivery (the provider asked to wait, for wait_ms) is due again after the wait
-- without spending an attempt; deferred_by says who asked.
-- A retry past the type's max_attempts goes dead; a retry of a message cancelled meanwhile
-- is cancelled; a retry never lands in quiet hours; a digest's deliveries retry together
-- (one wait per lease token), to be gathered again. A sent delivery's error is cleared.
-- Returns how many outcomes were written. plpgsql: it keeps its plans for the session.
CREATE FUNCTION msgpool.record_outcomes(outcomes jsonb)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  written integer;
BEGIN
  WITH o AS (
    SELECT * FROM jsonb_to_recordset(outcomes) AS x(
      id bigint, token uuid, outcome msgpool.attempt_outcome, error text, provider_ref text,
      started_at timestamptz, worker text, wait_ms bigint)
  ),
  waits AS (
    SELECT o.token, msgpool.clock() + msgpool.backoff(max(d.attempts)) AS next_attempt_at
      FROM o JOIN msgpool.delivery d ON d.id = o.id
     WHERE o.outcome = 'retry'
     GROUP BY o.token
  ),
  updated AS (
    UPDATE msgpool.delivery d
       SET state = CASE
             WHEN o.outcome = 'sent' THEN 'sent'
             WHEN o.outcome = 'dead' OR (o.outcome <> 'throttled' AND d.attempts >= t.max_attempts) THEN 'dead'
             WHEN m.state = 'cancelled' THEN 'cancelled'
             ELSE 'pending' END::msgpool.delivery_state,
           attempts = CASE WHEN o.outcome = 'throttled' THEN d.attempts - 1 ELSE d.attempts END,
           -- a retry that would fall in the channel's quiet hours waits until they end
           next_attempt_at = CASE
             WHEN o.outcome = 'throttled' THEN msgpool.clock() + o.wait_ms * interval '1 millisecond'
             WHEN w.next_attempt_at IS NULL THEN d.next_attempt_at ELSE coalesce(
               (SELECT msgpool.quiet_until(q.starts, q.ends, t.time_zone, w.next_attempt_at)
                  FROM msgpool.quiet_hours q
                 WHERE q.type_key = t.key AND q.channel = d.channel AND m.urgency < q.below),
               w.next_attempt_at) END,
           last_error = CASE WHEN o.outcome = 'sent' THEN NULL
                             WHEN o.outcome = 'throttled' THEN d.last_error ELSE o.error END,
           deferred_by = CASE WHEN o.outcome = 'throttled' THEN o.error ELSE d.deferred_by END,
           provider_ref = coalesce(o.provider_ref, d.provider_ref),
           sent_at = CASE WHEN o.outcome = 'sent' THEN msgpool.clock() END,
           gathered_into = CASE WHEN o.outcome IN ('retry', 'throttled') THEN NULL ELSE d.gathered_into END,
           lease_token = NULL, lease_deadline = NULL
      FROM o LEFT JOIN waits w ON w.token = o.token, msgpool.message m, msgpool.message_type t
     WHERE d.id = o.id AND d.state = 'sending' AND d.lease_token = o.token
       AND m.id = d.message_id AND t.key = m.type_key
    RETURNING d.id, d.attempts, d.state
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, error, started_at, worker)
    -- a throttled attempt was counted back: it is logged under the number it had
    SELECT u.id, u.attempts + CASE WHEN o.outcome = 'throttled' THEN 1 ELSE 0 END,
           CASE WHEN u.state = 'dead' THEN 'dead' ELSE o.outcome END,
           o.error, coalesce(o.started_at, now()), o.worker
      FROM updated u JOIN o ON o.id = u.id
    RETURNING 1
  )
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;

-- Heartbeat: pushes the deadline of the caller's leases out to now() + lease. Returns how
-- many leases it still held (fewer means some expired and were taken back).
CREATE FUNCTION msgpool.extend_leases(tokens uuid[], lease interval)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH extended AS (
    UPDATE msgpool.delivery SET lease_deadline = now() + lease
     WHERE state = 'sending' AND lease_token = ANY (tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM extended
$$;

-- Gives back deliveries claimed but not started: due after `wait` (at once by default), the
-- claim does not count as an attempt, and a released digest is gathered afresh; one of a
-- message cancelled meanwhile is cancelled. A worker shutting down gives back what it had
-- not started; one whose destination is paused or full gives those back for later, and
-- `why` becomes their deferred_by.
CREATE FUNCTION msgpool.release_deliveries(tokens uuid[], wait interval DEFAULT interval '0',
                                           why text DEFAULT NULL)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH released AS (
    UPDATE msgpool.delivery d
       SET state = CASE WHEN m.state = 'cancelled' THEN 'cancelled' ELSE 'pending' END::msgpool.delivery_state,
           lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock() + wait,
           attempts = greatest(d.attempts - 1, 0), gathered_into = NULL,
           deferred_by = coalesce(why, d.deferred_by)
      FROM msgpool.message m
     WHERE d.state = 'sending' AND d.lease_token = ANY (tokens) AND m.id = d.message_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;

-- A delivery's attempts go with it (see message_deleted() in 03_message.sql).
CREATE FUNCTION msgpool.delivery_deleted()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE msgpool.delivery_attempt;
  ELSE
    DELETE FROM msgpool.delivery_attempt a USING gone WHERE a.delivery_id = gone.id;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER delivery_deleted AFTER DELETE ON msgpool.delivery
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();
CREATE TRIGGER delivery_truncated AFTER TRUNCATE ON msgpool.delivery
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();

-- A recipient's history, in place of foreign keys from deliveries and inbox rows: a rename
-- follows into both; a recipient with deliveries cannot be removed (23503: disable it
-- instead), and removing one without takes its inbox along. The table lock waits for every
-- dispatch writing deliveries and holds new ones until this commits, as the keys' row locks
-- did; removals and renames are rare and quick. The owner's rights, as a cascade had.
CREATE FUNCTION msgpool.recipient_guard()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.key = OLD.key THEN
    RETURN NEW;
  END IF;
  -- Conflicts with itself too, so two renames at once queue instead of deadlocking.
  LOCK TABLE msgpool.delivery IN SHARE ROW EXCLUSIVE MODE;
  IF TG_OP = 'UPDATE' THEN
    UPDATE msgpool.delivery d SET recipient_key = NEW.key WHERE d.recipient_key = OLD.key;
    UPDATE msgpool.inbox i SET recipient_key = NEW.key WHERE i.recipient_key = OLD.key;
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM msgpool.delivery d WHERE d.recipient_key = OLD.key) THEN
    RAISE EXCEPTION 'recipient % has deliveries, which are history', quote_literal(OLD.key)
      USING ERRCODE = 'foreign_key_violation',
            HINT = format('disable them instead: msgpool recipient disable %s', OLD.key);
  END IF;
  DELETE FROM msgpool.inbox i WHERE i.recipient_key = OLD.key;
  RETURN OLD;
END;
$$;

CREATE TRIGGER recipient_guard BEFORE DELETE OR UPDATE OF key ON msgpool.recipient
  FOR EACH ROW EXECUTE FUNCTION msgpool.recipient_guard();

-- TRUNCATE of recipients: only an empty history may go with them.
CREATE FUNCTION msgpool.recipient_truncate_guard()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  LOCK TABLE msgpool.delivery IN SHARE ROW EXCLUSIVE MODE;
  IF EXISTS (SELECT 1 FROM msgpool.delivery) THEN
    RAISE EXCEPTION 'recipients have deliveries, which are history'
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'truncate msgpool.message first (its deliveries go with it), or disable the recipients';
  END IF;
  TRUNCATE msgpool.inbox;
  RETURN NULL;
END;
$$;

CREATE TRIGGER recipient_truncate_guard BEFORE TRUNCATE ON msgpool.recipient
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.recipient_truncate_guard();

-- Statistics that keep up with a burst. plpgsql keeps each statement's plan for the session,
-- and a plan made while a hot table was (nearly) empty takes it for one row: the claim then
-- read the whole delivery table once per claim, until autovacuum's next ANALYZE. A busy
-- dispatcher calls this every 100 ms at most: the message or delivery table, when the
-- planner knows it as small (analyzed, under 10,000 rows) and it has more than doubled
-- since, is analyzed now. Tables never analyzed, or known as large, already get plans that
-- hold; the inbox is left to autovacuum (workers only add to it). Returns what it analyzed.
-- docs/performance.md has the measurements.
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
