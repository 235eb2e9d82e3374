-- When a delivery goes out: the type's send-time policy, then its quiet hours. Both are
-- decided once, when a message is expanded into deliveries, and written on the delivery:
-- next_attempt_at is when it goes out, deferred_by says which rule put it there.
--
--   immediate     due at once
--   times_of_day  due at the next of the type's send_times in its time_zone
--   interval      at most one notification per recipient and channel per send_interval: the
--                 first goes at once, what arrives in the interval is due when it ends
--
-- A producer's deliver_at overrides the policy for its message (the message itself waits
-- until then). Urgent messages ignore every window: policy and quiet hours.
--
-- Deliveries a rule deferred are gathered: if the type is in digest mode (the default),
-- those due together for one recipient and channel go out as one digest, listing every
-- message (see msgpool.claim_deliveries in V16). With digest off they go one by one.

CREATE TYPE msgpool.quiet_action AS ENUM ('defer', 'drop');

ALTER TABLE msgpool.message_type
  ADD COLUMN digest boolean NOT NULL DEFAULT true;

COMMENT ON COLUMN msgpool.message_type.digest IS
  'Deferred deliveries due together for one recipient and channel go out as one digest (true) or one by one';

-- The digest's own template, given the list of messages; NULL: the built-in digest, which
-- lists each message rendered by the channel's template.
ALTER TABLE msgpool.template
  ADD COLUMN digest_subject text,
  ADD COLUMN digest_body text CONSTRAINT template_digest_body_present CHECK (digest_body <> '');

-- No <channel> for <type> between starts and ends (local time in the type's time zone; the
-- window may wrap midnight), for messages less urgent than `below`. A delivery falling
-- inside is deferred to the end of the window or dropped (recorded as skipped, with why).
CREATE TABLE msgpool.quiet_hours (
  type_key msgpool.type_key NOT NULL
           REFERENCES msgpool.message_type (key) ON UPDATE CASCADE ON DELETE CASCADE,
  channel  msgpool.channel NOT NULL,
  starts   time NOT NULL,
  ends     time NOT NULL,
  below    msgpool.urgency NOT NULL DEFAULT 'urgent',
  action   msgpool.quiet_action NOT NULL DEFAULT 'defer',
  PRIMARY KEY (type_key, channel),
  CONSTRAINT quiet_hours_not_empty CHECK (starts <> ends)
);

COMMENT ON TABLE msgpool.quiet_hours IS
  'Per type and channel: no deliveries below an urgency between two local times (defer or drop)';

-- The interval policy's memory: when the latest notification of a type to a recipient on a
-- channel is due. Upserted by msgpool.schedule_delivery, so concurrent dispatchers agree.
CREATE TABLE msgpool.interval_slot (
  type_key      text NOT NULL,
  recipient_key text NOT NULL,
  channel       msgpool.channel NOT NULL,
  last_due_at   timestamptz NOT NULL,
  PRIMARY KEY (type_key, recipient_key, channel)
);

ALTER TABLE msgpool.delivery
  -- the rule that put next_attempt_at in the future, in words; NULL: due when made
  ADD COLUMN deferred_by text,
  -- set on deliveries that may be gathered into a digest: their type's key
  ADD COLUMN gather_key text,
  -- a delivery sent inside another's digest: that delivery's id
  ADD COLUMN gathered_into bigint;

-- "08:00, 17:00"
CREATE FUNCTION msgpool.format_times(times time[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT string_agg(to_char(t, 'HH24:MI'), ', ' ORDER BY t) FROM unnest(times) t $$;

-- The first of `times` (local times of day in `zone`) at or after `after`. Local times are
-- turned into instants day by day, so daylight saving moves them with the wall clock; a time
-- that does not exist on a spring-forward day is read as standard time (PostgreSQL's rule).
CREATE FUNCTION msgpool.next_send_time(times time[], zone text, after timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT min(instant)
    FROM unnest(times) t,
         generate_series(0, 2) AS k,
         LATERAL (SELECT (((after AT TIME ZONE zone)::date + k) + t) AT TIME ZONE zone AS instant) i
   WHERE instant >= after
$$;

-- If `at` falls inside the local window [starts, ends) in `zone` (which may wrap midnight),
-- the instant that window ends; otherwise NULL.
CREATE FUNCTION msgpool.quiet_until(starts time, ends time, zone text, at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
           WHEN starts < ends AND local_time >= starts AND local_time < ends THEN (local_day + ends) AT TIME ZONE zone
           WHEN starts > ends AND local_time >= starts THEN (local_day + 1 + ends) AT TIME ZONE zone
           WHEN starts > ends AND local_time < ends THEN (local_day + ends) AT TIME ZONE zone
         END
    FROM (SELECT (at AT TIME ZONE zone)::time AS local_time, (at AT TIME ZONE zone)::date AS local_day) l
$$;

CREATE TYPE msgpool.schedule AS (
  due_at      timestamptz,
  deferred_by text,     -- the rule, in words; with dropped, why it was dropped
  dropped     boolean
);

-- When one delivery of a message goes out: the send-time policy (unless the producer gave
-- deliver_at), then quiet hours. Urgent: at once. Called by msgpool.dispatch() only for
-- deliveries a rule could touch, so immediate types without quiet hours never pay for it.
CREATE FUNCTION msgpool.schedule_delivery(
  of_type        text,
  on_channel     msgpool.channel,
  for_recipient  text,
  at_urgency     msgpool.urgency,
  producer_timed boolean
)
RETURNS msgpool.schedule
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  at timestamptz := msgpool.clock();
  t msgpool.message_type;
  q msgpool.quiet_hours;
  result msgpool.schedule := ROW(at, NULL, false);
  quiet_end timestamptz;
BEGIN
  IF at_urgency = 'urgent' THEN
    RETURN result;
  END IF;
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = of_type;

  IF NOT producer_timed AND t.send_policy = 'times_of_day' THEN
    result.due_at := msgpool.next_send_time(t.send_times, t.time_zone, at);
    result.deferred_by := format('send times %s (%s)', msgpool.format_times(t.send_times), t.time_zone);
  ELSIF NOT producer_timed AND t.send_policy = 'interval' THEN
    INSERT INTO msgpool.interval_slot AS s (type_key, recipient_key, channel, last_due_at)
    VALUES (of_type, for_recipient, on_channel, at)
    ON CONFLICT ON CONSTRAINT interval_slot_pkey DO UPDATE SET last_due_at = CASE
        -- the last one is an interval ago or more: this one goes at once
        WHEN s.last_due_at + msgpool.absolute(t.send_interval) <= at THEN at
        -- a gathering is already due later: join it
        WHEN s.last_due_at > at THEN s.last_due_at
        -- one went out less than an interval ago: gather until the interval ends
        ELSE s.last_due_at + msgpool.absolute(t.send_interval)
      END
    RETURNING s.last_due_at INTO result.due_at;
    result.deferred_by := format('at most one every %s per recipient and channel', t.send_interval);
  END IF;
  IF result.due_at <= at THEN
    result.deferred_by := NULL;
  END IF;

  SELECT * INTO q FROM msgpool.quiet_hours qh
   WHERE qh.type_key = of_type AND qh.channel = on_channel AND at_urgency < qh.below;
  IF FOUND THEN
    quiet_end := msgpool.quiet_until(q.starts, q.ends, t.time_zone, result.due_at);
    IF quiet_end IS NOT NULL AND q.action = 'drop' THEN
      result.dropped := true;
      result.deferred_by := format('dropped: quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                                   to_char(q.ends, 'HH24:MI'), t.time_zone, on_channel);
    ELSIF quiet_end IS NOT NULL THEN
      result.due_at := quiet_end;
      result.deferred_by := concat_ws(', then ', result.deferred_by,
                                      format('quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                                             to_char(q.ends, 'HH24:MI'), t.time_zone, on_channel));
    END IF;
  END IF;
  RETURN result;
END;
$$;

-- msgpool.dispatch() as in V12, with each delivery scheduled by the rules above. Deliveries
-- that cannot be made are skipped before scheduling, so they use no interval slot.
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
      JOIN msgpool.recipient r ON r.key = tg.recipient_key
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

REVOKE ALL ON FUNCTION msgpool.format_times(time[]), msgpool.next_send_time(time[], text, timestamptz),
  msgpool.quiet_until(time, time, text, timestamptz),
  msgpool.schedule_delivery(text, msgpool.channel, text, msgpool.urgency, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.format_times(time[]), msgpool.next_send_time(time[], text, timestamptz),
  msgpool.quiet_until(time, time, text, timestamptz),
  msgpool.schedule_delivery(text, msgpool.channel, text, msgpool.urgency, boolean) TO msgpool_worker;
GRANT SELECT ON msgpool.quiet_hours TO msgpool_worker;
GRANT SELECT, INSERT, UPDATE ON msgpool.interval_slot TO msgpool_worker;
