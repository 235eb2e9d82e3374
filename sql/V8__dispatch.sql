-- The queue semantics the workers run on, one function per step:
--
--   msgpool.dispatch(n)                  expand up to n due messages into deliveries
--   msgpool.claim_deliveries(ch, n, l)   lease up to n due deliveries of a channel for l
--   msgpool.record_outcomes(json)        write outcomes, only under the lease token
--   msgpool.deliver_to_inbox(json)       the inbox channel: inbox rows + outcome, one transaction
--   msgpool.extend_leases(tokens, l)     heartbeat for long sends
--   msgpool.release_deliveries(tokens)   give back claimed-but-unstarted work (shutdown)
--
-- Claims are leases: a claim commits at once, the send happens outside any transaction, and
-- an expired lease makes the delivery claimable again, so a killed worker's work is finished
-- by another. Every time is the database's clock.

-- Expands up to batch_size due messages into one delivery per recipient and channel, in one
-- transaction, and returns how many messages it expanded. SKIP LOCKED lets any number of
-- dispatchers run side by side without waiting on each other.
--
-- Who: the message's explicit recipients, else the type's subscribers (directly or through
-- a group; someone reached twice is one recipient, with the union of the channels).
-- Which channels: the type's, narrowed by the subscription. A delivery that cannot be made
-- is recorded as skipped with the reason (disabled recipient, no contact for the channel),
-- never left out silently. Expanding twice cannot double-send: delivery_once is unique.
CREATE FUNCTION msgpool.dispatch(batch_size integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  expanded integer;
BEGIN
  WITH due AS (
    SELECT m.id, m.type_key, m.recipients
      FROM msgpool.message m
     WHERE m.state = 'pending' AND m.due_at <= now()
     ORDER BY m.due_at, m.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  ),
  audience AS (
    SELECT d.id AS message_id, wanted AS recipient_key, NULL::msgpool.channel[] AS channels
      FROM due d CROSS JOIN LATERAL unnest(d.recipients) AS wanted
     WHERE d.recipients IS NOT NULL
    UNION ALL
    SELECT d.id, s.recipient_key, s.channels
      FROM due d JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.recipient_key IS NOT NULL
     WHERE d.recipients IS NULL
    UNION ALL
    SELECT d.id, gm.recipient_key, s.channels
      FROM due d
      JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.group_key IS NOT NULL
      JOIN msgpool.group_member gm ON gm.group_key = s.group_key
     WHERE d.recipients IS NULL
  ),
  targets AS (
    SELECT DISTINCT a.message_id, a.recipient_key, c AS channel
      FROM audience a
      JOIN due d ON d.id = a.message_id
      JOIN msgpool.message_type t ON t.key = d.type_key
      CROSS JOIN LATERAL unnest(t.channels) AS c
     WHERE a.channels IS NULL OR c = ANY (a.channels)
  ),
  inserted AS (
    INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, skip_reason)
    SELECT tg.message_id, tg.recipient_key, tg.channel,
           CASE WHEN why.reason IS NULL THEN 'pending' ELSE 'skipped' END::msgpool.delivery_state,
           why.reason
      FROM targets tg
      JOIN msgpool.recipient r ON r.key = tg.recipient_key
      CROSS JOIN LATERAL (SELECT CASE
          WHEN NOT r.enabled THEN 'recipient disabled'
          WHEN tg.channel = 'email' AND r.email IS NULL THEN 'recipient has no email address'
          WHEN tg.channel = 'sms' AND r.phone IS NULL THEN 'recipient has no phone number'
          WHEN tg.channel = 'webhook' AND r.webhook_url IS NULL THEN 'recipient has no webhook'
        END AS reason) AS why
    ON CONFLICT ON CONSTRAINT delivery_once DO NOTHING
    RETURNING 1
  )
  UPDATE msgpool.message m SET state = 'dispatched', dispatched_at = now()
    FROM due WHERE m.id = due.id;
  GET DIAGNOSTICS expanded = ROW_COUNT;
  RETURN expanded;
END;
$$;

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

-- Everything a worker needs to render and send one claimed delivery.
CREATE TYPE msgpool.claimed_delivery AS (
  id              bigint,
  lease_token     uuid,
  attempt         integer,
  channel         msgpool.channel,
  message_id      bigint,
  payload         jsonb,
  duplicate_count integer,
  created_at      timestamptz,
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
  webhook_secret  text
);

-- Leases up to batch_size due deliveries of one channel for `lease`, oldest due first, and
-- returns them. Leases that expired (their worker died or hung) are taken back first; one
-- that expired on its last allowed attempt goes dead instead of looping forever.
CREATE FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql
AS $$
BEGIN
  UPDATE msgpool.delivery d
     SET state = CASE WHEN d.attempts >= t.max_attempts THEN 'dead' ELSE 'pending' END::msgpool.delivery_state,
         last_error = 'lease expired: the worker sending it stopped or hung',
         lease_token = NULL, lease_deadline = NULL, next_attempt_at = now()
    FROM msgpool.message m, msgpool.message_type t
   WHERE d.state = 'sending' AND d.lease_deadline < now() AND d.channel = claim_deliveries.channel
     AND m.id = d.message_id AND t.key = m.type_key;

  RETURN QUERY
  WITH due AS (
    SELECT d.id FROM msgpool.delivery d
     WHERE d.state = 'pending' AND d.channel = claim_deliveries.channel AND d.next_attempt_at <= now()
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  ),
  claimed AS (
    UPDATE msgpool.delivery d
       SET state = 'sending', lease_token = gen_random_uuid(), lease_deadline = now() + lease,
           attempts = d.attempts + 1
      FROM due WHERE d.id = due.id
    RETURNING d.*
  )
  SELECT c.id, c.lease_token, c.attempts, c.channel, m.id, m.payload, m.duplicate_count, m.created_at,
         m.urgency, t.key::text, t.name, t.category, tpl.subject, tpl.body,
         r.key::text, r.name, r.email, r.phone, r.webhook_url, r.webhook_flavor, r.webhook_secret
    FROM claimed c
    JOIN msgpool.message m ON m.id = c.message_id
    JOIN msgpool.message_type t ON t.key = m.type_key
    JOIN msgpool.recipient r ON r.key = c.recipient_key
    LEFT JOIN msgpool.template tpl ON tpl.type_key = m.type_key AND tpl.channel = c.channel
   ORDER BY c.id;
END;
$$;

-- Writes a batch of outcomes, each only where the delivery is still leased under its token
-- (a stale worker whose lease expired cannot overwrite a newer claim), and logs each attempt.
-- outcomes: [{"id": 1, "token": "…", "outcome": "sent"|"retry"|"dead", "error": "…",
--             "provider_ref": "…", "started_at": "…", "worker": "…"}, …]
-- A retry past the type's max_attempts goes dead. Returns how many outcomes were written.
CREATE FUNCTION msgpool.record_outcomes(outcomes jsonb)
RETURNS integer
LANGUAGE sql
AS $$
  WITH o AS (
    SELECT * FROM jsonb_to_recordset(outcomes) AS x(
      id bigint, token uuid, outcome msgpool.attempt_outcome, error text, provider_ref text,
      started_at timestamptz, worker text)
  ),
  updated AS (
    UPDATE msgpool.delivery d
       SET state = CASE
             WHEN o.outcome = 'sent' THEN 'sent'
             WHEN o.outcome = 'dead' OR d.attempts >= t.max_attempts THEN 'dead'
             ELSE 'pending' END::msgpool.delivery_state,
           next_attempt_at = CASE WHEN o.outcome = 'retry' THEN now() + msgpool.backoff(d.attempts)
                                  ELSE d.next_attempt_at END,
           last_error = CASE WHEN o.outcome = 'sent' THEN d.last_error ELSE o.error END,
           provider_ref = coalesce(o.provider_ref, d.provider_ref),
           sent_at = CASE WHEN o.outcome = 'sent' THEN now() END,
           lease_token = NULL, lease_deadline = NULL
      FROM o, msgpool.message m, msgpool.message_type t
     WHERE d.id = o.id AND d.state = 'sending' AND d.lease_token = o.token
       AND m.id = d.message_id AND t.key = m.type_key
    RETURNING d.id, d.attempts, d.state
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, error, started_at, worker)
    SELECT u.id, u.attempts,
           CASE WHEN u.state = 'dead' THEN 'dead' ELSE o.outcome END,
           o.error, coalesce(o.started_at, now()), o.worker
      FROM updated u JOIN o ON o.id = u.id
    RETURNING 1
  )
  SELECT count(*)::integer FROM logged
$$;

-- The inbox channel: the inbox rows and their outcomes in one transaction, so an inbox
-- message exists exactly when its delivery is sent. Rows whose lease is gone are ignored.
-- items: [{"id": 1, "token": "…", "subject": "…", "body": "…", "started_at": "…", "worker": "…"}, …]
CREATE FUNCTION msgpool.deliver_to_inbox(items jsonb)
RETURNS integer
LANGUAGE sql
AS $$
  WITH i AS (
    SELECT * FROM jsonb_to_recordset(items) AS x(
      id bigint, token uuid, subject text, body text, started_at timestamptz, worker text)
  ),
  written AS (
    INSERT INTO msgpool.inbox (recipient_key, message_id, delivery_id, type_key, urgency, subject, body)
    SELECT d.recipient_key, m.id, d.id, m.type_key, m.urgency, i.subject, i.body
      FROM i
      JOIN msgpool.delivery d ON d.id = i.id AND d.state = 'sending' AND d.lease_token = i.token
      JOIN msgpool.message m ON m.id = d.message_id
    ON CONFLICT (delivery_id) DO NOTHING
    RETURNING delivery_id, id
  )
  SELECT msgpool.record_outcomes(coalesce(jsonb_agg(jsonb_build_object(
           'id', i.id, 'token', i.token, 'outcome', 'sent', 'provider_ref', 'inbox:' || w.id,
           'started_at', i.started_at, 'worker', i.worker)), '[]'))
    FROM written w JOIN i ON i.id = w.delivery_id
$$;

-- Heartbeat: pushes the deadline of the caller's leases out to now() + lease. Returns how
-- many leases it still held (fewer means some expired and were taken back).
CREATE FUNCTION msgpool.extend_leases(tokens uuid[], lease interval)
RETURNS integer
LANGUAGE sql
AS $$
  WITH extended AS (
    UPDATE msgpool.delivery SET lease_deadline = now() + lease
     WHERE state = 'sending' AND lease_token = ANY (tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM extended
$$;

-- Gives back deliveries claimed but not started (a worker shutting down): due at once, and
-- the claim does not count as an attempt.
CREATE FUNCTION msgpool.release_deliveries(tokens uuid[])
RETURNS integer
LANGUAGE sql
AS $$
  WITH released AS (
    UPDATE msgpool.delivery
       SET state = 'pending', lease_token = NULL, lease_deadline = NULL, next_attempt_at = now(),
           attempts = greatest(attempts - 1, 0)
     WHERE state = 'sending' AND lease_token = ANY (tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;

REVOKE ALL ON FUNCTION msgpool.dispatch(integer), msgpool.backoff(integer),
  msgpool.claim_deliveries(msgpool.channel, integer, interval), msgpool.record_outcomes(jsonb),
  msgpool.deliver_to_inbox(jsonb), msgpool.extend_leases(uuid[], interval),
  msgpool.release_deliveries(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.dispatch(integer), msgpool.backoff(integer),
  msgpool.claim_deliveries(msgpool.channel, integer, interval), msgpool.record_outcomes(jsonb),
  msgpool.deliver_to_inbox(jsonb), msgpool.extend_leases(uuid[], interval),
  msgpool.release_deliveries(uuid[]) TO msgpool_worker;
