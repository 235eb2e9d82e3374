-- The configuration's history: who changed which type, template, recipient, group,
-- membership, subscription, quiet hours, rate limit, robot limit or setting, when, and from
-- what to what.
-- Kept by triggers, so a change through SQL, the CLI or any other tool lands here alike.
--   SELECT * FROM msgpool.audit WHERE type_key = 'server.down' ORDER BY id DESC;
-- Secrets never land here: a secret shows as "(set)" or "(replaced)", a webhook URL
-- redacted.
CREATE TABLE msgpool.audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  -- who: the console user the console acted for, else the session's login role
  actor         text NOT NULL,
  -- the session's login role (the console's own, for a console user's change), and its
  -- application_name
  login_role    text NOT NULL,
  application   text,
  -- the table changed: message_type, template, recipient, recipient_group, group_member,
  -- subscription, quiet_hours, rate_limit, robot_limit, settings, producer, console_user
  subject       text NOT NULL,
  action        text NOT NULL CONSTRAINT audit_action_known CHECK (action IN ('insert', 'update', 'delete')),
  -- what the change concerns, where it concerns one, for looking it up; plain text, as
  -- history keeps a key as it was
  type_key      text,
  recipient_key text,
  group_key     text,
  channel       msgpool.channel,
  -- the row before and after (NULL for an insert, a delete), without secrets
  before        jsonb,
  after         jsonb
);

CREATE INDEX audit_type ON msgpool.audit (type_key, id) WHERE type_key IS NOT NULL;
CREATE INDEX audit_recipient ON msgpool.audit (recipient_key, id) WHERE recipient_key IS NOT NULL;
CREATE INDEX audit_group ON msgpool.audit (group_key, id) WHERE group_key IS NOT NULL;

COMMENT ON TABLE msgpool.audit IS
  'Every change to the configuration: who, when, which object, before and after (secrets redacted)';
COMMENT ON COLUMN msgpool.audit.actor IS 'The person: the console user the console acted for, else the login role';

-- The secret columns of the configuration: the audit keeps only whether each is set, and
-- whether a change replaced it.
CREATE FUNCTION msgpool.secret_columns()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['webhook_secret', 'inbox_secret', 'password_hash'] $$;

COMMENT ON FUNCTION msgpool.secret_columns IS 'The columns of the configuration that hold secrets, which the audit never keeps';

-- A configuration row as the audit keeps it: each secret only as set or not, and the webhook
-- URL redacted.
CREATE FUNCTION msgpool.audited(row_data jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN row_data IS NULL THEN NULL ELSE coalesce(
           (SELECT jsonb_object_agg(k, CASE
                     WHEN k = ANY (msgpool.secret_columns())
                       THEN CASE WHEN v = 'null'::jsonb THEN v ELSE '"(set)"'::jsonb END
                     WHEN k = 'webhook_url' AND v <> 'null'::jsonb
                       THEN to_jsonb(msgpool.redacted_url(v #>> '{}'))
                     ELSE v END)
              FROM jsonb_each(row_data) AS e(k, v)),
           '{}'::jsonb) END
$$;

COMMENT ON FUNCTION msgpool.audited IS 'A configuration row as the audit keeps it: secrets as set or not, the URL redacted';

-- Who made this change: the console user the console's login says it acts for
-- (msgpool.person, trusted from the console's login role alone), else the login role.
CREATE FUNCTION msgpool.actor()
RETURNS text
LANGUAGE sql STABLE
AS $$
  SELECT coalesce(CASE WHEN pg_catalog.pg_has_role(session_user, 'msgpool_console', 'MEMBER')
                       THEN nullif(current_setting('msgpool.person', true), '') END,
                  session_user::text)
$$;

COMMENT ON FUNCTION msgpool.actor IS 'Who makes a change: the console user the console acts for, else the login role';

-- The owner's rights: whoever may change the configuration may not write its history.
-- Bookkeeping is not configuration: updated_at, and the provider budget a claim spends.
CREATE FUNCTION msgpool.audit_change()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - 'updated_at' - 'budget_second' - 'budget_used' END;
  new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - 'updated_at' - 'budget_second' - 'budget_used' END;
  row_data jsonb := coalesce(new_row, old_row);
  after jsonb := msgpool.audited(new_row);
  secret text;
BEGIN
  IF old_row = new_row THEN
    RETURN NULL;
  END IF;
  FOREACH secret IN ARRAY msgpool.secret_columns() LOOP
    IF old_row->>secret <> new_row->>secret THEN
      after := jsonb_set(after, ARRAY[secret], '"(replaced)"');
    END IF;
  END LOOP;
  INSERT INTO msgpool.audit (actor, login_role, application, subject, action, type_key, recipient_key,
                             group_key, channel, before, after)
  VALUES (msgpool.actor(), session_user, nullif(current_setting('application_name', true), ''),
          TG_TABLE_NAME, lower(TG_OP),
          CASE WHEN TG_TABLE_NAME = 'message_type' THEN row_data->>'key' ELSE row_data->>'type_key' END,
          CASE WHEN TG_TABLE_NAME = 'recipient' THEN row_data->>'key' ELSE row_data->>'recipient_key' END,
          CASE WHEN TG_TABLE_NAME = 'recipient_group' THEN row_data->>'key' ELSE row_data->>'group_key' END,
          (row_data->>'channel')::msgpool.channel, msgpool.audited(old_row), after);
  RETURN NULL;
END;
$$;

CREATE TRIGGER message_type_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.message_type
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER template_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.template
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER recipient_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.recipient
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER recipient_group_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.recipient_group
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER group_member_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.group_member
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER subscription_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.subscription
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER quiet_hours_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.quiet_hours
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER rate_limit_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.rate_limit
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER robot_limit_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.robot_limit
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER settings_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.settings
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER producer_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.producer
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
CREATE TRIGGER console_user_audit AFTER INSERT OR UPDATE OR DELETE ON msgpool.console_user
  FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();
