-- The pool. Producers write rows here, with msgpool.send() or a plain INSERT; both pass the
-- same door (06_validate.sql), so a row in this table is always one a worker can act on.
--
-- A message's states, and every change between them:
--
--   from      to         by          why
--   (new)     pending    the door    send() or an INSERT passed validation; due at due_at
--   pending   expanded   expand()    its deliveries were made, one per recipient and channel
--   pending   cancelled  cancel()    nobody needs to hear of it any more
--   expanded  cancelled  cancel()    the same; its unsent deliveries are cancelled with it
--
-- cancelled is final; what becomes of the deliveries is the delivery's machine
-- (07_delivery.sql).

-- No foreign key to message_type: every insert would take a KEY SHARE lock on its type's
-- row, and concurrent producers of one type pile up multixacts. The door refuses unknown
-- types; message_type_guard() below keeps a type with messages. type_key is plain text, not
-- the type_key domain, for the same door: a key in no valid format is refused there as an
-- unknown type (MP001, with the nearest key), where the domain would answer first, without.
-- autovacuum early: the pool changes fast, and plans want its statistics fresh.
CREATE TABLE msgpool.message (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type_key        text NOT NULL,
  payload         jsonb NOT NULL DEFAULT '{}',
  dedup_key       text,
  recipients      text[],
  source          text,
  urgency         msgpool.urgency NOT NULL,
  deliver_at      timestamptz,
  due_at          timestamptz NOT NULL,
  state           msgpool.message_state NOT NULL DEFAULT 'pending',
  duplicate_count integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  expanded_at     timestamptz,
  sent_by         text NOT NULL DEFAULT session_user,
  CONSTRAINT message_expanded_when_expanded CHECK (
    CASE state WHEN 'pending' THEN expanded_at IS NULL WHEN 'expanded' THEN expanded_at IS NOT NULL ELSE true END)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

COMMENT ON TABLE msgpool.message IS
  'The message pool: one row per msgpool.send() or INSERT, expanded by workers into deliveries';
COMMENT ON COLUMN msgpool.message.payload IS 'A JSON object; its keys are the template variables';
COMMENT ON COLUMN msgpool.message.dedup_key IS 'The same type and key within the type''s dedup window is counted on this message, not sent';
COMMENT ON COLUMN msgpool.message.recipients IS 'Explicit recipient keys, checked at the door; NULL: the type''s subscribers';
COMMENT ON COLUMN msgpool.message.source IS
  'Which service sent it: one its role may name (msgpool.producer), by default the role''s name; an administrator''s session, any (default: application_name)';
COMMENT ON COLUMN msgpool.message.urgency IS 'The producer''s urgency if it gave one, else the type''s';
COMMENT ON COLUMN msgpool.message.deliver_at IS 'What the producer asked for: no delivery before then; NULL: the type''s policy';
COMMENT ON COLUMN msgpool.message.due_at IS 'When the pool expands it: deliver_at, or when it arrived';
COMMENT ON COLUMN msgpool.message.duplicate_count IS 'Repeats counted on it by dedup';
COMMENT ON COLUMN msgpool.message.last_seen_at IS 'When it, or its latest repeat, arrived';
COMMENT ON COLUMN msgpool.message.expanded_at IS 'When expand() made its deliveries';
COMMENT ON COLUMN msgpool.message.sent_by IS 'The login role that sent it: only it, or an administrator, may cancel it';

-- Exactly the rows the expander takes, in the order it takes them; stays small however
-- much history the table holds.
CREATE INDEX message_due ON msgpool.message (due_at, id) WHERE state = 'pending';

-- A type's messages, newest first: the console's activity filtered by type, and the check
-- that a type being removed has none.
CREATE INDEX message_type_newest ON msgpool.message (type_key, id);

-- Messages by when they came, for counts over a recent span (the console's "last 24 h"):
-- rows arrive in time order, so a block range index is enough, and costs the door nothing.
CREATE INDEX message_created ON msgpool.message USING brin (created_at);

-- Idle workers say they wait here; a producer notifies only while one does, because a
-- pg_notify in every producer transaction serialises commits on a global lock. Rows older
-- than a minute are ignored: a worker that died does not keep producers paying.
CREATE UNLOGGED TABLE msgpool.waiting_worker (
  worker uuid PRIMARY KEY,
  since  timestamptz NOT NULL DEFAULT now()
);

-- A worker says it waits (or renews its row), or that it is busy again. The owner's rights:
-- the worker role reaches the table only through these.
CREATE FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF waiting THEN
    INSERT INTO msgpool.waiting_worker AS w (worker) VALUES (worker_waiting.worker)
    ON CONFLICT ON CONSTRAINT waiting_worker_pkey DO UPDATE SET since = now();
  ELSE
    DELETE FROM msgpool.waiting_worker w WHERE w.worker = worker_waiting.worker;
  END IF;
END;
$$;

COMMENT ON TABLE msgpool.waiting_worker IS 'Idle workers: while one is here, producers wake it with NOTIFY msgpool_message';
COMMENT ON FUNCTION msgpool.worker_waiting IS 'An idle worker says it waits (producers then notify), or that it is busy again';

-- The producer's API: put one message into the pool and return its id (the earlier one's,
-- for a duplicate). plpgsql rather than sql: it keeps its plan for the session.
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

COMMENT ON FUNCTION msgpool.send IS
  'Put a message into the pool; returns its id (the earlier one''s for a counted repeat). The same door as an INSERT.';

-- A type with messages in the pool is history: it cannot be deleted or renamed (SQLSTATE
-- 23503, as a foreign key would say).
CREATE FUNCTION msgpool.message_type_guard()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.key = OLD.key THEN
    RETURN NEW;
  END IF;
  -- wait for producers inserting right now, and hold new ones until this commits
  LOCK TABLE msgpool.message IN SHARE MODE;
  IF EXISTS (SELECT 1 FROM msgpool.message m WHERE m.type_key = OLD.key) THEN
    RAISE EXCEPTION 'message type % has messages in the pool, which are history', quote_literal(OLD.key)
      USING ERRCODE = 'foreign_key_violation',
            HINT = format('disable it instead: msgpool type disable %s', OLD.key);
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER message_type_guard BEFORE DELETE OR UPDATE OF key ON msgpool.message_type
  FOR EACH ROW EXECUTE FUNCTION msgpool.message_type_guard();

-- A message's deliveries and dedup key go with it, on DELETE (prune) and TRUNCATE. A
-- statement trigger instead of foreign keys: a key check locked the message row for every
-- delivery written. Deliveries are made only by expand(), from messages it holds FOR
-- UPDATE, so none can slip past. The owner's rights, as a foreign key's cascade had.
CREATE FUNCTION msgpool.message_deleted()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE msgpool.delivery, msgpool.dedup;
  ELSE
    DELETE FROM msgpool.delivery d USING gone WHERE d.message_id = gone.id;
    DELETE FROM msgpool.dedup k USING gone WHERE k.message_id = gone.id;
  END IF;
  RETURN NULL;
END;
$$;

-- Once per statement, with the deleted rows as a table: pruning 5,000 messages is one join.
CREATE TRIGGER message_deleted AFTER DELETE ON msgpool.message
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.message_deleted();
CREATE TRIGGER message_truncated AFTER TRUNCATE ON msgpool.message
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.message_deleted();

