-- What happens to a message: one delivery per recipient and channel, every attempt at it,
-- and the in-site inbox that the inbox channel writes into.

CREATE TABLE msgpool.delivery (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id      bigint NOT NULL REFERENCES msgpool.message (id) ON DELETE CASCADE,
  -- a recipient with deliveries is history: it can be disabled, not deleted
  recipient_key   msgpool.recipient_key NOT NULL REFERENCES msgpool.recipient (key) ON UPDATE CASCADE,
  channel         msgpool.channel NOT NULL,
  state           msgpool.delivery_state NOT NULL DEFAULT 'pending',
  attempts        integer NOT NULL DEFAULT 0 CONSTRAINT delivery_attempts_not_negative CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- a claim is a lease: only the holder of lease_token may write the outcome, and once
  -- lease_deadline passes the delivery may be claimed again
  lease_token     uuid,
  lease_deadline  timestamptz,
  last_error      text,
  skip_reason     text,
  -- the provider's id for what was sent (an email's Message-ID, an SMS gateway's BizId, ...)
  provider_ref    text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  CONSTRAINT delivery_once UNIQUE (message_id, recipient_key, channel),
  CONSTRAINT delivery_leased_while_sending
    CHECK ((state = 'sending') = (lease_token IS NOT NULL AND lease_deadline IS NOT NULL)),
  CONSTRAINT delivery_skip_has_reason CHECK (state <> 'skipped' OR skip_reason IS NOT NULL)
);

-- Exactly the rows a deliverer claims per channel, and the leases that may have expired.
CREATE INDEX delivery_due ON msgpool.delivery (channel, next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX delivery_lease ON msgpool.delivery (lease_deadline) WHERE state = 'sending';
CREATE INDEX delivery_dead ON msgpool.delivery (channel) WHERE state = 'dead';
CREATE INDEX delivery_recipient ON msgpool.delivery (recipient_key);

CREATE TABLE msgpool.delivery_attempt (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id bigint NOT NULL REFERENCES msgpool.delivery (id) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  outcome     msgpool.attempt_outcome NOT NULL,
  error       text,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  worker      text
);

CREATE INDEX delivery_attempt_delivery ON msgpool.delivery_attempt (delivery_id);

-- The in-site inbox (站内信). A row keeps its own rendered copy, so it stays readable after
-- old messages and deliveries are pruned.
CREATE TABLE msgpool.inbox (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient_key msgpool.recipient_key NOT NULL
                REFERENCES msgpool.recipient (key) ON UPDATE CASCADE ON DELETE CASCADE,
  message_id    bigint REFERENCES msgpool.message (id) ON DELETE SET NULL,
  -- one inbox row per delivery, so a retried delivery cannot show twice
  delivery_id   bigint UNIQUE REFERENCES msgpool.delivery (id) ON DELETE SET NULL,
  type_key      text NOT NULL,
  urgency       msgpool.urgency NOT NULL,
  subject       text NOT NULL DEFAULT '',
  body          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  read_at       timestamptz
);

CREATE INDEX inbox_recipient_newest ON msgpool.inbox (recipient_key, created_at DESC, id DESC);
CREATE INDEX inbox_recipient_unread ON msgpool.inbox (recipient_key) WHERE read_at IS NULL;
