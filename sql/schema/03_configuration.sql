-- What administrators configure: message types and their templates, recipients, groups,
-- and who subscribes to what. Everything here is plain SQL-editable; the constraints make
-- an invalid configuration impossible whoever writes it (CLI, psql, another service).
-- Send-time rules beyond a type's own columns (quiet hours, rate limits) are in 04_policies.sql.

CREATE TABLE msgpool.message_type (
  key           msgpool.type_key PRIMARY KEY,
  name          text NOT NULL CONSTRAINT message_type_name_present CHECK (btrim(name) <> ''),
  description   text NOT NULL DEFAULT '',
  category      text NOT NULL DEFAULT '',
  urgency       msgpool.urgency NOT NULL DEFAULT 'normal',
  channels      msgpool.channel[] NOT NULL DEFAULT '{inbox}'
                CONSTRAINT message_type_channels_present
                CHECK (cardinality(channels) > 0 AND array_position(channels, NULL) IS NULL),
  send_policy   msgpool.send_policy NOT NULL DEFAULT 'immediate',
  -- times_of_day: local times in time_zone at which due messages go out, e.g. {08:00,17:00}
  send_times    time[] NOT NULL DEFAULT '{}',
  time_zone     text NOT NULL DEFAULT 'UTC'
                CONSTRAINT message_type_time_zone_known CHECK (msgpool.is_time_zone(time_zone)),
  -- interval: at most one notification per recipient and channel per send_interval
  send_interval interval,
  -- the same dedup key inside this window is counted on the open message, not sent again
  dedup_window  interval NOT NULL DEFAULT '1 hour'
                CONSTRAINT message_type_dedup_window_not_negative CHECK (dedup_window >= interval '0'),
  max_attempts  integer NOT NULL DEFAULT 8
                CONSTRAINT message_type_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
  enabled       boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  digest        boolean NOT NULL DEFAULT true,
  max_urgency   msgpool.urgency,
  any_recipient boolean NOT NULL DEFAULT false,
  CONSTRAINT message_type_send_times_given
    CHECK (send_policy <> 'times_of_day' OR cardinality(send_times) > 0),
  CONSTRAINT message_type_send_interval_given
    CHECK (send_policy <> 'interval' OR send_interval > interval '0')
);

COMMENT ON TABLE msgpool.message_type IS
  'Kinds of message producers may send, keyed by a developer-facing key such as server.down';
COMMENT ON COLUMN msgpool.message_type.key IS 'What producers write: msgpool.send(''server.down'', ...)';
COMMENT ON COLUMN msgpool.message_type.category IS 'For people: 账号异常, 订单异常, 服务器异常, ...';
COMMENT ON COLUMN msgpool.message_type.urgency IS 'The urgency of its messages unless a producer gives one; urgent ignores every window';
COMMENT ON COLUMN msgpool.message_type.channels IS 'The channels its messages go out on (a subscription may narrow them)';
COMMENT ON COLUMN msgpool.message_type.send_policy IS 'When its messages go out: immediate, times_of_day (send_times) or interval (send_interval)';
COMMENT ON COLUMN msgpool.message_type.send_times IS 'times_of_day: the local times in time_zone at which due messages go out';
COMMENT ON COLUMN msgpool.message_type.time_zone IS 'The IANA zone of send_times, quiet hours and the created_at templates show';
COMMENT ON COLUMN msgpool.message_type.send_interval IS 'interval: at most one notification per recipient and channel per this long';
COMMENT ON COLUMN msgpool.message_type.dedup_window IS 'A message with the dedup key of one opened less than this ago is counted on it, not sent (0: off)';
COMMENT ON COLUMN msgpool.message_type.max_attempts IS 'Attempts at a delivery before it is dead';
COMMENT ON COLUMN msgpool.message_type.enabled IS 'A disabled type is refused at the door (MP002); what is in the pool still goes out';
COMMENT ON COLUMN msgpool.message_type.digest IS
  'Deferred deliveries due together for one recipient and channel go out as one digest (true) or one by one';
COMMENT ON COLUMN msgpool.message_type.max_urgency IS
  'The most urgent a producer may ask its messages to be (MP018); NULL: no higher than urgency';
COMMENT ON COLUMN msgpool.message_type.any_recipient IS
  'Producers may name recipients who are not its subscribers; false: only subscribers (MP019)';

CREATE TRIGGER message_type_touch BEFORE UPDATE ON msgpool.message_type
  FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();
-- A type with messages cannot be removed or renamed: message_type_guard() in 03_message.sql.

-- One template per type and channel; variables come from the message payload.
-- A channel without a template gets the worker's built-in default; the digest's own
-- template (NULL: the built-in digest) lists the messages gathered for one recipient. An
-- email template may have an HTML part: the mail then goes as multipart/alternative, body
-- as its plain-text part, payload values HTML-escaped in the HTML part only.
CREATE TABLE msgpool.template (
  type_key       msgpool.type_key NOT NULL
                 REFERENCES msgpool.message_type (key) ON UPDATE CASCADE ON DELETE CASCADE,
  channel        msgpool.channel NOT NULL,
  subject        text NOT NULL DEFAULT '',
  body           text NOT NULL CONSTRAINT template_body_present CHECK (body <> ''),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  digest_subject text,
  digest_body    text CONSTRAINT template_digest_body_present CHECK (digest_body <> ''),
  html_body      text CONSTRAINT template_html_body_email_only CHECK (html_body IS NULL OR channel = 'email'),
  PRIMARY KEY (type_key, channel)
);

CREATE TRIGGER template_touch BEFORE UPDATE ON msgpool.template
  FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

COMMENT ON TABLE msgpool.template IS
  'A type''s template for one channel (minijinja; variables are the payload''s keys); none: the built-in one';
COMMENT ON COLUMN msgpool.template.digest_subject IS 'The digest''s subject (NULL: the built-in digest)';
COMMENT ON COLUMN msgpool.template.digest_body IS 'The digest''s body, over messages and count (NULL: the built-in digest)';
COMMENT ON COLUMN msgpool.template.html_body IS 'An email''s HTML part: the mail goes as multipart/alternative, body as its text';

-- A person or a chat group that can be told things. Each contact is optional: a channel
-- is used for a recipient only where the recipient has the contact for it.
CREATE TABLE msgpool.recipient (
  key            msgpool.recipient_key PRIMARY KEY,
  name           text NOT NULL CONSTRAINT recipient_name_present CHECK (btrim(name) <> ''),
  email          text CONSTRAINT recipient_email_format
                 CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' AND length(email) <= 254),
  -- E.164: a plus sign, the country code, the number, no spaces
  phone          text CONSTRAINT recipient_phone_format CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  webhook_url    text CONSTRAINT recipient_webhook_url_format
                 CHECK (webhook_url ~ '^https?://[^[:space:]/]+[^[:space:]]*$'),
  webhook_flavor msgpool.webhook_flavor NOT NULL DEFAULT 'generic',
  -- DingTalk/Feishu signing secret, or the HMAC key of a generic webhook
  webhook_secret text CONSTRAINT recipient_webhook_secret_needs_url
                 CHECK (webhook_secret IS NULL OR webhook_url IS NOT NULL),
  enabled        boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  inbox_secret   bytea NOT NULL DEFAULT msgpool.new_inbox_secret()
);

CREATE TRIGGER recipient_touch BEFORE UPDATE ON msgpool.recipient
  FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

COMMENT ON TABLE msgpool.recipient IS 'A person or a chat group that can be told things, with a contact per channel';
COMMENT ON COLUMN msgpool.recipient.phone IS 'E.164: +8613800000000';
COMMENT ON COLUMN msgpool.recipient.webhook_url IS 'A chat robot''s or a service''s webhook; its credentials are shown redacted';
COMMENT ON COLUMN msgpool.recipient.webhook_secret IS 'The signing secret (DingTalk, Feishu) or HMAC key (generic); never shown';
COMMENT ON COLUMN msgpool.recipient.inbox_secret IS
  'What the recipient''s inbox links are signed with (msgpool.inbox_token()); never shown, rotated by inbox_rotate_secret()';
COMMENT ON COLUMN msgpool.recipient.enabled IS 'A disabled recipient''s deliveries are recorded skipped; producers naming them are refused (MP006)';
-- A recipient's deliveries and inbox follow a rename and keep it from removal:
-- recipient_guard() in 05_delivery.sql.

CREATE TABLE msgpool.recipient_group (
  key         msgpool.recipient_key PRIMARY KEY,
  name        text NOT NULL CONSTRAINT recipient_group_name_present CHECK (btrim(name) <> ''),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE msgpool.recipient_group IS 'A named group of recipients, subscribed as one';

CREATE TABLE msgpool.group_member (
  group_key     msgpool.recipient_key NOT NULL
                REFERENCES msgpool.recipient_group (key) ON UPDATE CASCADE ON DELETE CASCADE,
  recipient_key msgpool.recipient_key NOT NULL
                REFERENCES msgpool.recipient (key) ON UPDATE CASCADE ON DELETE CASCADE,
  added_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_key, recipient_key)
);

CREATE INDEX group_member_recipient ON msgpool.group_member (recipient_key);

COMMENT ON TABLE msgpool.group_member IS 'Who is in which group';

-- A type's subscribers: a recipient or a group, optionally narrowed to some of the
-- type's channels (NULL: all of them). A paused subscription is kept as it is but receives
-- nothing until resumed (holidays, a robot being moved).
CREATE TABLE msgpool.subscription (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type_key      msgpool.type_key NOT NULL
                REFERENCES msgpool.message_type (key) ON UPDATE CASCADE ON DELETE CASCADE,
  recipient_key msgpool.recipient_key
                REFERENCES msgpool.recipient (key) ON UPDATE CASCADE ON DELETE CASCADE,
  group_key     msgpool.recipient_key
                REFERENCES msgpool.recipient_group (key) ON UPDATE CASCADE ON DELETE CASCADE,
  channels      msgpool.channel[]
                CONSTRAINT subscription_channels_present
                CHECK (cardinality(channels) > 0 AND array_position(channels, NULL) IS NULL),
  paused        boolean NOT NULL DEFAULT false,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT subscription_one_subscriber CHECK (num_nonnulls(recipient_key, group_key) = 1)
);

CREATE UNIQUE INDEX subscription_type_recipient
  ON msgpool.subscription (type_key, recipient_key) WHERE recipient_key IS NOT NULL;
CREATE UNIQUE INDEX subscription_type_group
  ON msgpool.subscription (type_key, group_key) WHERE group_key IS NOT NULL;

COMMENT ON TABLE msgpool.subscription IS 'A type''s subscribers: a recipient or a group, maybe on fewer channels, maybe paused';
COMMENT ON COLUMN msgpool.subscription.channels IS 'Some of the type''s channels; NULL: all of them';
COMMENT ON COLUMN msgpool.subscription.paused IS 'Kept as it is, but receives nothing until resumed';

-- What an administrator allows a producing service: the sources its login role may give a
-- message. Without one, a producer's source is its login role's name; administrators'
-- sessions may give any source.
CREATE TABLE msgpool.producer (
  login_role text PRIMARY KEY,
  sources    text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE msgpool.producer IS 'Per producing login role: the sources its messages may name (else: the role''s name)';

-- The console's users, each with a role (console_role). The password is kept only as an
-- argon2 hash, made by `msgpool console-user add`; the audit never shows it.
CREATE TABLE msgpool.console_user (
  name          msgpool.recipient_key PRIMARY KEY,
  role          msgpool.console_role NOT NULL,
  password_hash text NOT NULL CONSTRAINT console_user_password_hashed CHECK (password_hash LIKE '$argon2%'),
  enabled       boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER console_user_touch BEFORE UPDATE ON msgpool.console_user
  FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

COMMENT ON TABLE msgpool.console_user IS 'Who may sign in to the console, as viewer, operator or admin';
COMMENT ON COLUMN msgpool.console_user.password_hash IS 'argon2id, PHC string format; never shown';

-- A URL as people may see it: every credential it can carry shown as ***. What is sent uses
-- the URL itself. The one redaction, for every flavor: the CLI, the console, the audit, and
-- the worker's log (which asks the database) all show URLs through it.
--   userinfo                 https://user:pass@host/...         -> https://***@host/...
--   query values             DingTalk ?access_token=, WeCom ?key= -> ?access_token=***
--   Slack                    /services/T.../B.../SECRET          -> /services/T.../B.../***
--   Feishu, Lark             /open-apis/bot/v2/hook/TOKEN        -> /hook/***
--   any path segment that looks like a token (16 characters or more of letters, digits,
--   - and _, with a digit among them): /hooks/catch/123/a1b2c3d4e5f6g7h8 -> /hooks/catch/123/***
CREATE FUNCTION msgpool.redacted_url(url text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(url,
           '([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@[:space:]]*@', '\1***@', 'g'),
           '([?&][^=&#]*=)[^&#]*', '\1***', 'g'),
           '(/services/[^/?#]+/[^/?#]+/)[^/?#]+', '\1***'),
           '(/hook/)[^/?#]+', '\1***'),
           '/(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}(?=[/?#]|$)', '/***', 'g')
$$;

COMMENT ON FUNCTION msgpool.redacted_url IS 'A URL as people may see it: userinfo, query values and token-like path segments as ***';

-- A key that names no row is refused, with the nearest key as the hint or how to list them:
-- MP001 for a message type, MP005 for a recipient, MP013 for a group. The admin tools and
-- the inbox API ask these before they answer "nothing".
CREATE FUNCTION msgpool.require_type(type_key text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM msgpool.message_type t WHERE t.key = require_type.type_key) THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(type_key), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = msgpool.did_you_mean(type_key, ARRAY(SELECT t.key::text FROM msgpool.message_type t),
                                        'list types with: msgpool type list');
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.require_type IS 'Refuses a type key that names no type (MP001, with the nearest key)';

CREATE FUNCTION msgpool.require_recipient(recipient_key text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM msgpool.recipient r WHERE r.key = require_recipient.recipient_key) THEN
    RAISE EXCEPTION 'unknown recipient %', coalesce(quote_literal(recipient_key), 'NULL')
      USING ERRCODE = 'MP005',
            HINT = msgpool.did_you_mean(recipient_key, ARRAY(SELECT r.key::text FROM msgpool.recipient r),
                                        'list recipients with: msgpool recipient list');
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.require_recipient IS 'Refuses a key that names no recipient (MP005, with the nearest key)';

CREATE FUNCTION msgpool.require_group(group_key text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM msgpool.recipient_group g WHERE g.key = require_group.group_key) THEN
    RAISE EXCEPTION 'unknown group %', coalesce(quote_literal(group_key), 'NULL')
      USING ERRCODE = 'MP013',
            HINT = msgpool.did_you_mean(group_key, ARRAY(SELECT g.key::text FROM msgpool.recipient_group g),
                                        'list groups with: msgpool group list');
  END IF;
END;
$$;

COMMENT ON FUNCTION msgpool.require_group IS 'Refuses a key that names no group (MP013, with the nearest key)';

-- A subscription may only narrow the type's channels, never add one the type does not use.
CREATE FUNCTION msgpool.subscription_check_channels()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  type_channels msgpool.channel[];
BEGIN
  SELECT t.channels INTO type_channels FROM msgpool.message_type t WHERE t.key = NEW.type_key;
  IF NEW.channels IS NOT NULL AND NOT NEW.channels <@ type_channels THEN
    RAISE EXCEPTION 'message type % does not use channel(s) %', NEW.type_key,
        array_to_string(ARRAY(SELECT unnest(NEW.channels) EXCEPT SELECT unnest(type_channels)), ', ')
      USING ERRCODE = 'MP010',
            HINT = format('%s uses %s; add the channel to the type first or leave it out',
                          NEW.type_key, array_to_string(type_channels, ', '));
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER subscription_check_channels BEFORE INSERT OR UPDATE ON msgpool.subscription
  FOR EACH ROW EXECUTE FUNCTION msgpool.subscription_check_channels();

-- Who hears about what: the subscriptions matching every filter given. A recipient's include
-- those of the groups they belong to (group_key names the group it comes through).
--   SELECT * FROM msgpool.subscriptions(recipient_key => 'zhang.san');
-- Unknown keys are refused with the nearest one (MP001, MP005, MP013), not answered empty.
CREATE TYPE msgpool.subscription_entry AS (
  type_key      text,
  recipient_key text,   -- the subscriber, or the member a group subscription reaches
  group_key     text,   -- the group it comes through, if any
  channels      msgpool.channel[],
  paused        boolean,
  created_at    timestamptz
);

COMMENT ON TYPE msgpool.subscription_entry IS 'One subscription as msgpool.subscriptions() lists it';

CREATE FUNCTION msgpool.subscriptions(
  type_key      text DEFAULT NULL,
  recipient_key text DEFAULT NULL,
  group_key     text DEFAULT NULL
)
RETURNS SETOF msgpool.subscription_entry
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF subscriptions.type_key IS NOT NULL THEN PERFORM msgpool.require_type(subscriptions.type_key); END IF;
  IF subscriptions.recipient_key IS NOT NULL THEN PERFORM msgpool.require_recipient(subscriptions.recipient_key); END IF;
  IF subscriptions.group_key IS NOT NULL THEN PERFORM msgpool.require_group(subscriptions.group_key); END IF;
  RETURN QUERY
    SELECT s.type_key::text, coalesce(s.recipient_key, gm.recipient_key)::text, s.group_key::text,
           s.channels, s.paused, s.created_at
      FROM msgpool.subscription s
      LEFT JOIN msgpool.group_member gm
        ON subscriptions.recipient_key IS NOT NULL AND gm.group_key = s.group_key
       AND gm.recipient_key = subscriptions.recipient_key
     WHERE (subscriptions.type_key IS NULL OR s.type_key = subscriptions.type_key)
       AND (subscriptions.group_key IS NULL OR s.group_key = subscriptions.group_key)
       AND (subscriptions.recipient_key IS NULL OR s.recipient_key = subscriptions.recipient_key
            OR gm.recipient_key IS NOT NULL)
     ORDER BY s.type_key, s.group_key NULLS FIRST, s.recipient_key;
END;
$$;

COMMENT ON FUNCTION msgpool.subscriptions IS
  'The subscriptions matching every filter given; a recipient''s include those through their groups';

-- A type may not stop using a channel that a subscription narrows to, or that has quiet
-- hours: the subscriber would silently hear nothing there (MP010, naming them).
CREATE FUNCTION msgpool.message_type_check_channels()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  removed msgpool.channel[] := ARRAY(SELECT unnest(OLD.channels) EXCEPT SELECT unnest(NEW.channels));
  named text;
BEGIN
  IF cardinality(removed) = 0 THEN
    RETURN NEW;
  END IF;
  SELECT string_agg(format('%s %s (%s)', CASE WHEN s.recipient_key IS NOT NULL THEN 'recipient' ELSE 'group' END,
                           coalesce(s.recipient_key, s.group_key), array_to_string(s.channels, ',')), ', '
                    ORDER BY coalesce(s.recipient_key, s.group_key))
    INTO named
    FROM msgpool.subscription s
   WHERE s.type_key = OLD.key AND s.channels && removed;
  IF named IS NOT NULL THEN
    RAISE EXCEPTION 'message type % would stop using %, which these subscriptions name: %', OLD.key,
        array_to_string(removed, ', '), named
      USING ERRCODE = 'MP010',
            HINT = format('change their channels first (msgpool subscribe %s --recipient KEY --channels ...), or keep %s',
                          OLD.key, array_to_string(removed, ', '));
  END IF;
  SELECT string_agg(q.channel::text, ', ' ORDER BY q.channel) INTO named
    FROM msgpool.quiet_hours q
   WHERE q.type_key = OLD.key AND q.channel = ANY (removed);
  IF named IS NOT NULL THEN
    RAISE EXCEPTION 'message type % would stop using %, which has quiet hours', OLD.key, named
      USING ERRCODE = 'MP010',
            HINT = format('remove them first: msgpool quiet-hours remove %s --channel CHANNEL', OLD.key);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER message_type_check_channels BEFORE UPDATE OF channels ON msgpool.message_type
  FOR EACH ROW EXECUTE FUNCTION msgpool.message_type_check_channels();

