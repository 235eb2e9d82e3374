-- The door: every message, from send() or a plain INSERT, passes the same checks before it
-- is written, and a refused one is written nowhere. Each refusal has its own SQLSTATE, a
-- message and a hint (docs/schema.md has the table):
--   MP001 unknown message type        MP005 unknown recipient
--   MP002 message type disabled       MP006 recipient disabled
--   MP003 payload not a JSON object   MP007 deliver_at too far in the past
--   MP004 payload too large           MP008 empty recipient list
--   MP012 dedup_key or source longer than 200 characters
--   MP014 payload nested too deeply   MP015 a producer's session pinned the clock
--   MP018 urgency above the type's    MP019 recipients that are not the type's subscribers
--   MP020 a source the producer's role may not give
-- Two triggers: message_validate for every message (the producer's rights, for speed), and
-- message_admit, with the owner's rights, for what a producer may not do itself (read the
-- recipients, open a dedup key).
--
-- Producers cannot touch each other: a message records the login role that sent it
-- (sent_by), dedup keys are that role's own, a producer names only the sources its role is
-- allowed, asks for no more urgency than the type allows and names only the type's
-- subscribers (unless the type says otherwise), and learns nothing of which recipient keys
-- exist. An administrator's session is held to none of these.

-- Whether this session is an administrator's (the console's and the CLI's are).
CREATE FUNCTION msgpool.is_admin()
RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.pg_has_role(session_user, 'msgpool_admin', 'MEMBER') $$;

COMMENT ON FUNCTION msgpool.is_admin IS 'Whether the session''s login role is an administrator (the door holds producers to more)';

-- More nested arrays and objects than this are refused at the door (MP014): a worker's JSON
-- reader has a depth limit of its own (128), and nothing a template reads needs 32.
-- True when the payload nests deeper. (jsonpath's level must be a literal.)
CREATE FUNCTION msgpool.too_deep(payload jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT jsonb_path_exists(payload, 'strict $.**{33}') $$;

COMMENT ON FUNCTION msgpool.too_deep IS 'True when a payload nests arrays and objects more than 32 levels deep (MP014)';

-- Dedup: the same type + dedup key arriving while an earlier message is open (not
-- cancelled, created less than the type's dedup_window ago by msgpool.clock()) is counted
-- on it: its duplicate_count and last_seen_at go up, send() returns the earlier id, and a
-- raw INSERT inserts nothing. One row per open key; its primary key is what serialises
-- concurrent producers of one key (INSERT ... ON CONFLICT), so exactly one opens the message.
-- Keys are plain text: they are copies of a message's, which the door has checked.
-- A key is its producer's (sent_by): another service's message with the same key is a
-- message of its own. A message held back for later (deliver_at ahead) neither opens a key
-- nor is counted: it must not swallow what is due now.
CREATE TABLE msgpool.dedup (
  type_key   text NOT NULL,
  sent_by    text NOT NULL,
  dedup_key  text NOT NULL,
  message_id bigint NOT NULL,
  closes_at  timestamptz NOT NULL,
  PRIMARY KEY (type_key, sent_by, dedup_key)
);

CREATE INDEX dedup_message ON msgpool.dedup (message_id);

COMMENT ON TABLE msgpool.dedup IS
  'Open dedup keys: while closes_at is ahead, a message with this type and key is counted on message_id';

-- The recipients named by a message of type_key, checked; returns them sorted, each once.
-- An empty list is refused (MP008). For an administrator's session, unknown keys (MP005,
-- with the nearest key) and disabled recipients (MP006) are refused. A producer's session
-- may name only the type's subscribers, directly or through a group (MP019; unknown keys
-- are among those it names, so the answer says nothing of which keys exist), unless the
-- type takes any recipient: then an unknown or disabled one is accepted, and its delivery
-- is recorded skipped with the reason, for an administrator to see. SECURITY DEFINER:
-- producers cannot read the recipient or subscription tables. One plan per session, and
-- never a sequential scan: a plan kept from when the table was small stays a key probe.
CREATE FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text)
RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  wanted text[] := ARRAY(SELECT DISTINCT k FROM unnest(recipient_keys) k ORDER BY 1);
  found_keys text[];
  unknown_keys text[];
  disabled_keys text[];
  outsiders text[];
BEGIN
  IF cardinality(recipient_keys) = 0 THEN
    RAISE EXCEPTION 'recipients is an empty list'
      USING ERRCODE = 'MP008',
            HINT = 'pass NULL to send to the type''s subscribers, or name at least one recipient';
  END IF;
  IF NOT msgpool.is_admin() THEN
    IF (SELECT NOT t.any_recipient FROM msgpool.message_type t WHERE t.key = check_recipients.type_key) THEN
      outsiders := ARRAY(
        SELECT w FROM unnest(wanted) w
         WHERE w IS NULL OR NOT EXISTS (
                 SELECT 1 FROM msgpool.subscription s
                  WHERE s.type_key = check_recipients.type_key AND s.recipient_key = w)
           AND NOT EXISTS (
                 SELECT 1 FROM msgpool.subscription s
                   JOIN msgpool.group_member gm ON gm.group_key = s.group_key
                  WHERE s.type_key = check_recipients.type_key AND gm.recipient_key = w)
         ORDER BY 1);
      IF cardinality(outsiders) > 0 THEN
        RAISE EXCEPTION '% may name only its subscribers: not %', type_key,
            array_to_string(outsiders, ', ', 'NULL')
          USING ERRCODE = 'MP019',
                HINT = 'leave recipients out to reach the subscribers, or ask an administrator to subscribe them or to let the type take any recipient';
      END IF;
    END IF;
    -- in the key format, or the deliveries' key column would refuse the whole expansion
    PERFORM w::msgpool.recipient_key FROM unnest(wanted) w;
    RETURN wanted;
  END IF;
  SELECT coalesce(array_agg(r.key::text ORDER BY r.key::text), '{}'),
         array_agg(r.key::text ORDER BY r.key::text) FILTER (WHERE NOT r.enabled)
    INTO found_keys, disabled_keys
    FROM msgpool.recipient r
   WHERE r.key = ANY (wanted);
  unknown_keys := ARRAY(SELECT w FROM unnest(recipient_keys) AS w
                         WHERE w IS NULL OR w <> ALL (found_keys) GROUP BY w ORDER BY 1);
  IF cardinality(unknown_keys) > 0 THEN
    RAISE EXCEPTION 'unknown recipient(s) %', array_to_string(unknown_keys, ', ', 'NULL')
      USING ERRCODE = 'MP005',
            HINT = msgpool.did_you_mean(unknown_keys[1], ARRAY(SELECT r.key::text FROM msgpool.recipient r),
                                        'list recipients with: msgpool recipient list');
  END IF;
  IF disabled_keys IS NOT NULL THEN
    RAISE EXCEPTION 'recipient(s) % disabled', array_to_string(disabled_keys, ', ')
      USING ERRCODE = 'MP006',
            HINT = 'leave them out, or enable them with: msgpool recipient enable KEY';
  END IF;
  RETURN found_keys;
END;
$$;

COMMENT ON FUNCTION msgpool.check_recipients IS
  'A message''s named recipients, checked (MP005, MP006, MP008; a producer''s, MP019), sorted, each once';

-- A source a producer's session gives must be one the administrator allows its login role
-- (msgpool.producer), or the role's own name (MP020). SECURITY DEFINER: producers do not
-- read each other's allowances.
CREATE FUNCTION msgpool.check_source(source text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF source IS DISTINCT FROM session_user::text AND NOT EXISTS (
       SELECT 1 FROM msgpool.producer p WHERE p.login_role = session_user AND source = ANY (p.sources)) THEN
    RAISE EXCEPTION 'source % is not one that % may give', quote_literal(source), session_user
      USING ERRCODE = 'MP020',
            HINT = format('leave source out (it is then %s), or an administrator allows it: msgpool producer allow %s --sources %s',
                          session_user, session_user, source);
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.check_source IS 'Refuses a source the producer''s login role may not give (MP020)';

-- Opens the dedup key for message message_id until closes_at, or, while it is open for an
-- earlier message, counts the new one on it and returns the earlier id (NULL: message_id
-- opened it). ON CONFLICT locks the key's row even when it does not update it, so the count
-- cannot be lost to a concurrent producer, and the message it names is committed.
CREATE FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint,
                                        closes_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
  opened boolean;
  earlier bigint;
BEGIN
  INSERT INTO msgpool.dedup AS d (type_key, sent_by, dedup_key, message_id, closes_at)
  VALUES (count_duplicate.type_key, count_duplicate.sent_by, count_duplicate.dedup_key,
          count_duplicate.message_id, count_duplicate.closes_at)
  ON CONFLICT ON CONSTRAINT dedup_pkey DO UPDATE
    SET message_id = excluded.message_id, closes_at = excluded.closes_at
    WHERE d.closes_at <= msgpool.clock()
  RETURNING true INTO opened;
  IF opened THEN
    RETURN NULL;
  END IF;
  UPDATE msgpool.message m
     SET duplicate_count = m.duplicate_count + 1, last_seen_at = now()
    FROM msgpool.dedup d
   WHERE d.type_key = count_duplicate.type_key AND d.sent_by = count_duplicate.sent_by
     AND d.dedup_key = count_duplicate.dedup_key AND m.id = d.message_id
  RETURNING m.id INTO earlier;
  RETURN earlier;
END;
$$;

COMMENT ON FUNCTION msgpool.count_duplicate IS
  'Opens a dedup key for a new message, or counts the message on the one holding it open and returns that one''s id';

-- Raises the error that says what is wrong with message m. Called by the validation
-- trigger only for a message it refused, so the valid case never compiles these checks.
CREATE FUNCTION msgpool.refuse_message(m msgpool.message)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
  t record;
BEGIN
  SELECT mt.enabled INTO t FROM msgpool.message_type mt WHERE mt.key = m.type_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(m.type_key), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = msgpool.did_you_mean(m.type_key, ARRAY(SELECT mt.key::text FROM msgpool.message_type mt),
                     'an administrator creates types with: msgpool type add KEY --name NAME');
  ELSIF NOT t.enabled THEN
    RAISE EXCEPTION 'message type % is disabled', quote_literal(m.type_key)
      USING ERRCODE = 'MP002',
            HINT = format('an administrator can enable it with: msgpool type enable %s', m.type_key);
  ELSIF jsonb_typeof(m.payload) <> 'object' THEN
    RAISE EXCEPTION 'payload must be a JSON object, got a JSON %', jsonb_typeof(m.payload)
      USING ERRCODE = 'MP003',
            HINT = 'wrap the value in an object, e.g. {"value": ...}; template variables are its keys';
  ELSIF pg_column_size(m.payload) > msgpool.max_payload_bytes() THEN
    RAISE EXCEPTION 'payload is % bytes, over the limit of % bytes', pg_column_size(m.payload),
        msgpool.max_payload_bytes()
      USING ERRCODE = 'MP004',
            HINT = 'send a reference (an id or a URL) instead of the data, or ask an administrator to raise msgpool.settings.max_payload_bytes';
  ELSIF msgpool.too_deep(m.payload) THEN
    RAISE EXCEPTION 'payload nests arrays and objects more than 32 levels deep'
      USING ERRCODE = 'MP014',
            HINT = 'flatten the payload: templates read a few levels, and deeper data belongs behind a reference';
  ELSIF length(m.dedup_key) > 200 OR length(m.source) > 200 THEN
    RAISE EXCEPTION '% is % characters, over the limit of 200',
        CASE WHEN length(m.dedup_key) > 200 THEN 'dedup_key' ELSE 'source' END,
        greatest(length(m.dedup_key), length(m.source))
      USING ERRCODE = 'MP012',
            HINT = 'use a shorter key: a hash or an id rather than the text itself';
  END IF;
  IF m.deliver_at < msgpool.clock() - msgpool.max_deliver_at_lag() THEN
    RAISE EXCEPTION 'deliver_at % is more than % in the past', m.deliver_at, msgpool.max_deliver_at_lag()
      USING ERRCODE = 'MP007',
            HINT = 'check the producer''s clock and time zone, or leave deliver_at out to send now';
  END IF;
  -- The validation trigger and the checks above disagree: a bug, not bad input.
  RAISE EXCEPTION 'message refused, but no check above says why'
    USING HINT = 'report this: msgpool.message_validate and msgpool.refuse_message disagree';
END;
$$;

COMMENT ON FUNCTION msgpool.refuse_message IS 'Raises the refusal (MP001-MP014) that says what is wrong with a message';

-- Validation at the door, for send() and a raw INSERT alike, and the pool's own columns
-- filled in whatever the producer wrote there. Written for the hot path: plpgsql compiles a
-- statement's expressions once per transaction, and a producer's transaction is usually
-- one message, so the valid case runs one query and only the checks its columns need.
-- It runs with the inserter's rights (SECURITY DEFINER cost every insert a user switch);
-- what producers may not do themselves, message_admit() below does, for the messages that
-- name recipients or a dedup key.
CREATE FUNCTION msgpool.message_validate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  enabled boolean;
  type_urgency msgpool.urgency;
  max_urgency msgpool.urgency;
  max_bytes integer;
  max_lag interval;
  wake boolean;
BEGIN
  -- the limits in the same query: as a function call of their own, reading the settings
  -- row would be a query of its own for every insert
  SELECT mt.enabled, mt.urgency, coalesce(mt.max_urgency, mt.urgency), s.max_payload_bytes,
         s.max_deliver_at_lag,
         EXISTS (SELECT 1 FROM msgpool.waiting_worker w WHERE w.since > now() - interval '1 minute')
    INTO enabled, type_urgency, max_urgency, max_bytes, max_lag, wake
    FROM msgpool.message_type mt, msgpool.settings s
   WHERE mt.key = NEW.type_key;
  IF enabled IS NOT TRUE OR jsonb_typeof(NEW.payload) <> 'object'
     OR pg_column_size(NEW.payload) > max_bytes OR msgpool.too_deep(NEW.payload) THEN
    PERFORM msgpool.refuse_message(NEW);
  END IF;
  IF NEW.dedup_key IS NOT NULL OR NEW.source IS NOT NULL OR NEW.deliver_at IS NOT NULL THEN
    IF length(NEW.dedup_key) > 200 OR length(NEW.source) > 200
       OR NEW.deliver_at < msgpool.clock() - max_lag THEN
      PERFORM msgpool.refuse_message(NEW);
    END IF;
  END IF;

  NEW.payload := coalesce(NEW.payload, '{}');
  NEW.due_at := greatest(NEW.deliver_at, msgpool.clock());
  NEW.sent_by := session_user;
  -- a producer's own: only what the administrator allows its role (the checks run only
  -- for what it gave; an administrator's session is held to none of them)
  IF NEW.urgency > max_urgency AND NOT msgpool.is_admin() THEN
    RAISE EXCEPTION '% messages may be at most %, not %', NEW.type_key, max_urgency, NEW.urgency
      USING ERRCODE = 'MP018',
            HINT = format('leave urgency out (it is then %s), or ask an administrator to raise the type''s max urgency: msgpool type edit %s --max-urgency %s',
                          type_urgency, NEW.type_key, NEW.urgency);
  END IF;
  NEW.urgency := coalesce(NEW.urgency, type_urgency);
  IF NEW.source IS NULL THEN
    NEW.source := CASE WHEN msgpool.is_admin() THEN nullif(current_setting('application_name', true), '')
                       ELSE session_user::text END;
  ELSIF NOT msgpool.is_admin() THEN
    PERFORM msgpool.check_source(NEW.source);
  END IF;
  -- Whatever was written in the pool's own columns, a new message starts here.
  -- (Producers cannot write them; an administrator's INSERT might.)
  IF NEW.state IS DISTINCT FROM 'pending' OR NEW.duplicate_count IS DISTINCT FROM 0
     OR NEW.expanded_at IS NOT NULL THEN
    NEW.state := 'pending';
    NEW.duplicate_count := 0;
    NEW.expanded_at := NULL;
  END IF;

  IF wake THEN
    -- collapsed into one notification per transaction by PostgreSQL
    PERFORM pg_notify('msgpool_message', '');
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER message_validate BEFORE INSERT ON msgpool.message
  FOR EACH ROW EXECUTE FUNCTION msgpool.message_validate();

-- The rest of the door, for a message that names recipients or a dedup key: the recipients
-- checked, and a duplicate counted on the open message (then no row is inserted). A trigger
-- of its own, after message_validate (triggers fire in name order), with the owner's rights:
-- producers may neither read recipients nor write dedup rows, and the helpers it calls are
-- not theirs to execute. The WHEN clause spares every other message the call.
CREATE FUNCTION msgpool.message_admit()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  dedup_window interval;
  earlier bigint;
BEGIN
  IF NEW.recipients IS NOT NULL THEN
    NEW.recipients := msgpool.check_recipients(NEW.recipients, NEW.type_key);
  END IF;
  IF NEW.dedup_key IS NOT NULL AND NEW.due_at <= msgpool.clock() THEN
    SELECT mt.dedup_window INTO dedup_window FROM msgpool.message_type mt WHERE mt.key = NEW.type_key;
    IF dedup_window > interval '0' THEN
      earlier := msgpool.count_duplicate(NEW.type_key, NEW.sent_by, NEW.dedup_key, NEW.id,
                                         msgpool.clock() + dedup_window);
      IF earlier IS NOT NULL THEN
        -- for send(), which returns the earlier id; a raw INSERT simply inserts no row
        PERFORM set_config('msgpool.duplicate_of', earlier::text, true);
        RETURN NULL;
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER message_validate_admit BEFORE INSERT ON msgpool.message
  FOR EACH ROW WHEN (NEW.recipients IS NOT NULL OR NEW.dedup_key IS NOT NULL)
  EXECUTE FUNCTION msgpool.message_admit();
