-- require_recipient() as in V5, with the fallback hint reachable: format('%L', NULL) is the
-- word NULL, so a key like no other got "did you mean NULL?" instead of how to list them.
CREATE OR REPLACE FUNCTION msgpool.require_recipient(recipient text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM msgpool.recipient r WHERE r.key = recipient) THEN
    RAISE EXCEPTION 'unknown recipient %', coalesce(quote_literal(recipient), 'NULL')
      USING ERRCODE = 'MP005',
            HINT = coalesce(
              'did you mean ' || quote_literal(msgpool.nearest_key(recipient,
                       ARRAY(SELECT r.key::text FROM msgpool.recipient r))) || '?',
              'list recipients with: msgpool recipient list');
  END IF;
END;
$$;
