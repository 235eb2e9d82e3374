-- Least privilege, every grant in one place. Three group roles (NOLOGIN); grant them to your
-- services' login roles:
--   CREATE ROLE billing LOGIN PASSWORD '...' IN ROLE msgpool_producer;
--
-- msgpool_producer  may only send: msgpool.send() or INSERT INTO msgpool.message, and cancel
--                   by id. It cannot read recipients, their contacts, or anyone's messages.
-- msgpool_worker    reads the configuration, claims messages and deliveries, writes
--                   outcomes, attempts and inbox rows.
-- msgpool_admin     manages the configuration and everything above.

-- Roles are cluster-wide while the schema is per database: another database of the same
-- cluster may have created them already, maybe at this very moment.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['msgpool_producer', 'msgpool_worker', 'msgpool_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END;
$$;

GRANT USAGE ON SCHEMA msgpool TO msgpool_producer, msgpool_worker, msgpool_admin;

-- Functions are executable by PUBLIC by default; here nothing is unless granted below.
-- (Per-schema default privileges cannot take PUBLIC's away: a forward migration that adds
-- a function revokes it there.) tests/roles.rs checks that a role without grants can
-- execute no msgpool function at all.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA msgpool FROM PUBLIC;

-- admin: everything in the schema, now and in later migrations
GRANT msgpool_producer, msgpool_worker TO msgpool_admin;
GRANT ALL ON ALL TABLES IN SCHEMA msgpool TO msgpool_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA msgpool TO msgpool_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA msgpool TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT ALL ON TABLES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT ALL ON SEQUENCES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT EXECUTE ON FUNCTIONS TO msgpool_admin;

-- producer: send and cancel; the validation trigger runs with the producer's rights and
-- reads only these columns of a type; waiting_worker says whether to wake a worker.
GRANT EXECUTE ON FUNCTION
  msgpool.send(text, jsonb, text, timestamptz, text[], text, msgpool.urgency),
  msgpool.cancel(bigint),
  msgpool.check_recipients(text[]),
  msgpool.count_duplicate(text, text, bigint, timestamptz),
  msgpool.refuse_message(msgpool.message),
  msgpool.nearest_key(text, text[]),
  msgpool.did_you_mean(text, text[], text),
  msgpool.max_payload_bytes(),
  msgpool.max_deliver_at_lag(),
  msgpool.clock(),
  msgpool.absolute(interval)
  TO msgpool_producer;
GRANT INSERT (type_key, payload, dedup_key, recipients, source, urgency, deliver_at)
  ON msgpool.message TO msgpool_producer;
-- only so that INSERT ... RETURNING id works; no other column is readable
GRANT SELECT (id) ON msgpool.message TO msgpool_producer;
GRANT SELECT (key, enabled, urgency, dedup_window) ON msgpool.message_type TO msgpool_producer;
GRANT SELECT ON msgpool.waiting_worker TO msgpool_producer;

-- worker: the queue's functions, the configuration to read, and the pool to update
GRANT EXECUTE ON FUNCTION
  msgpool.dispatch(integer),
  msgpool.claim_deliveries(msgpool.channel, integer, interval),
  msgpool.dispatch_and_claim(integer, msgpool.channel[], interval),
  msgpool.defer_over_recipient_limit(msgpool.channel, integer, interval, integer),
  msgpool.schedule_delivery(text, msgpool.channel, text, msgpool.urgency, boolean),
  msgpool.record_outcomes(jsonb),
  msgpool.deliver_to_inbox(jsonb),
  msgpool.extend_leases(uuid[], interval),
  msgpool.release_deliveries(uuid[]),
  msgpool.refresh_statistics(),
  msgpool.prune(interval, integer),
  msgpool.backoff(integer),
  msgpool.next_send_time(time[], text, timestamptz),
  msgpool.quiet_until(time, time, text, timestamptz),
  msgpool.format_times(time[]),
  msgpool.clock(),
  msgpool.absolute(interval)
  TO msgpool_worker;
GRANT SELECT ON msgpool.message_type, msgpool.template, msgpool.recipient, msgpool.recipient_group,
                msgpool.group_member, msgpool.subscription, msgpool.quiet_hours,
                msgpool.status, msgpool.channel_status, msgpool.duplicates
  TO msgpool_worker;
GRANT SELECT, UPDATE ON msgpool.message, msgpool.rate_limit TO msgpool_worker;
GRANT SELECT, INSERT, UPDATE ON msgpool.delivery, msgpool.interval_slot TO msgpool_worker;
GRANT SELECT, INSERT ON msgpool.delivery_attempt, msgpool.inbox TO msgpool_worker;
GRANT USAGE ON SEQUENCE msgpool.inbox_id_seq TO msgpool_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON msgpool.waiting_worker TO msgpool_worker;
