-- Least privilege. Three group roles (NOLOGIN); grant them to your services' login roles:
--   CREATE ROLE billing LOGIN PASSWORD '...' IN ROLE msgpool_producer;
--
-- msgpool_producer  may only send: msgpool.send() or INSERT INTO msgpool.message. It cannot
--                   read recipients, their contacts, or anyone's messages.
-- msgpool_worker    reads the configuration, claims messages and deliveries, writes
--                   outcomes, attempts and inbox rows.
-- msgpool_admin     manages the configuration and everything above.

-- Roles are cluster-wide while this migration runs per database: another database of the
-- same cluster may have created them already, maybe at this very moment.
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

-- Functions are executable by PUBLIC by default; here nothing is unless granted below.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA msgpool FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

GRANT USAGE ON SCHEMA msgpool TO msgpool_producer, msgpool_worker, msgpool_admin;

-- producer
GRANT EXECUTE ON FUNCTION msgpool.send(text, jsonb, text, timestamptz, text[], text, msgpool.urgency)
  TO msgpool_producer;
GRANT INSERT (type_key, payload, dedup_key, recipients, source, urgency, deliver_at)
  ON msgpool.message TO msgpool_producer;
-- only so that INSERT ... RETURNING id works; no other column is readable
GRANT SELECT (id) ON msgpool.message TO msgpool_producer;

-- worker
GRANT SELECT ON msgpool.message_type, msgpool.template, msgpool.recipient,
                msgpool.recipient_group, msgpool.group_member, msgpool.subscription
  TO msgpool_worker;
GRANT SELECT, UPDATE ON msgpool.message TO msgpool_worker;
GRANT SELECT, INSERT, UPDATE ON msgpool.delivery TO msgpool_worker;
GRANT SELECT, INSERT ON msgpool.delivery_attempt, msgpool.inbox TO msgpool_worker;
GRANT SELECT ON msgpool.status TO msgpool_worker;

-- admin: everything in the schema, now and in later migrations
GRANT msgpool_producer, msgpool_worker TO msgpool_admin;
GRANT ALL ON ALL TABLES IN SCHEMA msgpool TO msgpool_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA msgpool TO msgpool_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA msgpool TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT ALL ON TABLES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT ALL ON SEQUENCES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA msgpool GRANT EXECUTE ON FUNCTIONS TO msgpool_admin;
