-- What operators look at and do: how the pool is doing, repeated messages, a second chance
-- for deliveries that gave up, cancelling a message, pruning old history, and a type's
-- rules in words.

-- One row that says how the pool is doing:
--   SELECT * FROM msgpool.status;
-- messages/deliveries: count per state, e.g. {"pending": 3, "expanded": 120}
-- oldest_due_age: how long the longest-waiting due work (message or delivery) has waited
-- dead: deliveries that gave up and need a person
CREATE VIEW msgpool.status AS
SELECT
  (SELECT coalesce(jsonb_object_agg(state, n ORDER BY state), '{}')
     FROM (SELECT state, count(*) AS n FROM msgpool.message GROUP BY state) m) AS messages,
  (SELECT coalesce(jsonb_object_agg(state, n ORDER BY state), '{}')
     FROM (SELECT state, count(*) AS n FROM msgpool.delivery GROUP BY state) d) AS deliveries,
  (SELECT msgpool.clock() - min(due)
     FROM (SELECT min(due_at) AS due FROM msgpool.message
            WHERE state = 'pending' AND due_at <= msgpool.clock()
           UNION ALL
           SELECT min(next_attempt_at) FROM msgpool.delivery
            WHERE state = 'pending' AND next_attempt_at <= msgpool.clock()) w) AS oldest_due_age,
  (SELECT count(*) FROM msgpool.delivery WHERE state = 'dead') AS dead;

COMMENT ON VIEW msgpool.status IS 'How the pool is doing, in one row: messages and deliveries per state, the oldest due wait, dead deliveries';

-- One row per channel:
--   SELECT * FROM msgpool.channel_status;
-- sent_last_minute: deliveries sent in the last 60 s (throughput)
-- due: pending deliveries whose time has come (waiting for a worker)
-- pending / sending / dead: deliveries waiting, leased to a worker now, given up
-- deferred: pending deliveries a rule moved later (send times, interval, quiet hours, rate)
-- recipient_limit: e.g. '10 per 01:00:00'; provider_per_second: the provider budget
CREATE VIEW msgpool.channel_status AS
SELECT c AS channel,
       (SELECT count(*) FROM msgpool.delivery d
         WHERE d.channel = c AND d.state = 'sent' AND d.sent_at > now() - interval '1 minute') AS sent_last_minute,
       (SELECT count(*) FROM msgpool.delivery d
         WHERE d.channel = c AND d.state = 'pending' AND d.next_attempt_at <= msgpool.clock()) AS due,
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

COMMENT ON VIEW msgpool.channel_status IS 'Per channel: sent in the last minute, due, pending, sending, dead, deferred, limits';

-- Deliveries sent per channel in each of the last 60 minutes (minute 0 is the current one),
-- zeros included: the console's chart of the last hour.
CREATE VIEW msgpool.sent_per_minute AS
SELECT c AS channel, ago.minute, count(d.id) AS sent
  FROM unnest(enum_range(NULL::msgpool.channel)) AS c
 CROSS JOIN generate_series(0, 59) AS ago(minute)
  LEFT JOIN msgpool.delivery d
    ON d.state = 'sent' AND d.channel = c AND d.sent_at > now() - interval '1 hour'
   AND floor(extract(epoch FROM now() - d.sent_at) / 60)::integer = ago.minute
 GROUP BY c, ago.minute;

COMMENT ON VIEW msgpool.sent_per_minute IS 'Deliveries sent per channel in each of the last 60 minutes (0: the current one), zeros included';

-- What each worker sees of the destinations it sends to (a webhook's host, the SMS gateway,
-- the SMTP server): sends in flight and the adaptive limit on them, recent latency, and a
-- pause a provider asked for (429 or 503 with Retry-After), with why. Each worker replaces
-- its own rows every few seconds (report_destinations()); rows of a worker that stopped
-- reporting are left out of msgpool.destinations and replaced when a worker of that name
-- reports again.
CREATE TABLE msgpool.destination_report (
  worker       text NOT NULL,
  channel      msgpool.channel NOT NULL,
  destination  text NOT NULL,
  in_flight    integer NOT NULL,
  flight_limit integer NOT NULL,
  latency_ms   double precision,
  paused_until timestamptz,
  paused_why   text,
  sent         bigint NOT NULL,
  failed       bigint NOT NULL,
  reported_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (worker, channel, destination)
);

COMMENT ON TABLE msgpool.destination_report IS
  'What each worker last reported of its destinations (report_destinations()); read msgpool.destinations';

-- What a worker reports of one destination: a row of report_destinations()'s JSON array.
CREATE TYPE msgpool.destination_figures AS (
  channel      msgpool.channel,
  destination  text,
  in_flight    integer,
  flight_limit integer,
  latency_ms   double precision,
  paused_until timestamptz,
  paused_why   text,
  sent         bigint,
  failed       bigint
);

COMMENT ON TYPE msgpool.destination_figures IS 'What a worker sees of one destination: in flight, its limit, latency, a pause';

CREATE FUNCTION msgpool.report_destinations(worker text, destinations jsonb)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  DELETE FROM msgpool.destination_report r WHERE r.worker = report_destinations.worker;
  INSERT INTO msgpool.destination_report
         (worker, channel, destination, in_flight, flight_limit, latency_ms, paused_until,
          paused_why, sent, failed)
  SELECT report_destinations.worker, x.channel, x.destination, x.in_flight, x.flight_limit,
         x.latency_ms, x.paused_until, x.paused_why, x.sent, x.failed
    FROM jsonb_populate_recordset(NULL::msgpool.destination_figures, destinations) AS x;
$$;

COMMENT ON FUNCTION msgpool.report_destinations IS
  'Replaces a worker''s figures per destination (msgpool.destination_figures rows as JSON)';

-- Destinations across the workers that reported in the last 30 seconds:
--   SELECT * FROM msgpool.destinations;
-- in_flight and flight_limit are summed over workers; latency_ms is the slowest worker's;
-- paused_until is set while any worker holds the destination paused.
CREATE VIEW msgpool.destinations AS
SELECT r.channel, r.destination, count(*) AS workers, sum(r.in_flight) AS in_flight,
       sum(r.flight_limit) AS flight_limit, max(r.latency_ms) AS latency_ms,
       max(r.paused_until) FILTER (WHERE r.paused_until > now()) AS paused_until,
       (array_agg(r.paused_why ORDER BY r.paused_until DESC NULLS LAST)
          FILTER (WHERE r.paused_until > now()))[1] AS paused_why,
       sum(r.sent) AS sent, sum(r.failed) AS failed
  FROM msgpool.destination_report r
 WHERE r.reported_at > now() - interval '30 seconds'
 GROUP BY r.channel, r.destination;

COMMENT ON VIEW msgpool.destinations IS 'Per destination, across the workers that reported in the last 30 s: in flight, limits, latency, pauses';

-- Open messages that have been repeated, noisiest first: "server.down ×37".
--   SELECT * FROM msgpool.duplicates;
CREATE VIEW msgpool.duplicates AS
SELECT m.type_key, d.dedup_key, m.id AS message_id, m.duplicate_count, m.created_at, m.last_seen_at,
       d.closes_at
  FROM msgpool.dedup d
  JOIN msgpool.message m ON m.id = d.message_id
 WHERE d.closes_at > msgpool.clock() AND m.duplicate_count > 0 AND m.state <> 'cancelled'
 ORDER BY m.duplicate_count DESC, m.last_seen_at DESC;

COMMENT ON VIEW msgpool.duplicates IS 'Open messages that were repeated, noisiest first';

-- Re-queues dead deliveries: the ones named by id, or all matching the filters given
-- (all NULL: every dead delivery), but never those of a cancelled message. They get a fresh
-- set of attempts, due at once; their last error stays visible until the next attempt.
-- Returns how many were re-queued. A named id that is not a dead delivery is MP016, an
-- unknown type MP001, an unknown recipient MP005: "re-queued 0" is kept for a filter that
-- matches nothing dead.
CREATE FUNCTION msgpool.retry_deliveries(
  ids           bigint[] DEFAULT NULL,
  type_key      text DEFAULT NULL,
  recipient_key text DEFAULT NULL,
  channel       msgpool.channel DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  named bigint;
  found_state text;
  requeued integer;
BEGIN
  IF retry_deliveries.type_key IS NOT NULL THEN
    PERFORM msgpool.require_type(retry_deliveries.type_key);
  END IF;
  IF retry_deliveries.recipient_key IS NOT NULL THEN
    PERFORM msgpool.require_recipient(retry_deliveries.recipient_key);
  END IF;
  -- the first named id that is not a dead delivery, in one look at all of them
  SELECT w.id, CASE WHEN d.id IS NULL THEN NULL
                    WHEN m.state = 'cancelled' THEN 'of a cancelled message'
                    ELSE d.state::text END
    INTO named, found_state
    FROM unnest(retry_deliveries.ids) AS w(id)
    LEFT JOIN msgpool.delivery d ON d.id = w.id
    LEFT JOIN msgpool.message m ON m.id = d.message_id
   WHERE d.id IS NULL OR d.state <> 'dead' OR m.state = 'cancelled'
   ORDER BY w.id
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%', CASE WHEN found_state IS NULL THEN format('no delivery %s', named)
                              ELSE format('delivery %s is %s, not dead', named, found_state) END
      USING ERRCODE = 'MP016',
            HINT = 'only dead deliveries are re-queued; msgpool deliveries --state dead lists them with their ids';
  END IF;
  WITH requeued AS (
    UPDATE msgpool.delivery d
       SET state = 'pending', attempts = 0, next_attempt_at = now()
      FROM msgpool.message m
     WHERE m.id = d.message_id
       AND d.state = 'dead' AND m.state <> 'cancelled'
       AND (retry_deliveries.ids IS NULL OR d.id = ANY (retry_deliveries.ids))
       AND (retry_deliveries.type_key IS NULL OR m.type_key = retry_deliveries.type_key)
       AND (retry_deliveries.recipient_key IS NULL OR d.recipient_key = retry_deliveries.recipient_key)
       AND (retry_deliveries.channel IS NULL OR d.channel = retry_deliveries.channel)
    RETURNING 1
  )
  SELECT count(*)::integer INTO requeued FROM requeued;
  RETURN requeued;
END;
$$;

COMMENT ON FUNCTION msgpool.retry_deliveries IS
  'Re-queues dead deliveries (by id, or all matching the filters) with fresh attempts; returns how many';

-- Cancelling a message ("the server is back, forget that alert"):
--   SELECT msgpool.cancel(42);
-- Its unsent deliveries become cancelled, what was sent stays as history, and its dedup key
-- closes, so the next message with that key opens a new one. A delivery being sent at this
-- moment finishes. Returns how many deliveries it cancelled. A producer may cancel only the
-- messages its own login role sent; another's is, to it, as an unknown id: MP011.
-- SECURITY DEFINER: producers may cancel by id without reading the pool.
CREATE FUNCTION msgpool.cancel(message_id bigint)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cancelled integer;
BEGIN
  -- waits for an expander expanding it, so the deliveries it made are cancelled too
  PERFORM FROM msgpool.message m
   WHERE m.id = cancel.message_id AND (m.sent_by = session_user OR msgpool.is_admin())
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no message % of %', coalesce(cancel.message_id::text, 'NULL'),
        CASE WHEN msgpool.is_admin() THEN 'the pool' ELSE session_user::text END
      USING ERRCODE = 'MP011',
            HINT = 'msgpool.send() returns the id; a producer cancels only what its own login role sent';
  END IF;
  UPDATE msgpool.message m SET state = 'cancelled'
   WHERE m.id = cancel.message_id AND m.state IN ('pending', 'expanded');
  UPDATE msgpool.delivery d SET state = 'cancelled', deferred_by = NULL
   WHERE d.message_id = cancel.message_id AND d.state = 'pending';
  GET DIAGNOSTICS cancelled = ROW_COUNT;
  DELETE FROM msgpool.dedup dd WHERE dd.message_id = cancel.message_id;
  RETURN cancelled;
END;
$$;

COMMENT ON FUNCTION msgpool.cancel IS
  'Cancels a message: its unsent deliveries stop, sent ones stay as history, its dedup key closes';

-- Retention: deletes up to batch_size messages created more than older_than ago that are
-- finished (expanded or cancelled) and have no delivery pending or in flight, with
-- their deliveries and attempt log (message_deleted()), oldest first, and forgets dedup
-- keys closed for longer than older_than. SKIP LOCKED: it never waits on a worker. Returns
-- how many messages went; `msgpool prune` and the worker's housekeeping call it until it
-- returns less than its batch. The inbox is not pruned: each row is its own copy.
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
  DELETE FROM msgpool.dedup d
   WHERE d.ctid = ANY (ARRAY(SELECT x.ctid FROM msgpool.dedup x
                              WHERE x.closes_at < msgpool.clock() - older_than LIMIT batch_size));
  -- robot sends past every robot limit's window are no longer counted
  DELETE FROM msgpool.robot_send s
   WHERE s.sent_at < now() - (SELECT coalesce(max(l.per), interval '0') FROM msgpool.robot_limit l);
  RETURN pruned;
END;
$$;

COMMENT ON FUNCTION msgpool.prune IS 'Deletes up to batch_size finished messages older than older_than, with their history; returns how many';

-- A type's send-time and noise rules in words, with when a message sent now would go out:
--   SELECT * FROM msgpool.explain('report.ready');
-- `msgpool type show KEY` prints these lines. Times are in the type's time zone.
CREATE FUNCTION msgpool.explain(type_key text)
RETURNS SETOF text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  at timestamptz := msgpool.clock();
  t msgpool.message_type;
  q record;
  l record;
  due timestamptz;
  local_format constant text := 'YYYY-MM-DD HH24:MI';
BEGIN
  PERFORM msgpool.require_type(explain.type_key);
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = explain.type_key;
  IF NOT t.enabled THEN
    RETURN NEXT 'Disabled: producers are refused (MP002); what is already in the pool still goes out.';
  END IF;

  IF t.urgency = 'urgent' THEN
    RETURN NEXT 'Urgent: every message goes out at once on every channel; no window holds it.';
  ELSIF t.send_policy = 'immediate' THEN
    RETURN NEXT 'Immediate: a message sent now goes out at once.';
  ELSIF t.send_policy = 'times_of_day' THEN
    due := msgpool.next_send_time(t.send_times, t.time_zone, at);
    RETURN NEXT format('Sent at %s (%s): a message sent now (%s) would go out at %s, in %s.',
      msgpool.format_times(t.send_times), t.time_zone, to_char(at AT TIME ZONE t.time_zone, local_format),
      to_char(due AT TIME ZONE t.time_zone, local_format), justify_hours(date_trunc('minute', due - at)));
  ELSE
    RETURN NEXT format('At most one every %s per recipient and channel: a message sent now goes out at once '
      'unless one went to that recipient less than %s ago; then it waits until that interval ends.',
      t.send_interval, t.send_interval);
  END IF;
  IF t.urgency < 'urgent' AND t.send_policy <> 'immediate' THEN
    RETURN NEXT CASE WHEN t.digest
      THEN 'Digest: messages waiting for the same time go to each recipient as one digest listing them all.'
      ELSE 'One by one: messages waiting for the same time go out separately.' END;
  END IF;
  IF t.urgency < 'urgent' THEN
    RETURN NEXT 'A producer''s deliver_at overrides the send policy; urgent messages ignore it and quiet hours.';
  END IF;

  FOR q IN SELECT * FROM msgpool.quiet_hours qh WHERE qh.type_key = t.key ORDER BY qh.channel LOOP
    CONTINUE WHEN t.urgency >= q.below;
    due := msgpool.quiet_until(q.starts, q.ends, t.time_zone, at);
    RETURN NEXT format('Quiet hours for %s: %s-%s (%s) below %s; a delivery inside is %s.%s',
      q.channel, to_char(q.starts, 'HH24:MI'), to_char(q.ends, 'HH24:MI'), t.time_zone, q.below,
      CASE q.action WHEN 'defer' THEN 'deferred to the end of the window' ELSE 'dropped (recorded as skipped)' END,
      CASE WHEN due IS NULL THEN ''
           WHEN q.action = 'defer' THEN format(' It is quiet now: %s would wait until %s.', q.channel,
                                               to_char(due AT TIME ZONE t.time_zone, local_format))
           ELSE format(' It is quiet now: %s would be dropped.', q.channel) END);
  END LOOP;

  FOR l IN SELECT * FROM msgpool.rate_limit r WHERE r.channel = ANY (t.channels) ORDER BY r.channel LOOP
    IF l.recipient_max IS NOT NULL AND t.urgency = 'urgent' THEN
      RETURN NEXT format('Rate limit for %s: none for this type (urgent messages are exempt from %s per recipient per %s).',
        l.channel, l.recipient_max, l.recipient_window);
    ELSIF l.recipient_max IS NOT NULL THEN
      RETURN NEXT format('Rate limit for %s: at most %s per recipient per %s; more waits, never dropped.',
        l.channel, l.recipient_max, l.recipient_window);
    END IF;
    IF l.provider_per_second IS NOT NULL THEN
      RETURN NEXT format('Provider limit for %s: %s deliveries per second for all types.', l.channel,
                         l.provider_per_second);
    END IF;
  END LOOP;

  RETURN NEXT CASE WHEN t.dedup_window > interval '0'
    THEN format('Dedup: the same dedup key within %s of the first is counted on the open message, not sent again.',
                t.dedup_window)
    ELSE 'Dedup: off (dedup_window is 0).' END;
END;
$$;

COMMENT ON FUNCTION msgpool.explain IS 'A type''s send-time and noise rules in words, with when a message sent now would go out';
