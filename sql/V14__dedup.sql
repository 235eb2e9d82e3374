-- Dedup: the same type + dedup key arriving while an earlier message is still open is not
-- sent again. The earlier message's duplicate_count and last_seen_at go up, send() returns
-- the earlier id, and a raw INSERT inserts nothing (RETURNING gives no row). No dedup key,
-- or a type whose dedup_window is 0: no dedup.
--
-- "Open" means: not cancelled, and created less than the type's dedup_window ago (by
-- msgpool.clock()). A key still alive after the window opens a new message, so a problem
-- that lasts keeps reminding once per window.

-- One row per type and dedup key: the message that key currently counts on. The primary key
-- is what makes it race-free: concurrent producers of one key queue on this row
-- (INSERT ... ON CONFLICT), and exactly one of them opens the message.
CREATE TABLE msgpool.dedup (
  type_key   text NOT NULL,
  dedup_key  text NOT NULL,
  message_id bigint NOT NULL,
  closes_at  timestamptz NOT NULL,
  PRIMARY KEY (type_key, dedup_key)
);

CREATE INDEX dedup_message ON msgpool.dedup (message_id);

COMMENT ON TABLE msgpool.dedup IS
  'Open dedup keys: while closes_at is ahead, a message with this type and key is counted on message_id';

-- What a producer may not do itself, each a SECURITY DEFINER function the validation trigger
-- calls only when a message needs it: check named recipients (producers cannot read the
-- recipient table), and count a duplicate (they cannot write dedup rows or other messages).

-- The recipients named by a message, checked: refuses an empty list (MP008), unknown keys
-- (MP005, with the nearest key) and disabled ones (MP006); returns them sorted, each once.
CREATE FUNCTION msgpool.check_recipients(wanted_keys text[])
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  unknown_keys text[];
  disabled_keys text[];
BEGIN
  IF cardinality(wanted_keys) = 0 THEN
    RAISE EXCEPTION 'recipients is an empty list'
      USING ERRCODE = 'MP008',
            HINT = 'pass NULL to send to the type''s subscribers, or name at least one recipient';
  END IF;
  SELECT array_agg(DISTINCT wanted) FILTER (WHERE r.key IS NULL),
         array_agg(DISTINCT wanted) FILTER (WHERE NOT r.enabled)
    INTO unknown_keys, disabled_keys
    FROM unnest(wanted_keys) AS wanted
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
  RETURN ARRAY(SELECT DISTINCT unnest(wanted_keys) ORDER BY 1);
END;
$$;

-- Opens the dedup key for message new_id until closes_at, or, while it is open for an earlier
-- message, counts the new one on it and returns the earlier id (NULL: new_id opened it).
-- ON CONFLICT locks the key's row even when it does not update it, so the count cannot be
-- lost to a concurrent producer, and the message it names is committed.
CREATE FUNCTION msgpool.count_duplicate(of_type text, key text, new_id bigint, closes_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  opened boolean;
  earlier bigint;
BEGIN
  INSERT INTO msgpool.dedup AS d (type_key, dedup_key, message_id, closes_at)
  VALUES (of_type, key, new_id, count_duplicate.closes_at)
  ON CONFLICT (type_key, dedup_key) DO UPDATE
    SET message_id = excluded.message_id, closes_at = excluded.closes_at
    WHERE d.closes_at <= msgpool.clock()
  RETURNING true INTO opened;
  IF opened THEN
    RETURN NULL;
  END IF;
  UPDATE msgpool.message m
     SET duplicate_count = m.duplicate_count + 1, last_seen_at = now()
    FROM msgpool.dedup d
   WHERE d.type_key = of_type AND d.dedup_key = key AND m.id = d.message_id
  RETURNING m.id INTO earlier;
  RETURN earlier;
END;
$$;

-- The validation trigger of V3, now reading the clock and counting duplicates, and written
-- for the hot path, as measured with `msgpool bench` (ingest):
-- * It runs with the rights of whoever inserts (producers may read the four columns of
--   message_type it needs). As SECURITY DEFINER, every insert paid for switching the user
--   and search_path: the ingest ratio rose from 0.65 to 0.70 without. What producers may
--   not do is in the two functions above, called only when a message needs them.
-- * plpgsql rebuilds every expression's state in each new transaction, so the common case
--   (a valid message) runs one query and as few statements as it can; the error branches
--   work out their details only when they are taken.
-- * The lengths of dedup_key and source are checked here rather than by CHECK constraints,
--   which cost every insert as much again.
CREATE OR REPLACE FUNCTION msgpool.message_validate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  t record;
  earlier bigint;
BEGIN
  SELECT mt.enabled, mt.urgency, mt.dedup_window, msgpool.clock() AS now,
         pg_column_size(NEW.payload) > msgpool.max_payload_bytes() AS too_big
    INTO t
    FROM msgpool.message_type mt WHERE mt.key = NEW.type_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(NEW.type_key), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = coalesce(
              format('did you mean %L?', msgpool.nearest_key(NEW.type_key,
                       ARRAY(SELECT mt.key::text FROM msgpool.message_type mt))),
              'an administrator creates types with: msgpool type add KEY --name NAME');
  ELSIF NOT t.enabled THEN
    RAISE EXCEPTION 'message type % is disabled', quote_literal(NEW.type_key)
      USING ERRCODE = 'MP002',
            HINT = format('an administrator can enable it with: msgpool type enable %s', NEW.type_key);
  ELSIF NEW.payload IS NULL THEN
    NEW.payload := '{}';
  ELSIF jsonb_typeof(NEW.payload) <> 'object' THEN
    RAISE EXCEPTION 'payload must be a JSON object, got a JSON %', jsonb_typeof(NEW.payload)
      USING ERRCODE = 'MP003',
            HINT = 'wrap the value in an object, e.g. {"value": ...}; template variables are its keys';
  ELSIF t.too_big THEN
    RAISE EXCEPTION 'payload is % bytes, over the limit of % bytes', pg_column_size(NEW.payload),
        msgpool.max_payload_bytes()
      USING ERRCODE = 'MP004',
            HINT = 'send a reference (an id or a URL) instead of the data, or raise the setting msgpool.max_payload_bytes';
  END IF;
  IF length(NEW.dedup_key) > 200 OR length(NEW.source) > 200 THEN
    RAISE EXCEPTION '% is % characters, over the limit of 200',
        CASE WHEN length(NEW.dedup_key) > 200 THEN 'dedup_key' ELSE 'source' END,
        greatest(length(NEW.dedup_key), length(NEW.source))
      USING ERRCODE = 'MP012',
            HINT = 'use a shorter key: a hash or an id rather than the text itself';
  END IF;
  IF NEW.recipients IS NOT NULL THEN
    NEW.recipients := msgpool.check_recipients(NEW.recipients);
  END IF;
  IF NEW.deliver_at IS NOT NULL AND NEW.deliver_at < t.now - msgpool.max_deliver_at_lag() THEN
    RAISE EXCEPTION 'deliver_at % is more than % in the past', NEW.deliver_at, msgpool.max_deliver_at_lag()
      USING ERRCODE = 'MP007',
            HINT = 'check the producer''s clock and time zone, or leave deliver_at out to send now';
  END IF;

  -- Valid. A duplicate is counted on the open message and goes no further.
  IF NEW.dedup_key IS NOT NULL AND t.dedup_window > interval '0' THEN
    earlier := msgpool.count_duplicate(NEW.type_key, NEW.dedup_key, NEW.id, t.now + t.dedup_window);
    IF earlier IS NOT NULL THEN
      -- for send(), which returns the earlier id; a raw INSERT simply inserts no row
      PERFORM set_config('msgpool.duplicate_of', earlier::text, true);
      RETURN NULL;
    END IF;
  END IF;

  -- Whatever was written in the pool's own columns, a new message starts here. (Producers
  -- cannot write them; an administrator's INSERT might.)
  IF NEW.state <> 'pending' OR NEW.duplicate_count <> 0 OR NEW.dispatched_at IS NOT NULL
     OR NEW.error IS NOT NULL THEN
    NEW.state := 'pending';
    NEW.duplicate_count := 0;
    NEW.dispatched_at := NULL;
    NEW.error := NULL;
  END IF;
  NEW.urgency := coalesce(NEW.urgency, t.urgency);
  NEW.due_at := greatest(coalesce(NEW.deliver_at, t.now), t.now);
  IF NEW.source IS NULL THEN
    NEW.source := nullif(current_setting('application_name', true), '');
  END IF;
  RETURN NEW;
END;
$$;

ALTER TABLE msgpool.message
  DROP CONSTRAINT message_payload_is_object,
  DROP CONSTRAINT message_dedup_key_length,
  DROP CONSTRAINT message_source_length;

GRANT SELECT (key, enabled, urgency, dedup_window) ON msgpool.message_type TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.check_recipients(text[]),
  msgpool.count_duplicate(text, text, bigint, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.check_recipients(text[]),
  msgpool.count_duplicate(text, text, bigint, timestamptz), msgpool.max_payload_bytes(),
  msgpool.max_deliver_at_lag(), msgpool.nearest_key(text, text[]) TO msgpool_producer;

-- send() as in V10, returning the earlier message's id for a duplicate.
CREATE OR REPLACE FUNCTION msgpool.send(
  type_key   text,
  payload    jsonb DEFAULT '{}',
  dedup_key  text DEFAULT NULL,
  deliver_at timestamptz DEFAULT NULL,
  recipients text[] DEFAULT NULL,
  source     text DEFAULT NULL,
  urgency    msgpool.urgency DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  new_id bigint;
BEGIN
  INSERT INTO msgpool.message (type_key, payload, dedup_key, deliver_at, recipients, source, urgency)
  VALUES (send.type_key, send.payload, send.dedup_key, send.deliver_at, send.recipients,
          send.source, send.urgency)
  RETURNING id INTO new_id;
  IF new_id IS NULL THEN
    new_id := nullif(current_setting('msgpool.duplicate_of', true), '')::bigint;
  END IF;
  RETURN new_id;
END;
$$;

-- Open messages that have been repeated, noisiest first: "server.down ×37".
--   SELECT * FROM msgpool.duplicates;
CREATE VIEW msgpool.duplicates AS
SELECT m.type_key, d.dedup_key, m.id AS message_id, m.duplicate_count, m.created_at, m.last_seen_at,
       d.closes_at
  FROM msgpool.dedup d
  JOIN msgpool.message m ON m.id = d.message_id
 WHERE d.closes_at > msgpool.clock() AND m.duplicate_count > 0 AND m.state <> 'cancelled'
 ORDER BY m.duplicate_count DESC, m.last_seen_at DESC;

-- The inbox list of V5 with each message's repeat count and when it was last seen, read
-- from the message so the count keeps rising after the inbox row was written.
DROP FUNCTION msgpool.inbox_list(text, boolean, integer, integer);
CREATE FUNCTION msgpool.inbox_list(
  recipient   text,
  unread_only boolean DEFAULT false,
  page        integer DEFAULT 1,
  page_size   integer DEFAULT 20
)
RETURNS TABLE (
  id              bigint,
  recipient_key   text,
  message_id      bigint,
  delivery_id     bigint,
  type_key        text,
  urgency         msgpool.urgency,
  subject         text,
  body            text,
  created_at      timestamptz,
  read_at         timestamptz,
  duplicate_count integer,
  last_seen_at    timestamptz
)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM msgpool.require_recipient(recipient);
  IF page < 1 OR page_size NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'page must be 1 or more and page_size between 1 and 500 (got page %, page_size %)',
        page, page_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT i.id, i.recipient_key::text, i.message_id, i.delivery_id, i.type_key, i.urgency, i.subject,
           i.body, i.created_at, i.read_at, coalesce(m.duplicate_count, 0),
           coalesce(m.last_seen_at, i.created_at)
      FROM msgpool.inbox i
      LEFT JOIN msgpool.message m ON m.id = i.message_id
     WHERE i.recipient_key = recipient
       AND (NOT unread_only OR i.read_at IS NULL)
     ORDER BY i.read_at IS NOT NULL, i.created_at DESC, i.id DESC
     LIMIT page_size OFFSET (page - 1) * page_size;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.inbox_list(text, boolean, integer, integer) FROM PUBLIC;
GRANT SELECT ON msgpool.duplicates TO msgpool_worker;

-- prune() as in V11, also forgetting dedup keys closed for longer than older_than.
CREATE OR REPLACE FUNCTION msgpool.prune(older_than interval DEFAULT interval '30 days', batch_size integer DEFAULT 5000)
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
  RETURN pruned;
END;
$$;
