-- For an idle worker woken by a producer: expand what is due and claim the deliveries that
-- are due on the worker's channels, in one round trip instead of two, so that a lone
-- message reaches its recipient sooner. Busy workers call dispatch() and
-- claim_deliveries() separately, from separate tasks, so expansion and sending overlap.
CREATE FUNCTION msgpool.dispatch_and_claim(batch_size integer, channels msgpool.channel[], lease interval)
RETURNS SETOF msgpool.claimed_delivery
LANGUAGE plpgsql
AS $$
DECLARE
  on_channel msgpool.channel;
BEGIN
  PERFORM msgpool.dispatch(batch_size);
  FOREACH on_channel IN ARRAY channels LOOP
    -- a glance at the claim's own index spares a channel with nothing due the whole claim
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                               WHERE d.state = 'pending' AND d.channel = on_channel
                                 AND d.next_attempt_at <= msgpool.clock());
    RETURN QUERY SELECT * FROM msgpool.claim_deliveries(on_channel, batch_size, lease);
  END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION msgpool.dispatch_and_claim(integer, msgpool.channel[], interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION msgpool.dispatch_and_claim(integer, msgpool.channel[], interval) TO msgpool_worker;
