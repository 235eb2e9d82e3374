-- The in-site inbox (站内信): the rows the inbox channel writes, the administrators' API
-- over them (list, count unread, mark read, archive, delete), and the signed links through
-- which a recipient reaches their own inbox (the signed_inbox_* functions, which check the
-- link's token first). Each API function refuses an unknown recipient with MP005
-- (require_recipient() in 03_configuration.sql) rather than answering "nothing".

-- A row keeps its own rendered copy, so it stays readable after old messages and deliveries
-- are pruned; message_id and delivery_id stay as references (no foreign keys: pruning never
-- visits the inbox, and an inbox write checks no keys). The recipient's rename follows it,
-- and its removal takes the inbox along: recipient_guard() in 07_delivery.sql.
CREATE TABLE msgpool.inbox (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient_key msgpool.recipient_key NOT NULL,
  message_id    bigint,
  -- one inbox row per delivery, so a retried delivery cannot show twice
  delivery_id   bigint UNIQUE,
  type_key      msgpool.type_key NOT NULL,
  urgency       msgpool.urgency NOT NULL,
  subject       text NOT NULL DEFAULT '',
  body          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  read_at       timestamptz,
  -- archived: out of the inbox's list and unread count, kept for later
  archived_at   timestamptz
);

CREATE INDEX inbox_recipient_newest ON msgpool.inbox (recipient_key, created_at DESC, id DESC);
CREATE INDEX inbox_recipient_unread ON msgpool.inbox (recipient_key)
  WHERE read_at IS NULL AND archived_at IS NULL;

COMMENT ON TABLE msgpool.inbox IS 'The in-site inbox (站内信): each row its own rendered copy of a message for one recipient';
COMMENT ON COLUMN msgpool.inbox.delivery_id IS 'The delivery that wrote it: one row per delivery, however often it was retried';
COMMENT ON COLUMN msgpool.inbox.archived_at IS 'Archived: out of the list and the unread count, kept';

-- Refuses ids that are not this recipient's inbox messages (MP009) rather than skipping
-- them, so a caller that mixed up two people's inboxes hears about it.
CREATE FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[])
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  foreign_ids bigint[];
BEGIN
  PERFORM msgpool.require_recipient(recipient_key);
  SELECT array_agg(wanted ORDER BY wanted) INTO foreign_ids
    FROM unnest(ids) AS wanted
   WHERE NOT EXISTS (SELECT 1 FROM msgpool.inbox i
                      WHERE i.id = wanted AND i.recipient_key = require_inbox_ids.recipient_key);
  IF foreign_ids IS NOT NULL THEN
    RAISE EXCEPTION 'no inbox message % for recipient %', array_to_string(foreign_ids, ', '),
        quote_literal(recipient_key)
      USING ERRCODE = 'MP009',
            HINT = format('list the inbox with: msgpool inbox %s', recipient_key);
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.require_inbox_ids IS 'Refuses ids that are not the recipient''s inbox messages (MP009)';

-- What a worker writes for one claimed inbox delivery: its rendered copy, and the
-- deliveries gathered into it (a digest).
CREATE TYPE msgpool.inbox_item AS (
  id          bigint,
  lease_token uuid,
  subject     text,
  body        text,
  gathered    bigint[],
  started_at  timestamptz,
  worker      text
);

COMMENT ON TYPE msgpool.inbox_item IS 'A claimed inbox delivery as the worker rendered it, with the deliveries gathered into it';

-- The inbox channel: the inbox rows and their outcomes in one transaction, so an inbox
-- message exists exactly when its delivery is sent. Its own function rather than
-- record_outcomes(): a second JSON array of outcomes to build and read would cost as much as
-- the writes. One inbox row per item, and every gathered delivery recorded sent with it.
-- Items whose lease is gone are ignored. The inbox ids are drawn first so each delivery can
-- name its inbox row.
CREATE FUNCTION msgpool.deliver_to_inbox(items jsonb)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  written integer;
BEGIN
  WITH i AS (
    SELECT x.*, nextval('msgpool.inbox_id_seq') AS inbox_id
      FROM jsonb_populate_recordset(NULL::msgpool.inbox_item, items) AS x
  ),
  sends AS (
    SELECT i.id, i.lease_token, i.inbox_id, i.started_at, i.worker FROM i
    UNION ALL
    SELECT g, i.lease_token, i.inbox_id, i.started_at, i.worker
      FROM i CROSS JOIN LATERAL unnest(i.gathered) AS g
  ),
  sent AS (
    UPDATE msgpool.delivery d
       SET state = 'sent', sent_at = msgpool.clock(), provider_ref = 'inbox:' || s.inbox_id,
           last_error = NULL, lease_token = NULL, lease_deadline = NULL
      FROM sends s
     WHERE d.id = s.id AND d.state = 'sending' AND d.lease_token = s.lease_token
    RETURNING d.id, d.attempts, d.recipient_key, d.message_id, s.started_at, s.worker
  ),
  inboxed AS (
    INSERT INTO msgpool.inbox (id, recipient_key, message_id, delivery_id, type_key, urgency, subject, body)
    OVERRIDING SYSTEM VALUE
    SELECT i.inbox_id, s.recipient_key, m.id, s.id, m.type_key, m.urgency, i.subject, i.body
      FROM sent s
      JOIN i ON i.id = s.id
      JOIN msgpool.message m ON m.id = s.message_id
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, started_at, worker)
    SELECT s.id, s.attempts, 'sent', coalesce(s.started_at, now()), s.worker FROM sent s
    RETURNING 1
  )
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;

COMMENT ON FUNCTION msgpool.deliver_to_inbox IS
  'The inbox channel''s outcome: writes the inbox rows of msgpool.inbox_item rows (JSON) and records their deliveries sent';

-- An inbox message as pages show it. Its repeat count and when it was last seen are read
-- from the message, so the count keeps rising after the inbox row was written.
CREATE VIEW msgpool.inbox_entry AS
SELECT i.id, i.recipient_key::text AS recipient_key, i.message_id, i.delivery_id, i.type_key, i.urgency,
       i.subject, i.body, i.created_at, i.read_at, i.archived_at,
       coalesce(m.duplicate_count, 0) AS duplicate_count,
       coalesce(m.last_seen_at, i.created_at) AS last_seen_at
  FROM msgpool.inbox i
  LEFT JOIN msgpool.message m ON m.id = i.message_id;

COMMENT ON VIEW msgpool.inbox_entry IS 'An inbox message as pages show it, with its message''s repeat count';

-- A recipient's inbox, unread first, then newest first; pages start at 1. archived: the
-- archived messages instead.
CREATE FUNCTION msgpool.inbox_list(
  recipient_key text,
  unread_only boolean DEFAULT false,
  page        integer DEFAULT 1,
  page_size   integer DEFAULT 20,
  archived    boolean DEFAULT false
)
RETURNS SETOF msgpool.inbox_entry
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM msgpool.require_recipient(inbox_list.recipient_key);
  IF page < 1 OR page_size NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'page must be 1 or more and page_size between 1 and 500 (got page %, page_size %)',
        page, page_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT e.* FROM msgpool.inbox_entry e
     WHERE e.recipient_key = inbox_list.recipient_key
       AND (e.archived_at IS NOT NULL) = archived
       AND (NOT unread_only OR e.read_at IS NULL)
     ORDER BY e.read_at IS NOT NULL, e.created_at DESC, e.id DESC
     LIMIT page_size OFFSET (page - 1) * page_size;
END;
$$;

COMMENT ON FUNCTION msgpool.inbox_list IS 'A page of a recipient''s inbox (or archive), unread first, then newest';

CREATE FUNCTION msgpool.inbox_unread_count(recipient_key text)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM msgpool.require_recipient(inbox_unread_count.recipient_key);
  RETURN (SELECT count(*) FROM msgpool.inbox i
           WHERE i.recipient_key = inbox_unread_count.recipient_key
             AND i.read_at IS NULL AND i.archived_at IS NULL);
END;
$$;

COMMENT ON FUNCTION msgpool.inbox_unread_count IS 'How many of a recipient''s inbox messages are unread (archived ones aside)';

-- Mark some (ids) or all (ids NULL) of a recipient's inbox messages read; returns how many
-- changed. Ids that are not this recipient's are refused (MP009), not skipped.
CREATE FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE sql
AS $$
  SELECT msgpool.require_inbox_ids(inbox_mark_read.recipient_key, ids);
  WITH changed AS (
    UPDATE msgpool.inbox i SET read_at = now()
     WHERE i.recipient_key = inbox_mark_read.recipient_key AND i.read_at IS NULL
       AND (ids IS NULL OR i.id = ANY (ids))
    RETURNING 1)
  SELECT count(*)::integer FROM changed;
$$;

COMMENT ON FUNCTION msgpool.inbox_mark_read IS 'Marks some (or, with NULL, all) of a recipient''s inbox messages read; returns how many changed';

-- One inbox message in full, as inbox_list() shows it; opening it marks it read.
CREATE FUNCTION msgpool.inbox_show(recipient_key text, id bigint)
RETURNS SETOF msgpool.inbox_entry
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM msgpool.require_inbox_ids(inbox_show.recipient_key, ARRAY[inbox_show.id]);
  UPDATE msgpool.inbox i SET read_at = now() WHERE i.id = inbox_show.id AND i.read_at IS NULL;
  RETURN QUERY SELECT e.* FROM msgpool.inbox_entry e WHERE e.id = inbox_show.id;
END;
$$;

COMMENT ON FUNCTION msgpool.inbox_show IS 'One inbox message in full; opening it marks it read';

-- Archive (out of the list and the unread count, kept) or bring back some of a recipient's
-- inbox messages; returns how many changed. Ids that are not theirs are MP009.
CREATE FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean DEFAULT true)
RETURNS integer
LANGUAGE sql
AS $$
  SELECT msgpool.require_inbox_ids(inbox_archive.recipient_key, ids);
  WITH changed AS (
    UPDATE msgpool.inbox i SET archived_at = CASE WHEN archived THEN now() END
     WHERE i.id = ANY (ids) AND (i.archived_at IS NOT NULL) <> archived
    RETURNING 1)
  SELECT count(*)::integer FROM changed;
$$;

COMMENT ON FUNCTION msgpool.inbox_archive IS 'Archives some inbox messages (or, archived false, brings them back); returns how many changed';

-- Delete some of a recipient's inbox messages for good; returns how many. Ids that are not
-- theirs are MP009. The message and its deliveries stay as the pool's history.
CREATE FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[])
RETURNS integer
LANGUAGE sql
AS $$
  SELECT msgpool.require_inbox_ids(inbox_delete.recipient_key, ids);
  WITH gone AS (DELETE FROM msgpool.inbox i WHERE i.id = ANY (ids) RETURNING 1)
  SELECT count(*)::integer FROM gone;
$$;

COMMENT ON FUNCTION msgpool.inbox_delete IS 'Deletes some inbox messages for good; the message and its deliveries stay as history';

-- Signed links to one recipient's inbox. A back-office application gives its signed-in user
-- `/inbox/{recipient}?token=...` with a token from inbox_token(): the scope it grants, when
-- it ends (0: never), and an HMAC of the recipient's key, the scope and the end with that
-- recipient's own secret (recipient.inbox_secret). A link names one recipient and does one
-- thing: `inbox` reads and marks read, `count` only counts the unread (the bell, which other
-- pages embed). Rotating a recipient's secret revokes their links; removing the recipient
-- takes the secret along, so one re-added under the same key gets none of the old links.
CREATE FUNCTION msgpool.inbox_token(recipient_key text, scope text DEFAULT 'inbox',
                                    valid_for interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  secret bytea;
  ends bigint := coalesce(extract(epoch FROM now() + valid_for)::bigint, 0);
BEGIN
  PERFORM msgpool.require_recipient(recipient_key);
  IF scope NOT IN ('inbox', 'count') THEN
    RAISE EXCEPTION 'no inbox link scope %', quote_literal(scope)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'inbox (read and mark read) or count (the bell)';
  END IF;
  SELECT r.inbox_secret INTO secret FROM msgpool.recipient r WHERE r.key = inbox_token.recipient_key;
  RETURN scope || '-' || ends || '-'
         || encode(msgpool.hmac_sha256(secret, convert_to(recipient_key || E'\n' || scope || E'\n' || ends, 'UTF8')), 'hex');
END;
$$;

COMMENT ON FUNCTION msgpool.inbox_token IS
  'The token of a recipient''s inbox link: scope inbox (read, mark read) or count (the bell), maybe ending';

-- A new secret for one recipient's links (or, with NULL, everyone's): every link given out
-- so far stops working. Returns how many recipients got one.
CREATE FUNCTION msgpool.inbox_rotate_secret(recipient_key text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  rotated integer;
BEGIN
  IF recipient_key IS NOT NULL THEN
    PERFORM msgpool.require_recipient(recipient_key);
  END IF;
  UPDATE msgpool.recipient r SET inbox_secret = msgpool.new_inbox_secret()
   WHERE inbox_rotate_secret.recipient_key IS NULL OR r.key = inbox_rotate_secret.recipient_key;
  GET DIAGNOSTICS rotated = ROW_COUNT;
  RETURN rotated;
END;
$$;

COMMENT ON FUNCTION msgpool.inbox_rotate_secret IS
  'A new link secret for one recipient (or all): every inbox link given out so far stops working';

-- Refuses a token that is not the recipient's, does not grant `scope` (an inbox token grants
-- count too), or has ended (MP017), comparing the whole token.
CREATE FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  granted text := split_part(token, '-', 1);
  ends text := split_part(token, '-', 2);
BEGIN
  IF token IS NULL OR length(token) > 200 OR ends !~ '^[0-9]{1,12}$' THEN
    ends := '-1';  -- no token, or not one of ours: refused below
  END IF;
  IF ends = '-1'
     OR NOT (granted = scope OR (granted = 'inbox' AND scope = 'count'))
     OR (ends <> '0' AND ends::bigint < extract(epoch FROM now()))
     OR NOT EXISTS (
       SELECT 1 FROM msgpool.recipient r
        WHERE r.key = require_inbox_token.recipient_key
          AND granted || '-' || ends || '-'
              || encode(msgpool.hmac_sha256(r.inbox_secret,
                          convert_to(r.key || E'\n' || granted || E'\n' || ends, 'UTF8')), 'hex') = token) THEN
    RAISE EXCEPTION 'this inbox link is not valid for %', quote_literal(recipient_key)
      USING ERRCODE = 'MP017',
            HINT = 'ask for a new link: msgpool inbox link RECIPIENT, or SELECT msgpool.inbox_token(recipient)';
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.require_inbox_token IS
  'Refuses a token that is not the recipient''s, grants not the scope, or has ended (MP017)';

-- The inbox as its owner reaches it through a signed link: each function checks the token,
-- then does what the administrators' inbox function of the same name does. The
-- msgpool_inbox role may call these and nothing else.
CREATE FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer DEFAULT 1,
                                          page_size integer DEFAULT 20)
RETURNS SETOF msgpool.inbox_entry
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN QUERY SELECT * FROM msgpool.inbox_list(recipient_key, false, page, page_size, false);
END;
$$;

COMMENT ON FUNCTION msgpool.signed_inbox_list IS 'inbox_list() for the holder of the recipient''s link token';

CREATE FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'count');
  RETURN msgpool.inbox_unread_count(recipient_key);
END;
$$;

COMMENT ON FUNCTION msgpool.signed_inbox_unread_count IS 'inbox_unread_count() for the holder of the recipient''s link token';

CREATE FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint)
RETURNS SETOF msgpool.inbox_entry
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN QUERY SELECT * FROM msgpool.inbox_show(recipient_key, id);
END;
$$;

COMMENT ON FUNCTION msgpool.signed_inbox_show IS 'inbox_show() for the holder of the recipient''s link token';

CREATE FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN msgpool.inbox_mark_read(recipient_key, ids);
END;
$$;

COMMENT ON FUNCTION msgpool.signed_inbox_mark_read IS 'inbox_mark_read() for the holder of the recipient''s link token';
