-- A woken worker's dispatch_and_claim() keeps one plan for each statement it runs,
-- dispatch()'s included. Under the default plan_cache_mode PostgreSQL planned dispatch()'s
-- large statement afresh on every call: a plan for the batch size in hand always looked
-- cheaper than the general one. For a lone message, the usual reason a worker is woken,
-- that planning was a good part of its way to the inbox. Measured with pg_stat_statements,
-- 300 lone messages, taking turns: 0.74 ms a call on average before, 0.62 after.
--
-- A busy worker calls dispatch() directly and keeps a plan for its batch: the general plan
-- expands full batches at well under half the rate (burn-down 14,600 -> 6,100 per second
-- when dispatch() itself was set so). Only the first batch after a wait goes that way.
ALTER FUNCTION msgpool.dispatch_and_claim(integer, msgpool.channel[], interval)
  SET plan_cache_mode = force_generic_plan;
