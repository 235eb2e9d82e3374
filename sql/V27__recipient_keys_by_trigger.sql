-- The last two foreign keys on the tables every delivery writes, replaced by a trigger on
-- the side that is rarely written, as V22 did for the message keys. Each new delivery and
-- each new inbox row ran the key's check: a query that also locks the recipient's row
-- (FOR KEY SHARE), a write to its tuple header and a WAL record, twice per delivery.
-- Measured with a 50,000-delivery burn-down on this machine, taking turns:
-- 15,475 / 14,529 -> 16,676 / 16,165 deliveries/s.
--
-- What the keys guaranteed still holds:
-- * renaming a recipient renames it in its deliveries and inbox rows (ON UPDATE CASCADE);
-- * a recipient with deliveries cannot be removed (they are history: disable it instead),
--   SQLSTATE 23503 as before; removing one without takes its inbox rows along;
-- * a dispatch under way cannot slip a delivery past either: the trigger first waits for
--   every transaction writing deliveries, and holds new ones until it commits. The keys'
--   row locks ordered the two; this table lock does, for an operation that is rare and
--   quick (workers pause for the length of the removing transaction).

ALTER TABLE msgpool.delivery DROP CONSTRAINT delivery_recipient_key_fkey;
ALTER TABLE msgpool.inbox DROP CONSTRAINT inbox_recipient_key_fkey;

-- The owner's rights, as the keys' cascades had.
CREATE FUNCTION msgpool.recipient_guard()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.key = OLD.key THEN
    RETURN NEW;
  END IF;
  -- Conflicts with itself too, so two renames at once queue instead of deadlocking.
  LOCK TABLE msgpool.delivery IN SHARE ROW EXCLUSIVE MODE;
  IF TG_OP = 'UPDATE' THEN
    UPDATE msgpool.delivery d SET recipient_key = NEW.key WHERE d.recipient_key = OLD.key;
    UPDATE msgpool.inbox i SET recipient_key = NEW.key WHERE i.recipient_key = OLD.key;
    RETURN NEW;
  END IF;
  IF EXISTS (SELECT 1 FROM msgpool.delivery d WHERE d.recipient_key = OLD.key) THEN
    RAISE EXCEPTION 'recipient % has deliveries, which are history', quote_literal(OLD.key)
      USING ERRCODE = 'foreign_key_violation',
            HINT = format('disable them instead: msgpool recipient disable %s', OLD.key);
  END IF;
  DELETE FROM msgpool.inbox i WHERE i.recipient_key = OLD.key;
  RETURN OLD;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.recipient_guard() FROM PUBLIC;

CREATE TRIGGER recipient_guard BEFORE DELETE OR UPDATE OF key ON msgpool.recipient
  FOR EACH ROW EXECUTE FUNCTION msgpool.recipient_guard();

-- TRUNCATE ... CASCADE emptied deliveries and inboxes with the recipients; now it would
-- leave them naming nobody. Only an empty history may go with the recipients.
CREATE FUNCTION msgpool.recipient_truncate_guard()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  LOCK TABLE msgpool.delivery IN SHARE ROW EXCLUSIVE MODE;
  IF EXISTS (SELECT 1 FROM msgpool.delivery) THEN
    RAISE EXCEPTION 'recipients have deliveries, which are history'
      USING ERRCODE = 'foreign_key_violation',
            HINT = 'truncate msgpool.message first (its deliveries go with it), or disable the recipients';
  END IF;
  TRUNCATE msgpool.inbox;
  RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.recipient_truncate_guard() FROM PUBLIC;

CREATE TRIGGER recipient_truncate_guard BEFORE TRUNCATE ON msgpool.recipient
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.recipient_truncate_guard();
