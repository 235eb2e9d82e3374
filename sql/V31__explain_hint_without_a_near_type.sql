-- explain() as in V18, with the fallback hint reachable, as V23 did for recipients:
-- format('%L', NULL) is the word NULL, so a key like no other got "did you mean NULL?"
-- instead of how to list the types.
CREATE OR REPLACE FUNCTION msgpool.explain(of_type text)
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
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = of_type;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(of_type), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = coalesce('did you mean ' || quote_literal(msgpool.nearest_key(of_type,
                              ARRAY(SELECT mt.key::text FROM msgpool.message_type mt))) || '?',
                            'list types with: msgpool type list');
  END IF;
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
