-- `msgpool worker --demo`: sample types, recipients and subscriptions, made only if absent,
-- so running the demo again never touches a user's own changes.

INSERT INTO msgpool.message_type (key, name, category, urgency, channels) VALUES
  ('account.login_anomaly', '异地登录', '账号异常', 'high', '{inbox,email}'),
  ('order.dispatch_backlog', '派单堆积', '订单异常', 'high', '{inbox,email,sms}'),
  ('server.down', '服务器宕机', '服务器异常', 'urgent', '{inbox,email,sms}')
ON CONFLICT (key) DO NOTHING;

INSERT INTO msgpool.template (type_key, channel, subject, body) VALUES
  ('account.login_anomaly', 'email', '{{ user }} signed in from {{ city }}',
   'Hello {{ recipient_name }}, {{ user }} signed in from {{ city }} ({{ ip }}). If this was not them, lock the account.'),
  ('order.dispatch_backlog', 'email', 'Dispatch backlog: {{ count }} orders',
   '{{ count }} orders are waiting at {{ warehouse }}.'),
  ('order.dispatch_backlog', 'sms', '', '【运维】{{ warehouse }} 派单堆积 {{ count }} 单'),
  ('server.down', 'inbox', '{{ host }} is down', '{{ host }} stopped answering at {{ since }}.'),
  ('server.down', 'sms', '', '【运维】{{ host }} 宕机 ({{ since }})')
ON CONFLICT (type_key, channel) DO NOTHING;

INSERT INTO msgpool.recipient (key, name, email, phone) VALUES
  ('zhang.san', '张三', 'zhang.san@example.com', '+8613800000000'),
  ('li.si', '李四', 'li.si@example.com', NULL)
ON CONFLICT (key) DO NOTHING;

INSERT INTO msgpool.recipient_group (key, name) VALUES ('ops', '运维') ON CONFLICT (key) DO NOTHING;
INSERT INTO msgpool.group_member (group_key, recipient_key) VALUES ('ops', 'zhang.san'), ('ops', 'li.si')
ON CONFLICT DO NOTHING;

INSERT INTO msgpool.subscription (type_key, group_key)
SELECT t, 'ops' FROM unnest(ARRAY['account.login_anomaly', 'order.dispatch_backlog', 'server.down']) AS t
ON CONFLICT (type_key, group_key) WHERE group_key IS NOT NULL DO NOTHING;

SELECT msgpool.send('server.down', '{"host": "db1", "since": "08:00"}', source => 'demo');
SELECT msgpool.send('order.dispatch_backlog', '{"count": 120, "warehouse": "WH-1"}', source => 'demo');
SELECT msgpool.send('account.login_anomaly', '{"user": "wang.wu", "city": "Lisbon", "ip": "203.0.113.7"}', source => 'demo');
