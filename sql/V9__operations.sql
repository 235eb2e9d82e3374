-- What operators look at and do: throughput and trouble per channel, and re-queueing
-- deliveries that gave up once the cause is fixed.

CREATE INDEX delivery_sent_at ON msgpool.delivery (sent_at) WHERE state = 'sent';

-- One row per channel:
--   SELECT * FROM msgpool.channel_status;
-- sent_last_minute: deliveries sent in the last 60 s (throughput)
-- pending / sending / dead: deliveries waiting, leased to a worker now, given up
CREATE VIEW msgpool.channel_status AS
SELECT c AS channel,
       (SELECT count(*) FROM msgpool.delivery d
         WHERE d.channel = c AND d.state = 'sent' AND d.sent_at > now() - interval '1 minute') AS sent_last_minute,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'pending') AS pending,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'sending') AS sending,
       (SELECT count(*) FROM msgpool.delivery d WHERE d.channel = c AND d.state = 'dead') AS dead
  FROM unnest(enum_range(NULL::msgpool.channel)) AS c;

-- Re-queues dead deliveries: the ones named by id, or all matching the filters given
-- (all NULL: every dead delivery). They get a fresh set of attempts, due at once; their
-- last error stays visible until the next attempt. Returns how many were re-queued.
CREATE FUNCTION msgpool.retry_deliveries(
  ids           bigint[] DEFAULT NULL,
  type_key      text DEFAULT NULL,
  recipient_key text DEFAULT NULL,
  channel       msgpool.channel DEFAULT NULL
)
RETURNS integer
LANGUAGE sql
AS $$
  WITH requeued AS (
    UPDATE msgpool.delivery d
       SET state = 'pending', attempts = 0, next_attempt_at = now()
      FROM msgpool.message m
     WHERE m.id = d.message_id
       AND d.state = 'dead'
       AND (retry_deliveries.ids IS NULL OR d.id = ANY (retry_deliveries.ids))
       AND (retry_deliveries.type_key IS NULL OR m.type_key = retry_deliveries.type_key)
       AND (retry_deliveries.recipient_key IS NULL OR d.recipient_key = retry_deliveries.recipient_key)
       AND (retry_deliveries.channel IS NULL OR d.channel = retry_deliveries.channel)
    RETURNING 1
  )
  SELECT count(*)::integer FROM requeued
$$;

GRANT SELECT ON msgpool.channel_status TO msgpool_worker;
