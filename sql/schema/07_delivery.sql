-- A delivery: one recipient on one channel for one message, and every attempt at it. The
-- expander makes them (08_expand.sql), workers claim them (09_claim.sql) and record how
-- each attempt went (10_outcomes.sql); the inbox channel records its own (11_inbox.sql).
--
-- A delivery's states, and every change between them (each written once, in the function
-- named):
--
--   from      to         by                          why
--   (new)     pending    expand()                    a recipient to tell on a channel; due at
--                                                    next_attempt_at (deferred_by: the rule)
--   (new)     skipped    expand()                    it cannot be made: skip_reason says why
--   pending   pending    defer_over_recipient_limit  over a recipient's rate limit: later
--                        defer_over_robot_limit      over a chat robot's limit: later
--   pending   sending    claim_deliveries()          a worker's claim: lease_token, lease_deadline
--   pending   cancelled  cancel()                    its message was cancelled
--   sending   sent       record_outcomes()           the provider took it (sent_at)
--                        deliver_to_inbox()          the inbox row is written (sent_at)
--   sending   pending    record_outcomes()           retry (backoff) or throttled (the
--                                                    provider's wait; no attempt spent)
--                        release_deliveries()        given back unstarted (no attempt spent)
--                        rescue_expired_leases()     its worker stopped or hung
--   sending   dead       record_outcomes()           failed for good, or out of attempts
--                        rescue_expired_leases()     its lease expired on its last attempt
--   sending   cancelled  any of the three above      its message was cancelled meanwhile
--   dead      pending    retry_deliveries()          an operator's second chance
--
-- Where a lease ends unsent is one rule, unsent_state(), used by all three. sent, skipped
-- and cancelled are final; dead waits for a person. The constraints below make the states'
-- promises hold whoever writes the rows: a leased delivery is sending and only a sending one
-- is leased, a sent one has sent_at, a skipped one a reason, a dead one its last error.
--
-- Claims are leases: a claim commits at once, the send happens outside any transaction, and
-- the outcome is written only under the lease token, so a stale worker cannot overwrite a
-- newer claim; an expired lease makes the delivery claimable again. Rules (send times, quiet
-- hours, rate limits) read msgpool.clock(); leases the real now(). The queue's functions run
-- with the owner's rights: the worker role reaches the tables only through them.
--
-- No foreign keys on this hot path (each check locked the row it named, once per delivery):
-- deliveries go with their message by message_deleted(), attempts with their delivery by
-- delivery_deleted(), and recipient_guard() keeps a recipient with history.
CREATE TABLE msgpool.delivery (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id      bigint NOT NULL,
  recipient_key   msgpool.recipient_key NOT NULL,
  channel         msgpool.channel NOT NULL,
  state           msgpool.delivery_state NOT NULL DEFAULT 'pending',
  attempts        integer NOT NULL DEFAULT 0 CONSTRAINT delivery_attempts_not_negative CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_token     uuid,
  lease_deadline  timestamptz,
  last_error      text,
  skip_reason     text,
  provider_ref    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  deferred_by     text,
  gather_key      text,
  gathered_into   bigint,
  CONSTRAINT delivery_once UNIQUE (message_id, recipient_key, channel),
  CONSTRAINT delivery_leased_while_sending
    CHECK ((state = 'sending') = (lease_token IS NOT NULL AND lease_deadline IS NOT NULL)),
  CONSTRAINT delivery_sent_has_sent_at CHECK (state <> 'sent' OR sent_at IS NOT NULL),
  CONSTRAINT delivery_skip_has_reason CHECK (state <> 'skipped' OR skip_reason IS NOT NULL),
  CONSTRAINT delivery_dead_has_error CHECK (state <> 'dead' OR last_error IS NOT NULL)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

COMMENT ON TABLE msgpool.delivery IS
  'One recipient on one channel for one message: what is retried, rate-limited and audited';
COMMENT ON COLUMN msgpool.delivery.attempts IS 'Attempts spent (a throttled one or a give-back spends none)';
COMMENT ON COLUMN msgpool.delivery.next_attempt_at IS 'When it is due (again)';
COMMENT ON COLUMN msgpool.delivery.lease_token IS 'While sending: only the holder of this token may write the outcome';
COMMENT ON COLUMN msgpool.delivery.lease_deadline IS 'While sending: after this the delivery may be claimed again';
COMMENT ON COLUMN msgpool.delivery.last_error IS 'Why the last attempt failed (cleared once sent)';
COMMENT ON COLUMN msgpool.delivery.skip_reason IS 'Why a skipped delivery could not be made';
COMMENT ON COLUMN msgpool.delivery.provider_ref IS 'The provider''s id for what was sent: Message-ID, BizId, inbox:<id>';
COMMENT ON COLUMN msgpool.delivery.deferred_by IS 'The rule that put next_attempt_at in the future, in words';
COMMENT ON COLUMN msgpool.delivery.gather_key IS 'Set where deliveries may be gathered into one digest: their type''s key';
COMMENT ON COLUMN msgpool.delivery.gathered_into IS 'A delivery sent inside another''s digest: that one''s id';

-- Exactly the rows a claim takes per channel, and the leases that may have expired.
CREATE INDEX delivery_due ON msgpool.delivery (channel, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX delivery_lease ON msgpool.delivery (lease_deadline) WHERE state = 'sending';
CREATE INDEX delivery_dead ON msgpool.delivery (channel, id) WHERE state = 'dead';
CREATE INDEX delivery_recipient ON msgpool.delivery (recipient_key);
CREATE INDEX delivery_sent_at ON msgpool.delivery (sent_at) WHERE state = 'sent';

CREATE TABLE msgpool.delivery_attempt (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL,
  attempt     integer NOT NULL,
  outcome     msgpool.attempt_outcome NOT NULL,
  error       text,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  worker      text
);

CREATE INDEX delivery_attempt_delivery ON msgpool.delivery_attempt (delivery_id);

COMMENT ON TABLE msgpool.delivery_attempt IS 'Every attempt at a delivery: its outcome, the provider''s answer, who and when';
COMMENT ON COLUMN msgpool.delivery_attempt.attempt IS 'Its number; a throttled attempt keeps the number it had';
COMMENT ON COLUMN msgpool.delivery_attempt.worker IS 'The name of the worker that made it';

-- Where a delivery goes when its lease ends unsent: cancelled when its message was cancelled
-- meanwhile (a cancel sticks, whatever the lease), dead when it failed for good or has spent
-- its last attempt, else pending, due again. Inlined by the planner into its callers.
CREATE FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean,
                                     out_of_attempts boolean)
RETURNS msgpool.delivery_state
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN message_state = 'cancelled' THEN 'cancelled'
              WHEN failed_for_good OR out_of_attempts THEN 'dead'
              ELSE 'pending' END::msgpool.delivery_state
$$;

COMMENT ON FUNCTION msgpool.unsent_state IS
  'Where a lease that ended unsent leaves its delivery: cancelled, dead or pending';

-- The contract between the queue and a worker, in any language: a claim returns these rows
-- (09_claim.sql); a worker writes back outcome rows (10_outcomes.sql) and, for the inbox,
-- inbox_item rows (11_inbox.sql), each as a JSON array of objects with these keys.

-- Everything a worker needs to render and send one claimed delivery. Deliveries sharing a
-- lease token are one digest, the lowest id its lead.
CREATE TYPE msgpool.claimed_delivery AS (
  id              bigint,
  lease_token     uuid,
  attempt         integer,
  channel         msgpool.channel,
  message_id      bigint,
  payload         jsonb,
  duplicate_count integer,
  created_at      text,   -- in the type's time zone, with the offset (msgpool.local_time)
  urgency         msgpool.urgency,
  type_key        text,
  type_name       text,
  category        text,
  subject         text,   -- the channel's template; NULL: the built-in default
  body            text,
  recipient_key   text,
  recipient_name  text,
  email           text,
  phone           text,
  webhook_url     text,
  webhook_flavor  msgpool.webhook_flavor,
  webhook_secret  text,
  digest_subject  text,   -- the channel's digest template; NULL: the built-in digest
  digest_body     text,
  html_body       text,   -- an email template's HTML part; NULL: plain text only
  -- the same on every send of this delivery (its id and when it was made, unique beyond this
  -- database), so a receiver can drop a repeat: the email's Message-ID, Idempotency-Key
  identity        text
);

COMMENT ON TYPE msgpool.claimed_delivery IS
  'A claimed delivery with everything to render and send it; rows sharing a lease_token are one digest';

-- How one attempt went, as a worker reports it to record_outcomes(). error: why it failed,
-- or who asked to wait; wait_ms: how long a throttled one waits.
CREATE TYPE msgpool.outcome AS (
  id           bigint,
  lease_token  uuid,
  outcome      msgpool.attempt_outcome,
  error        text,
  provider_ref text,
  started_at   timestamptz,
  worker       text,
  wait_ms      bigint
);

COMMENT ON TYPE msgpool.outcome IS 'How one attempt at a claimed delivery went, as a worker reports it';

CREATE FUNCTION msgpool.delivery_deleted()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE msgpool.delivery_attempt;
  ELSE
    DELETE FROM msgpool.delivery_attempt a USING gone WHERE a.delivery_id = gone.id;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER delivery_deleted AFTER DELETE ON msgpool.delivery
  REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();
CREATE TRIGGER delivery_truncated AFTER TRUNCATE ON msgpool.delivery
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();

-- A recipient's history, in place of foreign keys from deliveries and inbox rows: a rename
-- follows into both; a recipient with deliveries cannot be removed (23503: disable it
-- instead), and removing one without takes its inbox along. The table lock waits for every
-- expansion writing deliveries and holds new ones until this commits, as the keys' row locks
-- did; removals and renames are rare and quick. The owner's rights, as a cascade had.
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

CREATE TRIGGER recipient_guard BEFORE DELETE OR UPDATE OF key ON msgpool.recipient
  FOR EACH ROW EXECUTE FUNCTION msgpool.recipient_guard();

-- TRUNCATE of recipients: only an empty history may go with them.
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

CREATE TRIGGER recipient_truncate_guard BEFORE TRUNCATE ON msgpool.recipient
  FOR EACH STATEMENT EXECUTE FUNCTION msgpool.recipient_truncate_guard();
