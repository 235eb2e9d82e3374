-- One clock for every send-time and noise rule: due times, send windows, quiet hours, dedup
-- windows and rate limits all read msgpool.clock(), never now() directly. It is the
-- database's now() unless the setting msgpool.clock pins it, which is how tests (and an
-- operator asking "what would happen at 08:00?") move time without waiting:
--   SET msgpool.clock = '2026-03-08 01:30 America/New_York';
--   ALTER DATABASE app_test SET msgpool.clock = '...';   -- for new sessions, e.g. a worker
-- Leases are not rules: they stay on the real now(), so a pinned clock never expires one.
CREATE FUNCTION msgpool.clock()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(nullif(current_setting('msgpool.clock', true), '')::timestamptz, now()) $$;

-- Intervals as absolute durations: '1 day' is 24 hours whatever the session's time zone
-- and however daylight saving moves the wall clock.
CREATE FUNCTION msgpool.absolute(span interval)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT make_interval(secs => extract(epoch FROM span)) $$;

REVOKE ALL ON FUNCTION msgpool.clock(), msgpool.absolute(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.clock(), msgpool.absolute(interval)
  TO msgpool_producer, msgpool_worker;
