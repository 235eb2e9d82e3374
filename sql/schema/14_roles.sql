-- Least privilege, every grant in one place. Group roles (NOLOGIN); grant them to your
-- services' login roles:
--   CREATE ROLE billing LOGIN PASSWORD '...' IN ROLE msgpool_producer;
--
-- msgpool_producer  may only send: msgpool.send() or INSERT INTO msgpool.message, and cancel
--                   its own messages. It cannot read recipients, their contacts, or anyone's
--                   messages.
-- msgpool_worker    claims deliveries and writes outcomes, through the queue's functions.
-- msgpool_inbox     reads and marks read one recipient's inbox, through the functions that
--                   check that recipient's signed token (the console's inbox pages).
-- msgpool_admin     manages the configuration and everything above: reads and writes the
--                   tables' rows, but may not create triggers, references or truncate.
-- msgpool_console   the console's login: an administrator that may say which console user
--                   it acts for, so the audit names the person.
-- msgpool_owner     owns every object, so that the functions that run with the owner's rights
--                   (SECURITY DEFINER) run with these rights and no more: not a superuser's,
--                   and nobody logs in as it.

-- Roles are cluster-wide while the schema is per database: another database of the same
-- cluster may have created them already, maybe at this very moment.
DO $$
DECLARE
  role_name text;
BEGIN
  FOREACH role_name IN ARRAY ARRAY['msgpool_producer', 'msgpool_worker', 'msgpool_inbox', 'msgpool_admin',
                                    'msgpool_console', 'msgpool_owner'] LOOP
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

GRANT USAGE ON SCHEMA msgpool TO msgpool_producer, msgpool_worker, msgpool_inbox, msgpool_admin;
-- whoever migrates must be able to hand the objects to the owner (a superuser is; a role
-- with CREATEROLE grants it to itself)
DO $$
BEGIN
  IF NOT pg_has_role(current_user, 'msgpool_owner', 'MEMBER') THEN
    EXECUTE format('GRANT msgpool_owner TO %I', current_user);
  END IF;
END;
$$;

-- A login role with exactly one group role's rights, made on first use and given `password`
-- (`msgpool db url --role producer`). Needs the rights to create roles.
CREATE FUNCTION msgpool.make_login(login text, group_role text, password text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  IF group_role NOT IN ('msgpool_producer', 'msgpool_worker', 'msgpool_inbox', 'msgpool_admin',
                        'msgpool_console') THEN
    RAISE EXCEPTION 'no msgpool role %', quote_literal(group_role)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'one of msgpool_producer, msgpool_worker, msgpool_inbox, msgpool_admin, msgpool_console';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = login) THEN
    EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', login, password);
  ELSE
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', login, password, group_role);
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.make_login IS 'Makes (or re-passwords) a login role with exactly one msgpool group role''s rights';

-- Functions are executable by PUBLIC by default; here nothing is unless granted below.
-- (Per-schema default privileges cannot take PUBLIC's away: a forward migration that adds
-- a function revokes it there.) tests/roles.rs checks that a role without grants can
-- execute no msgpool function at all.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA msgpool FROM PUBLIC;

-- admin: the rows of every table and the functions, now and in later migrations; it may
-- act as the producer, worker and inbox roles. Not TRIGGER, REFERENCES or TRUNCATE: a
-- trigger of its own on the pool's tables would run inside the owner's functions.
GRANT msgpool_producer, msgpool_worker, msgpool_inbox TO msgpool_admin;
GRANT msgpool_admin TO msgpool_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA msgpool TO msgpool_admin;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA msgpool TO msgpool_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA msgpool TO msgpool_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool
  GRANT USAGE, SELECT ON SEQUENCES TO msgpool_admin;
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool
  GRANT EXECUTE ON FUNCTIONS TO msgpool_admin;

-- The history and the door's limits are not the admin's to rewrite: the audit only grows,
-- and the settings keep their one row.
REVOKE INSERT, UPDATE, DELETE ON msgpool.audit FROM msgpool_admin;
REVOKE INSERT, DELETE ON msgpool.settings FROM msgpool_admin;

-- producer: send and cancel its own. The validation trigger runs with the producer's rights:
-- it reads these columns of a type and the door's limits, and asks whether a worker waits.
-- Named recipients, sources and dedup keys are checked with the owner's rights.
GRANT EXECUTE ON FUNCTION
  msgpool.send(text, jsonb, text, timestamptz, text[], text, msgpool.urgency),
  msgpool.cancel(bigint),
  msgpool.is_admin(),
  msgpool.check_source(text),
  msgpool.refuse_message(msgpool.message),
  msgpool.too_deep(jsonb),
  msgpool.did_you_mean(text, text[], text),
  msgpool.nearest_key(text, text[]),
  msgpool.max_payload_bytes(),
  msgpool.max_deliver_at_lag(),
  msgpool.clock(),
  msgpool.pinned_clock()
  TO msgpool_producer;
GRANT INSERT (type_key, payload, dedup_key, recipients, source, urgency, deliver_at)
  ON msgpool.message TO msgpool_producer;
-- only so that INSERT ... RETURNING id works; no other column is readable
GRANT SELECT (id) ON msgpool.message TO msgpool_producer;
GRANT SELECT (key, enabled, urgency, max_urgency) ON msgpool.message_type TO msgpool_producer;
GRANT SELECT (max_payload_bytes, max_deliver_at_lag) ON msgpool.settings TO msgpool_producer;
GRANT SELECT ON msgpool.waiting_worker TO msgpool_producer;

-- worker: the queue's functions and nothing else; each runs with the owner's rights and
-- reaches the tables by its own rules.
GRANT EXECUTE ON FUNCTION
  msgpool.expand(integer),
  msgpool.claim_deliveries(msgpool.channel, integer, interval),
  msgpool.expand_and_claim(integer, msgpool.channel[], interval),
  msgpool.record_outcomes(jsonb),
  msgpool.deliver_to_inbox(jsonb),
  msgpool.extend_leases(uuid[], interval),
  msgpool.release_deliveries(uuid[], interval, text),
  msgpool.report_destinations(text, jsonb),
  msgpool.refresh_statistics(),
  msgpool.worker_waiting(uuid, boolean),
  msgpool.prune(interval, integer),
  msgpool.outbound_policy(),
  msgpool.redacted_url(text)
  TO msgpool_worker;

-- inbox: one recipient's inbox, and only with that recipient's token; each function runs with
-- the owner's rights after checking the token.
GRANT EXECUTE ON FUNCTION
  msgpool.signed_inbox_list(text, text, integer, integer),
  msgpool.signed_inbox_unread_count(text, text),
  msgpool.signed_inbox_show(text, text, bigint),
  msgpool.signed_inbox_mark_read(text, text, bigint[])
  TO msgpool_inbox;

-- Everything of the schema goes to its owner, the history of migrations aside (refinery's,
-- its own user's). Forward migrations end with SELECT msgpool.hand_to_owner() too.
CREATE FUNCTION msgpool.hand_to_owner()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  object record;
BEGIN
  EXECUTE 'ALTER SCHEMA msgpool OWNER TO msgpool_owner';
  FOR object IN
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
           c.oid::regclass::text AS name
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'msgpool'::regnamespace AND c.relkind IN ('r', 'v', 'p')
       AND c.relname <> 'schema_history'
       AND c.relowner <> 'msgpool_owner'::regrole
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO msgpool_owner', object.kind, object.name);
  END LOOP;
  FOR object IN
    SELECT p.oid::regprocedure::text AS name FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'msgpool'::regnamespace AND p.proowner <> 'msgpool_owner'::regrole
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO msgpool_owner', object.name);
  END LOOP;
  FOR object IN
    SELECT t.oid::regtype::text AS name FROM pg_catalog.pg_type t
     WHERE t.typnamespace = 'msgpool'::regnamespace AND t.typowner <> 'msgpool_owner'::regrole
       AND t.typtype IN ('e', 'd', 'c')
       AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO msgpool_owner', object.name);
  END LOOP;
END;
$$;

COMMENT ON FUNCTION msgpool.hand_to_owner IS
  'Gives every object of the schema to msgpool_owner (the end of every migration)';

REVOKE ALL ON FUNCTION msgpool.hand_to_owner() FROM PUBLIC;
SELECT msgpool.hand_to_owner();
