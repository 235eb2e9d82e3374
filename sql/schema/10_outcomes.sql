-- Recording: how each attempt went, written back by the worker in batches (the inbox channel
-- writes its own, with its rows: deliver_to_inbox() in 11_inbox.sql).

-- Writes a batch of outcomes (msgpool.outcome rows, as a JSON array of objects with its
-- keys), each only where the delivery is still leased under its token (a stale worker whose
-- lease expired cannot overwrite a newer claim), and logs each attempt:
--   sent       sent; its error is cleared
--   retry      due again after backoff(), never inside the channel's quiet hours; dead past
--              the type's max_attempts
--   dead       dead at once
--   throttled  the provider asked to wait: due after wait_ms, no attempt spent, deferred_by
--              says who asked
-- A lease that ends unsent goes where unsent_state() says (cancelled with its message). A
-- digest's deliveries retry together (one wait per lease token), to be gathered again.
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
    SELECT * FROM jsonb_populate_recordset(NULL::msgpool.outcome, outcomes)
  ),
  waits AS (
    SELECT o.lease_token, msgpool.clock() + msgpool.backoff(max(d.attempts)) AS next_attempt_at
      FROM o JOIN msgpool.delivery d ON d.id = o.id
     WHERE o.outcome = 'retry'
     GROUP BY o.lease_token
  ),
  updated AS (
    UPDATE msgpool.delivery d
       SET state = CASE WHEN o.outcome = 'sent' THEN 'sent'::msgpool.delivery_state
                        ELSE msgpool.unsent_state(m.state, o.outcome = 'dead',
                                                  o.outcome <> 'throttled' AND d.attempts >= t.max_attempts) END,
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
                             WHEN o.outcome = 'throttled' THEN d.last_error
                             ELSE coalesce(o.error, 'the worker gave no reason') END,
           deferred_by = CASE WHEN o.outcome = 'throttled' THEN o.error ELSE d.deferred_by END,
           provider_ref = coalesce(o.provider_ref, d.provider_ref),
           sent_at = CASE WHEN o.outcome = 'sent' THEN msgpool.clock() END,
           gathered_into = CASE WHEN o.outcome IN ('retry', 'throttled') THEN NULL ELSE d.gathered_into END,
           lease_token = NULL, lease_deadline = NULL
      FROM o LEFT JOIN waits w ON w.lease_token = o.lease_token, msgpool.message m, msgpool.message_type t
     WHERE d.id = o.id AND d.state = 'sending' AND d.lease_token = o.lease_token
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

COMMENT ON FUNCTION msgpool.record_outcomes IS
  'Writes a worker''s outcomes (msgpool.outcome rows as JSON) under their lease tokens, and logs each attempt';
