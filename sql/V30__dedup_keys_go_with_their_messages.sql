-- A dedup key goes with the message it counts on. Deleting an open message (by hand, or a
-- prune whose retention is shorter than the type's dedup window) left its key naming a
-- message that was gone: count_duplicate() found nothing to count on, so every repeat for
-- the rest of the window went out as a new message and none of them took the key over.
-- Now the key is forgotten with its message, and the next repeat opens a new one.

-- message_deleted() as in V22, also deleting the keys of the deleted messages.
CREATE OR REPLACE FUNCTION msgpool.message_deleted()
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

-- Keys left behind by messages deleted before this migration.
DELETE FROM msgpool.dedup k
 WHERE NOT EXISTS (SELECT 1 FROM msgpool.message m WHERE m.id = k.message_id);
