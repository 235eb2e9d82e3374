-- Every setting an administrator may change, in one row: the door's limits, the retry
-- timing, how much one claim may hold, and where webhooks may go. A row only administrators write, not session settings: a producer's session could
-- otherwise lift a limit (a 30 MB payload) for itself, and a worker's session could make a
-- provider outage end in a stampede.
--   UPDATE msgpool.settings SET max_payload_bytes = 262144, retry_cap = '30 minutes';
-- The one session setting msgpool reads is msgpool.clock (01_vocabulary.sql), a pin for
-- tests and "what would happen at 08:00?", not a setting of the pool.
CREATE TABLE msgpool.settings (
  only_row           boolean PRIMARY KEY DEFAULT true CONSTRAINT settings_one_row CHECK (only_row),
  max_payload_bytes  integer NOT NULL DEFAULT 65536
                     CONSTRAINT settings_max_payload_bytes_range CHECK (max_payload_bytes BETWEEN 1024 AND 104857600),
  max_deliver_at_lag interval NOT NULL DEFAULT '1 hour'
                     CONSTRAINT settings_max_deliver_at_lag_not_negative CHECK (max_deliver_at_lag >= interval '0'),
  retry_base         interval NOT NULL DEFAULT '5 seconds'
                     CONSTRAINT settings_retry_base_not_negative CHECK (retry_base >= interval '0'),
  retry_cap          interval NOT NULL DEFAULT '1 hour',
  max_claim_bytes    integer NOT NULL DEFAULT 16777216
                     CONSTRAINT settings_max_claim_bytes_range CHECK (max_claim_bytes BETWEEN 65536 AND 1073741824),
  -- link-local (cloud metadata at 169.254.169.254), Alibaba's and AWS's IPv6 metadata, and
  -- the unspecified addresses (0.0.0.0 reaches this host)
  outbound_deny      cidr[] NOT NULL
                     DEFAULT '{169.254.0.0/16, fe80::/10, 100.100.100.200/32, fd00:ec2::254/128, 0.0.0.0/8, ::/128}',
  outbound_allow     cidr[] NOT NULL DEFAULT '{}',
  CONSTRAINT settings_retry_cap_above_base CHECK (retry_cap >= retry_base)
);

INSERT INTO msgpool.settings DEFAULT VALUES;

COMMENT ON TABLE msgpool.settings IS
  'Every setting an administrator may change (one row): the door''s limits and the retry timing';
COMMENT ON COLUMN msgpool.settings.max_payload_bytes IS 'Payloads larger than this, as stored, are refused (MP004)';
COMMENT ON COLUMN msgpool.settings.max_deliver_at_lag IS 'A deliver_at further in the past than this is refused (MP007)';
COMMENT ON COLUMN msgpool.settings.retry_base IS 'The wait before a failed delivery''s first retry; each retry doubles it';
COMMENT ON COLUMN msgpool.settings.retry_cap IS 'The longest wait between retries';
COMMENT ON COLUMN msgpool.settings.max_claim_bytes IS
  'A claim takes deliveries until their payloads reach this many bytes (at least one): a worker''s memory follows it';
COMMENT ON COLUMN msgpool.settings.outbound_deny IS
  'Networks webhooks may not reach, checked after DNS resolution, before any connection';
COMMENT ON COLUMN msgpool.settings.outbound_allow IS 'Networks webhooks may reach even inside outbound_deny';

CREATE FUNCTION msgpool.max_payload_bytes()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT s.max_payload_bytes FROM msgpool.settings s $$;

COMMENT ON FUNCTION msgpool.max_payload_bytes IS 'The payload size limit of msgpool.settings';

CREATE FUNCTION msgpool.max_deliver_at_lag()
RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT s.max_deliver_at_lag FROM msgpool.settings s $$;

COMMENT ON FUNCTION msgpool.max_deliver_at_lag IS 'How far in the past deliver_at may be, from msgpool.settings';

-- Where webhooks may go, for the workers (which read no table): networks refused after DNS
-- resolution, and exceptions to them.
CREATE FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.outbound_deny::text[], s.outbound_allow::text[] FROM msgpool.settings s $$;

COMMENT ON FUNCTION msgpool.outbound_policy IS 'The networks webhooks may not reach, and the exceptions (settings)';

-- How long to wait before retry number `attempt` (1 = the first retry): exponential from
-- retry_base up to retry_cap, with ±25 % jitter so a provider outage does not end in a
-- synchronised stampede.
CREATE FUNCTION msgpool.backoff(attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $$
  SELECT least(s.retry_base * power(2, least(greatest(attempt, 1) - 1, 30)), s.retry_cap)
         * (0.75 + random() * 0.5)
    FROM msgpool.settings s
$$;

COMMENT ON FUNCTION msgpool.backoff IS
  'The wait before retry number attempt: doubling from settings.retry_base up to retry_cap, ±25 % jitter';
