-- Claims that respect rate limits and gather digests, and outcomes that keep a digest
-- together.
--
-- Rate limits, per channel (msgpool.rate_limit):
--   recipient_max / recipient_window   at most this many sends to one recipient per window
--                                      (e.g. 10 SMS an hour per person); a digest is one send
--   provider_per_second                at most this many deliveries claimed per second across
--                                      all workers (the provider's request rate)
-- What is over a limit is deferred, never dropped: over the recipient limit, a delivery
-- gets a later next_attempt_at and deferred_by says which limit; over the provider limit,
-- due deliveries simply wait and msgpool.channel_status shows the limit. Urgent messages
-- are exempt from the recipient limit; the provider's limit binds everyone.

CREATE TABLE msgpool.rate_limit (
  channel             msgpool.channel PRIMARY KEY,
  recipient_max       integer CONSTRAINT rate_limit_recipient_max_positive CHECK (recipient_max > 0),
  recipient_window    interval CONSTRAINT rate_limit_recipient_window_positive CHECK (recipient_window > interval '0'),
  provider_per_second integer CONSTRAINT rate_limit_provider_per_second_positive CHECK (provider_per_second > 0),
  -- the provider budget of the current second, kept by msgpool.claim_deliveries
  budget_second       timestamptz NOT NULL DEFAULT '-infinity',
  budget_used         integer NOT NULL DEFAULT 0,
  CONSTRAINT rate_limit_recipient_complete CHECK (num_nonnulls(recipient_max, recipient_window) <> 1),
  CONSTRAINT rate_limit_something CHECK (recipient_max IS NOT NULL OR provider_per_second IS NOT NULL)
);

COMMENT ON TABLE msgpool.rate_limit IS
  'Per channel: sends per recipient per window, and deliveries per second to the provider';

-- A digest's templates travel with the claim.
ALTER TYPE msgpool.claimed_delivery ADD ATTRIBUTE digest_subject text, ADD ATTRIBUTE digest_body text;

-- Moves due deliveries of a channel that would break its per-recipient limit to when the
-- oldest send in the window leaves it, saying why. Looks at what the next claim of
-- batch_size would take (urgent messages aside). Returns how many it deferred.
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

-- claim_deliveries() as in V8, plus: the clock, the channel's rate limits, and digests.
-- Deferred deliveries of a digest-mode type due together for one recipient share one lease
-- token: the worker sends them as one digest and writes the same outcome for each; all
-- but the first (the lead) record gathered_into = the lead's id.
CREATE OR REPLACE FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql
AS $$
DECLARE
  at timestamptz := msgpool.clock();
  lim msgpool.rate_limit;
  claimed_count integer;
BEGIN
  UPDATE msgpool.delivery d
     SET state = CASE WHEN d.attempts >= t.max_attempts THEN 'dead' ELSE 'pending' END::msgpool.delivery_state,
         last_error = 'lease expired: the worker sending it stopped or hung',
         lease_token = NULL, lease_deadline = NULL, next_attempt_at = at, gathered_into = NULL
    FROM msgpool.message m, msgpool.message_type t
   WHERE d.state = 'sending' AND d.lease_deadline < now() AND d.channel = claim_deliveries.channel
     AND m.id = d.message_id AND t.key = m.type_key;

  SELECT * INTO lim FROM msgpool.rate_limit r WHERE r.channel = claim_deliveries.channel;
  IF lim.provider_per_second IS NOT NULL THEN
    -- the row lock taken here makes concurrent claims of this channel share one budget
    UPDATE msgpool.rate_limit r
       SET budget_used = CASE WHEN r.budget_second = date_trunc('second', at) THEN r.budget_used ELSE 0 END,
           budget_second = date_trunc('second', at)
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
  )
  SELECT c.id, c.lease_token, c.attempts, c.channel, m.id, m.payload, m.duplicate_count, m.created_at,
         m.urgency, t.key::text, t.name, t.category, tpl.subject, tpl.body,
         r.key::text, r.name, r.email, r.phone, r.webhook_url, r.webhook_flavor, r.webhook_secret,
         tpl.digest_subject, tpl.digest_body
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

-- record_outcomes() as in V8, plus: sent_at and retries by the clock; a retry never lands in
-- quiet hours; a digest's deliveries retry together (one wait per lease token), to be
-- gathered again. plpgsql, as
-- is deliver_to_inbox() below, because it keeps its plans for the session: as LANGUAGE sql
-- both were planned on every call (deliver_to_inbox took 1.2 ms for one delivery, 0.4 now).
CREATE OR REPLACE FUNCTION msgpool.record_outcomes(outcomes jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  written integer;
BEGIN
  WITH o AS (
    SELECT * FROM jsonb_to_recordset(outcomes) AS x(
      id bigint, token uuid, outcome msgpool.attempt_outcome, error text, provider_ref text,
      started_at timestamptz, worker text)
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
             WHEN o.outcome = 'dead' OR d.attempts >= t.max_attempts THEN 'dead'
             ELSE 'pending' END::msgpool.delivery_state,
           -- a retry that would fall in the channel's quiet hours waits until they end
           next_attempt_at = CASE WHEN w.next_attempt_at IS NULL THEN d.next_attempt_at ELSE coalesce(
               (SELECT msgpool.quiet_until(q.starts, q.ends, t.time_zone, w.next_attempt_at)
                  FROM msgpool.quiet_hours q
                 WHERE q.type_key = t.key AND q.channel = d.channel AND m.urgency < q.below),
               w.next_attempt_at) END,
           last_error = CASE WHEN o.outcome = 'sent' THEN d.last_error ELSE o.error END,
           provider_ref = coalesce(o.provider_ref, d.provider_ref),
           sent_at = CASE WHEN o.outcome = 'sent' THEN msgpool.clock() END,
           gathered_into = CASE WHEN o.outcome = 'retry' THEN NULL ELSE d.gathered_into END,
           lease_token = NULL, lease_deadline = NULL
      FROM o LEFT JOIN waits w ON w.token = o.token, msgpool.message m, msgpool.message_type t
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
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;

-- deliver_to_inbox() as in V8, written out rather than through record_outcomes(): the inbox
-- is the channel of the burn-down, and building and re-reading a JSON array of outcomes cost
-- as much as the writes themselves. An item may carry the ids it gathered (a digest): one
-- inbox row, and every gathered delivery recorded sent with it. Rows whose lease is gone
-- are ignored. The inbox ids are drawn first so each delivery can name its inbox row.
-- items: [{"id": 1, "token": "…", "subject": "…", "body": "…", "gathered": [2, 3],
--          "started_at": "…", "worker": "…"}, …]
CREATE OR REPLACE FUNCTION msgpool.deliver_to_inbox(items jsonb)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  written integer;
BEGIN
  WITH i AS (
    SELECT x.*, nextval('msgpool.inbox_id_seq') AS inbox_id
      FROM jsonb_to_recordset(items) AS x(
        id bigint, token uuid, subject text, body text, started_at timestamptz, worker text, gathered bigint[])
  ),
  sends AS (
    SELECT i.id, i.token, i.inbox_id, i.started_at, i.worker FROM i
    UNION ALL
    SELECT g, i.token, i.inbox_id, i.started_at, i.worker
      FROM i CROSS JOIN LATERAL unnest(i.gathered) AS g
  ),
  sent AS (
    UPDATE msgpool.delivery d
       SET state = 'sent', sent_at = msgpool.clock(), provider_ref = 'inbox:' || s.inbox_id,
           lease_token = NULL, lease_deadline = NULL
      FROM sends s
     WHERE d.id = s.id AND d.state = 'sending' AND d.lease_token = s.token
    RETURNING d.id, d.attempts, d.recipient_key, d.message_id, s.started_at, s.worker
  ),
  inboxed AS (
    INSERT INTO msgpool.inbox (id, recipient_key, message_id, delivery_id, type_key, urgency, subject, body)
    OVERRIDING SYSTEM VALUE
    SELECT i.inbox_id, s.recipient_key, m.id, s.id, m.type_key, m.urgency, i.subject, i.body
      FROM sent s
      JOIN i ON i.id = s.id
      JOIN msgpool.message m ON m.id = s.message_id
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, started_at, worker)
    SELECT s.id, s.attempts, 'sent', coalesce(s.started_at, now()), s.worker FROM sent s
    RETURNING 1
  )
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;

-- release_deliveries() as in V8; a released digest is gathered afresh by the next claim.
CREATE OR REPLACE FUNCTION msgpool.release_deliveries(tokens uuid[])
RETURNS integer
LANGUAGE sql
AS $$
  WITH released AS (
    UPDATE msgpool.delivery
       SET state = 'pending', lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock(),
           attempts = greatest(attempts - 1, 0), gathered_into = NULL
     WHERE state = 'sending' AND lease_token = ANY (tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;

-- channel_status of V9, plus what waits on a rule and the limits in force:
-- deferred: pending deliveries a rule moved later (send times, interval, quiet hours, rate)
-- recipient_limit: e.g. '10 per 01:00:00'; provider_per_second: the provider budget
CREATE OR REPLACE VIEW msgpool.channel_status AS
SELECT c AS channel,
       (SELECT count(*) FROM msgpool.delivery d
         WHERE d.channel = c AND d.state = 'sent' AND d.sent_at > now() - interval '1 minute') AS sent_last_minute,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'pending') AS pending,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'sending') AS sending,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'dead') AS dead,
       (SELECT count(*) FROM msgpool.delivery d
         WHERE d.channel = c AND d.state = 'pending' AND d.deferred_by IS NOT NULL
           AND d.next_attempt_at > msgpool.clock()) AS deferred,
       (SELECT format('%s per %s', l.recipient_max, l.recipient_window) FROM msgpool.rate_limit l
         WHERE l.channel = c AND l.recipient_max IS NOT NULL) AS recipient_limit,
       (SELECT l.provider_per_second FROM msgpool.rate_limit l WHERE l.channel = c) AS provider_per_second
  FROM unnest(enum_range(NULL::msgpool.channel)) AS c;

REVOKE ALL ON FUNCTION msgpool.defer_over_recipient_limit(msgpool.channel, integer, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.defer_over_recipient_limit(msgpool.channel, integer, interval, integer)
  TO msgpool_worker;
GRANT SELECT, UPDATE ON msgpool.rate_limit TO msgpool_worker;
GRANT USAGE ON SEQUENCE msgpool.inbox_id_seq TO msgpool_worker;
