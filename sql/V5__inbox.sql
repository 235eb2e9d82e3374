-- The inbox API for a back-office page: list, count unread, mark read.
-- Each refuses an unknown recipient with MP005 rather than answering "nothing".

CREATE FUNCTION msgpool.require_recipient(recipient text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM msgpool.recipient r WHERE r.key = recipient) THEN
    RAISE EXCEPTION 'unknown recipient %', coalesce(quote_literal(recipient), 'NULL')
      USING ERRCODE = 'MP005',
            HINT = coalesce(
              format('did you mean %L?', msgpool.nearest_key(recipient,
                       ARRAY(SELECT r.key::text FROM msgpool.recipient r))),
              'list recipients with: msgpool recipient list');
  END IF;
END;
$$;

-- A recipient's inbox, unread first, then newest first; pages start at 1.
CREATE FUNCTION msgpool.inbox_list(
  recipient   text,
  unread_only boolean DEFAULT false,
  page        integer DEFAULT 1,
  page_size   integer DEFAULT 20
)
RETURNS SETOF msgpool.inbox
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
    SELECT i.* FROM msgpool.inbox i
     WHERE i.recipient_key = recipient
       AND (NOT unread_only OR i.read_at IS NULL)
     ORDER BY i.read_at IS NOT NULL, i.created_at DESC, i.id DESC
     LIMIT page_size OFFSET (page - 1) * page_size;
END;
$$;

CREATE FUNCTION msgpool.inbox_unread_count(recipient text)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  PERFORM msgpool.require_recipient(recipient);
  RETURN (SELECT count(*) FROM msgpool.inbox i WHERE i.recipient_key = recipient AND i.read_at IS NULL);
END;
$$;

-- Mark some (ids) or all (ids NULL) of a recipient's inbox messages read; returns how many
-- changed. Ids that are not this recipient's are refused (MP009), not skipped.
CREATE FUNCTION msgpool.inbox_mark_read(recipient text, ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  foreign_ids bigint[];
  changed integer;
BEGIN
  PERFORM msgpool.require_recipient(recipient);
  IF ids IS NOT NULL THEN
    SELECT array_agg(wanted ORDER BY wanted) INTO foreign_ids
      FROM unnest(ids) AS wanted
     WHERE NOT EXISTS (SELECT 1 FROM msgpool.inbox i WHERE i.id = wanted AND i.recipient_key = recipient);
    IF foreign_ids IS NOT NULL THEN
      RAISE EXCEPTION 'no inbox message % for recipient %', array_to_string(foreign_ids, ', '), quote_literal(recipient)
        USING ERRCODE = 'MP009',
              HINT = format('list the inbox with: msgpool inbox %s', recipient);
    END IF;
  END IF;
  UPDATE msgpool.inbox i SET read_at = now()
   WHERE i.recipient_key = recipient
     AND i.read_at IS NULL
     AND (ids IS NULL OR i.id = ANY (ids));
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed;
END;
$$;
