-- msgpool's vocabulary: the schema, the enumerations and key formats every other file uses,
-- and the small helpers they share. Enumerations are ordered, so `urgency < 'urgent'`
-- means what it says.

CREATE SCHEMA IF NOT EXISTS msgpool;

COMMENT ON SCHEMA msgpool IS
  'msgpool: message types, recipients, the message pool, deliveries and the in-site inbox';

CREATE TYPE msgpool.urgency AS ENUM ('low', 'normal', 'high', 'urgent');

CREATE TYPE msgpool.channel AS ENUM ('inbox', 'email', 'sms', 'webhook');

CREATE TYPE msgpool.webhook_flavor AS ENUM ('dingtalk', 'wecom', 'feishu', 'slack', 'generic');

-- When a message of a type becomes due (see schedule_delivery() in 04_policies.sql).
CREATE TYPE msgpool.send_policy AS ENUM ('immediate', 'times_of_day', 'interval');

-- The state machines: a message's in 05_message.sql, a delivery's in 07_delivery.sql, each
-- with a table of every change at the head of its file.
CREATE TYPE msgpool.message_state AS ENUM ('pending', 'expanded', 'cancelled');

CREATE TYPE msgpool.delivery_state AS ENUM
  ('pending', 'sending', 'sent', 'dead', 'skipped', 'cancelled');

-- `throttled`: a provider asked to wait (HTTP 429 or 503 with Retry-After, a robot's
-- rate-limit code); it does not count against max_attempts.
CREATE TYPE msgpool.attempt_outcome AS ENUM ('sent', 'retry', 'dead', 'throttled');

CREATE TYPE msgpool.quiet_action AS ENUM ('defer', 'drop');

-- What a console user may do: viewer reads; operator also retries, cancels (and
-- acknowledges); admin also configures.
CREATE TYPE msgpool.console_role AS ENUM ('viewer', 'operator', 'admin');

COMMENT ON TYPE msgpool.urgency IS
  'How urgent a message is, in order: low < normal < high < urgent (urgent ignores every window)';
COMMENT ON TYPE msgpool.channel IS 'A way of telling someone: in-site inbox, email, SMS, chat webhook';
COMMENT ON TYPE msgpool.webhook_flavor IS 'Which chat platform a webhook speaks to (its body format and signing)';
COMMENT ON TYPE msgpool.send_policy IS
  'When a type''s messages go out: immediately, at set times of day, or at most once per interval';
COMMENT ON TYPE msgpool.message_state IS
  'pending (waiting to be expanded into deliveries), expanded, cancelled';
COMMENT ON TYPE msgpool.delivery_state IS
  'pending (due at next_attempt_at), sending (leased), then sent, dead (gave up), skipped (not sendable) or cancelled';
COMMENT ON TYPE msgpool.attempt_outcome IS
  'What one attempt came to; throttled (the provider asked to wait) spends no attempt';
COMMENT ON TYPE msgpool.console_role IS 'What a console user may do: viewer reads, operator also acts on messages, admin also configures';
COMMENT ON TYPE msgpool.quiet_action IS 'What quiet hours do to a delivery inside them: defer it, or drop it (recorded skipped)';

-- A message type key is what producers write in their code: dotted lowercase words,
-- e.g. `order.dispatch_backlog`. The Rust `TypeKey` accepts exactly the same strings.
CREATE DOMAIN msgpool.type_key AS text
  CONSTRAINT type_key_format CHECK (
    length(VALUE) <= 100
    AND VALUE ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'
  );

COMMENT ON DOMAIN msgpool.type_key IS 'A message type key: dotted lowercase words, e.g. order.dispatch_backlog';

-- A recipient or group key: an id from the business side, e.g. `zhang.san`, `ops-robot`,
-- `E1001`. The Rust `RecipientKey` accepts exactly the same strings.
CREATE DOMAIN msgpool.recipient_key AS text
  CONSTRAINT recipient_key_format CHECK (
    length(VALUE) <= 100
    AND VALUE ~ '^[A-Za-z0-9][A-Za-z0-9._@-]*$'
  );

COMMENT ON DOMAIN msgpool.recipient_key IS 'A recipient or group key from the business side, e.g. zhang.san, ops-robot, E1001';

-- The existing key nearest to a mistyped one (Levenshtein distance), for error hints.
-- Returns NULL when nothing is close enough to be a plausible typo. Bounded: a word longer
-- than any key gets no suggestion, and only candidates within the allowed distance by
-- length alone are compared: a stranger's long word against many keys stays cheap.
CREATE FUNCTION msgpool.nearest_key(wanted text, candidates text[])
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  best text;
  best_distance integer;
  candidate text;
  previous integer[];
  current integer[];
  i integer;
  j integer;
BEGIN
  IF wanted IS NULL OR length(wanted) > 100 THEN
    RETURN NULL;
  END IF;
  FOREACH candidate IN ARRAY coalesce(candidates, '{}') LOOP
    CONTINUE WHEN candidate IS NULL
      OR abs(length(candidate) - length(wanted)) > greatest(2, length(wanted) / 3);
    previous := ARRAY(SELECT generate_series(0, length(candidate)));
    FOR i IN 1 .. length(wanted) LOOP
      current := ARRAY[i];
      FOR j IN 1 .. length(candidate) LOOP
        current := current || least(
          previous[j + 1] + 1,
          current[j] + 1,
          previous[j] + (substr(wanted, i, 1) <> substr(candidate, j, 1))::integer
        );
      END LOOP;
      previous := current;
    END LOOP;
    IF best_distance IS NULL OR previous[length(candidate) + 1] < best_distance THEN
      best := candidate;
      best_distance := previous[length(candidate) + 1];
    END IF;
  END LOOP;
  -- More than a third of the word changed is not a typo, it is another word.
  IF best_distance IS NULL OR best_distance > greatest(2, length(wanted) / 3) THEN
    RETURN NULL;
  END IF;
  RETURN best;
END;
$$;

COMMENT ON FUNCTION msgpool.nearest_key IS
  'The candidate nearest to a mistyped key (edit distance), or NULL when none is a plausible typo';

-- The hint of every unknown-key refusal: "did you mean 'server.down'?" when a key is near
-- `wanted`, else `otherwise` (how to list or add them).
CREATE FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce('did you mean ' || quote_literal(msgpool.nearest_key(wanted, candidates)) || '?', otherwise) $$;

COMMENT ON FUNCTION msgpool.did_you_mean IS 'The hint of an unknown-key refusal: the nearest key, else how to list them';

-- True when `name` is an IANA time zone known to this server (e.g. 'Asia/Shanghai').
CREATE FUNCTION msgpool.is_time_zone(name text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = is_time_zone.name) $$;

COMMENT ON FUNCTION msgpool.is_time_zone IS 'True for an IANA time zone this server knows, e.g. Asia/Shanghai';

-- Keeps updated_at honest whoever writes the row.
CREATE FUNCTION msgpool.touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

-- One clock for every send-time and noise rule: due times, send windows, quiet hours, dedup
-- windows and rate limits all read msgpool.clock(), never now() directly. It is the
-- database's now() unless the setting msgpool.clock pins it, which is how tests (and an
-- operator asking "what would happen at 08:00?") move time without waiting:
--   SET msgpool.clock = '2026-03-08 01:30 America/New_York';
-- Leases are not rules: they stay on the real now(), so a pinned clock never expires one.
-- (msgpool.clock() itself follows.)
--
-- The pinned clock, for sessions allowed to pin it: administrators' and workers' (a worker's
-- by ALTER DATABASE or ALTER ROLE, for a test database). A producer's session cannot move
-- the pool's time: its dedup windows and due times would bind every other producer (MP015).
-- session_user, not current_user: the definer functions a send calls run as the owner.
CREATE FUNCTION msgpool.pinned_clock()
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT (pg_has_role(session_user, 'msgpool_admin', 'MEMBER')
          OR pg_has_role(session_user, 'msgpool_worker', 'MEMBER')) THEN
    RAISE EXCEPTION 'msgpool.clock is set in this session, but only administrators and workers may pin the pool''s clock'
      USING ERRCODE = 'MP015',
            HINT = 'RESET msgpool.clock; the pool keeps the database''s time';
  END IF;
  RETURN current_setting('msgpool.clock')::timestamptz;
END;
$$;

COMMENT ON FUNCTION msgpool.pinned_clock IS 'The time msgpool.clock pins, for sessions that may pin it (MP015 for others)';

CREATE FUNCTION msgpool.clock()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN current_setting('msgpool.clock', true) > '' THEN msgpool.pinned_clock() ELSE now() END $$;

COMMENT ON FUNCTION msgpool.clock IS
  'The time every send-time and noise rule reads: now(), unless the session pins msgpool.clock';

-- Intervals as absolute durations: '1 day' is 24 hours whatever the session's time zone
-- and however daylight saving moves the wall clock.
CREATE FUNCTION msgpool.absolute(span interval)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT make_interval(secs => extract(epoch FROM span)) $$;

COMMENT ON FUNCTION msgpool.absolute IS 'An interval as a fixed number of seconds (1 day = 24 hours, whatever DST does)';

-- An instant as people in `zone` read it, with the offset: "2026-12-02 23:15:17+08:00".
-- Templates get message times this way, not as UTC that reads as the wrong hour. One
-- expression without a FROM, so the planner inlines it into the claim instead of calling it
-- once per row.
CREATE FUNCTION msgpool.local_time(at timestamptz, zone text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT to_char(at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS')
         || CASE WHEN (at AT TIME ZONE zone) < (at AT TIME ZONE 'UTC') THEN '-' ELSE '+' END
         || to_char(greatest((at AT TIME ZONE zone) - (at AT TIME ZONE 'UTC'),
                             (at AT TIME ZONE 'UTC') - (at AT TIME ZONE zone)), 'HH24:MI')
$$;

COMMENT ON FUNCTION msgpool.local_time IS 'An instant as people in a zone read it, with the offset: 2026-12-02 23:15:17+08:00';

-- "08:00, 17:00"
CREATE FUNCTION msgpool.format_times(times time[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT string_agg(to_char(t, 'HH24:MI'), ', ' ORDER BY t) FROM unnest(times) t $$;

COMMENT ON FUNCTION msgpool.format_times IS 'Times of day in words: 08:00, 17:00';

-- 32 bytes from the server's strong random source (gen_random_uuid() draws on it; random()
-- would be guessable).
CREATE FUNCTION msgpool.new_inbox_secret()
RETURNS bytea
LANGUAGE sql VOLATILE
AS $$
  SELECT sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
$$;

COMMENT ON FUNCTION msgpool.new_inbox_secret IS '32 bytes from the server''s strong random source';

-- HMAC-SHA256 (RFC 2104) with the built-in sha256(), so no extension is needed.
CREATE FUNCTION msgpool.hmac_sha256(key bytea, message bytea)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
  block bytea := CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END
                 || decode(repeat('00', 64), 'hex');
  inner_pad bytea := decode(repeat('36', 64), 'hex');
  outer_pad bytea := decode(repeat('5c', 64), 'hex');
BEGIN
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(block, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(block, i) # 92);
  END LOOP;
  RETURN sha256(outer_pad || sha256(inner_pad || message));
END;
$$;

COMMENT ON FUNCTION msgpool.hmac_sha256 IS 'HMAC-SHA256 (RFC 2104) without an extension';
