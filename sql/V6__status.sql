-- One row that says how the pool is doing:
--   SELECT * FROM msgpool.status;
-- messages/deliveries: count per state, e.g. {"pending": 3, "dispatched": 120}
-- oldest_due_age: how long the longest-waiting due work (message or delivery) has waited
-- dead: deliveries that gave up and need a person
CREATE VIEW msgpool.status AS
SELECT
  (SELECT coalesce(jsonb_object_agg(state, n ORDER BY state), '{}')
     FROM (SELECT state, count(*) AS n FROM msgpool.message GROUP BY state) m) AS messages,
  (SELECT coalesce(jsonb_object_agg(state, n ORDER BY state), '{}')
     FROM (SELECT state, count(*) AS n FROM msgpool.delivery GROUP BY state) d) AS deliveries,
  (SELECT now() - min(due)
     FROM (SELECT min(due_at) AS due FROM msgpool.message
            WHERE state = 'pending' AND due_at <= now()
           UNION ALL
           SELECT min(next_attempt_at) FROM msgpool.delivery
            WHERE state = 'pending' AND next_attempt_at <= now()) w) AS oldest_due_age,
  (SELECT count(*) FROM msgpool.delivery WHERE state = 'dead') AS dead;
