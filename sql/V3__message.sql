-- The pool. Producers write rows here, with msgpool.send() or a plain INSERT; both pass the
-- same validation trigger, so a row in this table is always one a worker can act on.
--
-- Errors producers can get, each with its own SQLSTATE (see the README's table):
--   MP001 unknown message type        MP005 unknown recipient
--   MP002 message type disabled       MP006 recipient disabled
--   MP003 payload not a JSON object   MP007 deliver_at too far in the past
--   MP004 payload too large           MP008 empty recipient list

CREATE TABLE msgpool.message (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type_key        text NOT NULL REFERENCES msgpool.message_type (key) ON UPDATE CASCADE,
  payload         jsonb NOT NULL DEFAULT '{}'
                  CONSTRAINT message_payload_is_object CHECK (jsonb_typeof(payload) = 'object'),
  -- same type + dedup key inside the type's dedup window: counted, not sent again
  dedup_key       text CONSTRAINT message_dedup_key_length CHECK (length(dedup_key) <= 200),
  -- explicit recipient keys; NULL means the type's subscribers
  recipients      text[],
  -- which service sent it (defaults to the session's application_name)
  source          text CONSTRAINT message_source_length CHECK (length(source) <= 200),
  -- effective urgency: the producer's if given, else the type's
  urgency         msgpool.urgency NOT NULL,
  -- what the producer asked for; due_at is what the pool decided
  deliver_at      timestamptz,
  due_at          timestamptz NOT NULL,
  state           msgpool.message_state NOT NULL DEFAULT 'pending',
  duplicate_count integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  dispatched_at   timestamptz,
  error           text
);

COMMENT ON TABLE msgpool.message IS
  'The message pool: one row per msgpool.send() or INSERT, expanded by workers into deliveries';

-- Exactly the rows a dispatcher claims, in the order it claims them; stays small however
-- much history the table holds.
CREATE INDEX message_due ON msgpool.message (due_at, id) WHERE state = 'pending';
CREATE INDEX message_type_created ON msgpool.message (type_key, created_at);

-- Settings a DBA can change per database or role without a migration, e.g.
--   ALTER DATABASE app SET msgpool.max_payload_bytes = '262144';
CREATE FUNCTION msgpool.max_payload_bytes()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(nullif(current_setting('msgpool.max_payload_bytes', true), '')::integer, 65536) $$;

CREATE FUNCTION msgpool.max_deliver_at_lag()
RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(nullif(current_setting('msgpool.max_deliver_at_lag', true), '')::interval, interval '1 hour') $$;

-- Validation at the door. SECURITY DEFINER because producers may not read message types
-- or recipients themselves; it only reads them to check the row.
CREATE FUNCTION msgpool.message_validate()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  type_enabled boolean;
  type_urgency msgpool.urgency;
  payload_bytes integer;
  unknown_keys text[];
  disabled_keys text[];
BEGIN
  SELECT t.enabled, t.urgency INTO type_enabled, type_urgency
    FROM msgpool.message_type t WHERE t.key = NEW.type_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(NEW.type_key), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = coalesce(
              format('did you mean %L?', msgpool.nearest_key(NEW.type_key,
                       ARRAY(SELECT t.key::text FROM msgpool.message_type t))),
              'an administrator creates types with: msgpool type add KEY --name NAME');
  END IF;
  IF NOT type_enabled THEN
    RAISE EXCEPTION 'message type % is disabled', quote_literal(NEW.type_key)
      USING ERRCODE = 'MP002',
            HINT = format('an administrator can enable it with: msgpool type enable %s', NEW.type_key);
  END IF;

  NEW.payload := coalesce(NEW.payload, '{}');
  IF jsonb_typeof(NEW.payload) <> 'object' THEN
    RAISE EXCEPTION 'payload must be a JSON object, got a JSON %', jsonb_typeof(NEW.payload)
      USING ERRCODE = 'MP003',
            HINT = 'wrap the value in an object, e.g. {"value": ...}; template variables are its keys';
  END IF;
  payload_bytes := pg_column_size(NEW.payload);
  IF payload_bytes > msgpool.max_payload_bytes() THEN
    RAISE EXCEPTION 'payload is % bytes, over the limit of % bytes', payload_bytes, msgpool.max_payload_bytes()
      USING ERRCODE = 'MP004',
            HINT = 'send a reference (an id or a URL) instead of the data, or raise the setting msgpool.max_payload_bytes';
  END IF;

  IF NEW.recipients IS NOT NULL THEN
    IF cardinality(NEW.recipients) = 0 THEN
      RAISE EXCEPTION 'recipients is an empty list'
        USING ERRCODE = 'MP008',
              HINT = 'pass NULL to send to the type''s subscribers, or name at least one recipient';
    END IF;
    SELECT array_agg(DISTINCT wanted) FILTER (WHERE r.key IS NULL),
           array_agg(DISTINCT wanted) FILTER (WHERE NOT r.enabled)
      INTO unknown_keys, disabled_keys
      FROM unnest(NEW.recipients) AS wanted
      LEFT JOIN msgpool.recipient r ON r.key = wanted;
    IF unknown_keys IS NOT NULL THEN
      RAISE EXCEPTION 'unknown recipient(s) %', array_to_string(unknown_keys, ', ')
        USING ERRCODE = 'MP005',
              HINT = coalesce(
                format('did you mean %L?', msgpool.nearest_key(unknown_keys[1],
                         ARRAY(SELECT r.key::text FROM msgpool.recipient r))),
                'an administrator adds recipients with: msgpool recipient add KEY --name NAME');
    END IF;
    IF disabled_keys IS NOT NULL THEN
      RAISE EXCEPTION 'recipient(s) % disabled', array_to_string(disabled_keys, ', ')
        USING ERRCODE = 'MP006',
              HINT = 'leave them out, or an administrator enables them with: msgpool recipient enable KEY';
    END IF;
    NEW.recipients := ARRAY(SELECT DISTINCT unnest(NEW.recipients) ORDER BY 1);
  END IF;

  IF NEW.deliver_at < now() - msgpool.max_deliver_at_lag() THEN
    RAISE EXCEPTION 'deliver_at % is more than % in the past', NEW.deliver_at, msgpool.max_deliver_at_lag()
      USING ERRCODE = 'MP007',
            HINT = 'check the producer''s clock and time zone, or leave deliver_at out to send now';
  END IF;

  -- Whatever the producer put in the pool's own columns, a new message starts here.
  NEW.urgency := coalesce(NEW.urgency, type_urgency);
  NEW.due_at := greatest(coalesce(NEW.deliver_at, now()), now());
  NEW.source := coalesce(NEW.source, nullif(current_setting('application_name', true), ''));
  NEW.state := 'pending';
  NEW.duplicate_count := 0;
  NEW.created_at := now();
  NEW.last_seen_at := now();
  NEW.dispatched_at := NULL;
  NEW.error := NULL;
  RETURN NEW;
END;
$$;

CREATE TRIGGER message_validate BEFORE INSERT ON msgpool.message
  FOR EACH ROW EXECUTE FUNCTION msgpool.message_validate();

-- Wake sleeping workers: one notification per statement, however many rows it inserted,
-- so bulk inserts do not queue thousands of notifications. Workers also poll, so a lost
-- notification costs latency, never a message.
CREATE FUNCTION msgpool.message_wake_workers()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('msgpool_message', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER message_wake_workers AFTER INSERT ON msgpool.message
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.message_wake_workers();

-- The producer's API: put one message into the pool and return its id.
--   SELECT msgpool.send('order.dispatch_backlog', '{"count": 120}');
CREATE FUNCTION msgpool.send(
  type_key   text,
  payload    jsonb DEFAULT '{}',
  dedup_key  text DEFAULT NULL,
  deliver_at timestamptz DEFAULT NULL,
  recipients text[] DEFAULT NULL,
  source     text DEFAULT NULL,
  urgency    msgpool.urgency DEFAULT NULL
)
RETURNS bigint
LANGUAGE sql
AS $$
  INSERT INTO msgpool.message (type_key, payload, dedup_key, deliver_at, recipients, source, urgency)
  VALUES (send.type_key, send.payload, send.dedup_key, send.deliver_at, send.recipients,
          send.source, send.urgency)
  RETURNING id
$$;

COMMENT ON FUNCTION msgpool.send IS
  'Put a message into the pool; returns its id. Same validation as INSERT INTO msgpool.message.';
