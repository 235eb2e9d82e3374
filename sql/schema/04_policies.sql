-- When a delivery goes out: the type's send-time policy, then its quiet hours, then the
-- channel's rate limits. The first two are decided once, when a message is expanded into
-- deliveries (expand() calls schedule_delivery()), and written on the delivery:
-- next_attempt_at is when it goes out, deferred_by says which rule put it there. Rate limits
-- apply at each claim (claim_deliveries() in 09_claim.sql).
--
--   immediate     due at once
--   times_of_day  due at the next of the type's send_times in its time_zone
--   interval      at most one notification per recipient and channel per send_interval: the
--                 first goes at once, what arrives in the interval is due when it ends
--
-- A producer's deliver_at overrides the policy for its message (the message itself waits
-- until then). Urgent messages ignore every window: policy and quiet hours. Deliveries a
-- rule deferred are gathered: in digest mode (the type's default), those due together for
-- one recipient and channel go out as one digest, listing every message.

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

-- Quiet hours only for a channel the type uses, as for subscriptions and templates (MP010).
CREATE FUNCTION msgpool.quiet_hours_check_channel()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  type_channels msgpool.channel[];
BEGIN
  SELECT t.channels INTO type_channels FROM msgpool.message_type t WHERE t.key = NEW.type_key;
  IF NOT NEW.channel = ANY (type_channels) THEN
    RAISE EXCEPTION 'message type % does not use channel %', NEW.type_key, NEW.channel
      USING ERRCODE = 'MP010',
            HINT = format('%s uses %s; add the channel to the type first', NEW.type_key,
                          array_to_string(type_channels, ', '));
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER quiet_hours_check_channel BEFORE INSERT OR UPDATE ON msgpool.quiet_hours
  FOR EACH ROW EXECUTE FUNCTION msgpool.quiet_hours_check_channel();

COMMENT ON COLUMN msgpool.quiet_hours.starts IS 'Local time in the type''s time zone; the window may wrap midnight';
COMMENT ON COLUMN msgpool.quiet_hours.below IS 'Messages less urgent than this are held; from it up, they go out';

-- The interval policy's memory: when the latest notification of a type to a recipient on a
-- channel is due. Upserted by schedule_delivery(), so concurrent expanders agree. Keys are
-- plain text: copies of checked ones, written on the hot path.
CREATE TABLE msgpool.interval_slot (
  type_key      text NOT NULL,
  recipient_key text NOT NULL,
  channel       msgpool.channel NOT NULL,
  last_due_at   timestamptz NOT NULL,
  PRIMARY KEY (type_key, recipient_key, channel)
);

COMMENT ON TABLE msgpool.interval_slot IS
  'The interval policy''s memory: when the latest notification of a type to a recipient on a channel is due';

-- Rate limits, per channel:
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
COMMENT ON COLUMN msgpool.rate_limit.recipient_max IS 'At most this many sends to one recipient per recipient_window (a digest is one)';
COMMENT ON COLUMN msgpool.rate_limit.provider_per_second IS 'At most this many deliveries claimed per second, across all workers';
COMMENT ON COLUMN msgpool.rate_limit.budget_second IS 'Bookkeeping of the claims: the second budget_used counts';
COMMENT ON COLUMN msgpool.rate_limit.budget_used IS 'Bookkeeping of the claims: deliveries claimed in budget_second';

-- Chat robots' own limits: at most max_sends per window to one robot (one webhook URL), by
-- flavor, as each platform documents it. A robot over its limit refuses, and DingTalk then
-- blocks the robot for ten minutes, so the claim keeps under it: what is over waits
-- (deferred_by says which limit), and a digest-mode type's excess goes out gathered into one
-- digest; nothing is dropped. Change a row to follow the platform; delete it to lift a limit.
-- robot_send is the limits' memory: each claimed send to a limited robot, in real time
-- (providers count real seconds, whatever msgpool.clock() says).
CREATE TABLE msgpool.robot_limit (
  flavor    msgpool.webhook_flavor NOT NULL,
  max_sends integer NOT NULL CONSTRAINT robot_limit_max_sends_positive CHECK (max_sends > 0),
  per       interval NOT NULL CONSTRAINT robot_limit_per_positive CHECK (per > interval '0'),
  PRIMARY KEY (flavor, per)
);

COMMENT ON TABLE msgpool.robot_limit IS
  'Per chat-robot flavor: sends per window to one robot, as the platform allows';

INSERT INTO msgpool.robot_limit (flavor, max_sends, per) VALUES
  ('dingtalk', 20, '1 minute'),  -- 每个机器人每分钟最多发送20条 (then blocked for 10 minutes)
  ('wecom', 20, '1 minute'),     -- 每个机器人发送的消息不能超过20条/分钟
  ('feishu', 100, '1 minute'),   -- 自定义机器人: 100 次/分钟, 5 次/秒
  ('feishu', 5, '1 second'),
  ('slack', 1, '1 second');      -- incoming webhooks: one message per second

CREATE TABLE msgpool.robot_send (
  robot   text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX robot_send_recent ON msgpool.robot_send (robot, sent_at);

COMMENT ON TABLE msgpool.robot_send IS 'The robot limits'' memory: each claimed send to a limited robot (its webhook URL)';

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

COMMENT ON FUNCTION msgpool.next_send_time IS 'The first of some local times of day in a zone at or after an instant';

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

COMMENT ON FUNCTION msgpool.quiet_until IS
  'The end of the local window [starts, ends) in a zone, if an instant falls inside it; else NULL';

-- When one delivery of a message goes out, as schedule_delivery() decides it: its due time,
-- the rule that decided it in words, and whether quiet hours drop it (then deferred_by says
-- why). A row of expand() alone: no worker or program sees it.
CREATE TYPE msgpool.schedule AS (
  due_at      timestamptz,
  deferred_by text,
  dropped     boolean
);

COMMENT ON TYPE msgpool.schedule IS 'When one delivery goes out, by which rule, and whether it is dropped (inside expand())';

-- When one delivery of a message goes out: the send-time policy (unless the producer gave
-- deliver_at: `timed`), then quiet hours. Urgent: at once. Called by msgpool.expand() only
-- for deliveries a rule could touch, so immediate types without quiet hours never pay for it.
CREATE FUNCTION msgpool.schedule_delivery(
  type_key      text,
  channel       msgpool.channel,
  recipient_key text,
  urgency       msgpool.urgency,
  timed         boolean
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
  IF schedule_delivery.urgency = 'urgent' THEN
    RETURN result;
  END IF;
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = schedule_delivery.type_key;

  IF NOT timed AND t.send_policy = 'times_of_day' THEN
    result.due_at := msgpool.next_send_time(t.send_times, t.time_zone, at);
    result.deferred_by := format('send times %s (%s)', msgpool.format_times(t.send_times), t.time_zone);
  ELSIF NOT timed AND t.send_policy = 'interval' THEN
    INSERT INTO msgpool.interval_slot AS s (type_key, recipient_key, channel, last_due_at)
    VALUES (schedule_delivery.type_key, schedule_delivery.recipient_key, schedule_delivery.channel, at)
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
   WHERE qh.type_key = schedule_delivery.type_key AND qh.channel = schedule_delivery.channel
     AND schedule_delivery.urgency < qh.below;
  IF FOUND THEN
    quiet_end := msgpool.quiet_until(q.starts, q.ends, t.time_zone, result.due_at);
    IF quiet_end IS NOT NULL AND q.action = 'drop' THEN
      result.dropped := true;
      result.deferred_by := format('dropped: quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                            to_char(q.ends, 'HH24:MI'), t.time_zone, schedule_delivery.channel);
    ELSIF quiet_end IS NOT NULL THEN
      result.due_at := quiet_end;
      result.deferred_by := concat_ws(', then ', result.deferred_by,
                               format('quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                                      to_char(q.ends, 'HH24:MI'), t.time_zone, schedule_delivery.channel));
    END IF;
  END IF;
  RETURN result;
END;
$$;

COMMENT ON FUNCTION msgpool.schedule_delivery IS
  'When one delivery goes out by its type''s send policy and quiet hours, which rule decided it, and whether it is dropped';
