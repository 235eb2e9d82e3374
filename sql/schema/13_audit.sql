-- The configuration's history: who changed which type, template, recipient, group,
-- membership, subscription, quiet hours, rate limit, robot limit or setting, when, and from
-- what to what.
-- Kept by triggers, so a change through SQL, the CLI or any other tool lands here alike.
--   SELECT * FROM msgpool.audit WHERE type_key = 'server.down' ORDER BY id DESC;
-- Secrets never land here: a webhook secret shows as "(set)", a webhook URL redacted.
CREATE TABLE msgpool.audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  -- the login role of the session that made the change, and its application_name
  actor         text NOT NULL,
  application   text,
  -- the table changed: message_type, template, recipient, recipient_group, group_member,
  -- subscription, quiet_hours, rate_limit, robot_limit, settings
  subject       text NOT NULL,
  action        text NOT NULL CONSTRAINT audit_action_known CHECK (action IN ('insert', 'update', 'delete')),
  -- what the change concerns, where it concerns one, for looking it up
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

-- A configuration row as the audit keeps it: the webhook secret only as set or not, and the
-- webhook URL redacted.
CREATE FUNCTION msgpool.audited(row_data jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE WHEN row_data ? 'webhook_secret'
              THEN jsonb_set(x, '{webhook_secret}', CASE WHEN row_data->>'webhook_secret' IS NULL
                                                        THEN 'null'::jsonb ELSE '"(set)"'::jsonb END)
              ELSE x END
    FROM (SELECT CASE WHEN row_data->>'webhook_url' IS NOT NULL
                      THEN jsonb_set(row_data, '{webhook_url}', to_jsonb(msgpool.redacted_url(row_data->>'webhook_url')))
                      ELSE row_data END AS x) r
$$;

COMMENT ON FUNCTION msgpool.audited IS 'A configuration row as the audit keeps it: the webhook secret as set or not, the URL redacted';

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
BEGIN
  IF old_row = new_row THEN
    RETURN NULL;
  END IF;
  IF old_row->>'webhook_secret' <> new_row->>'webhook_secret' THEN
    after := jsonb_set(after, '{webhook_secret}', '"(replaced)"');
  END IF;
  INSERT INTO msgpool.audit (actor, application, subject, action, type_key, recipient_key, group_key,
                             channel, before, after)
  VALUES (session_user, nullif(current_setting('application_name', true), ''), TG_TABLE_NAME, lower(TG_OP),
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
