-- msgpool's schema as pg_dump --schema-only prints it, normalized by tests/schema.rs.
-- Do not edit: MSGPOOL_BLESS=1 cargo test --test schema rewrites it.

-- (preamble)
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

-- COLUMN audit.actor; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.audit.actor IS 'The person: the console user the console acted for, else the login role';

-- COLUMN console_user.password_hash; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.console_user.password_hash IS 'argon2id, PHC string format; never shown';

-- COLUMN delivery.attempts; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.attempts IS 'Attempts spent (a throttled one or a give-back spends none)';

-- COLUMN delivery.deferred_by; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.deferred_by IS 'The rule that put next_attempt_at in the future, in words';

-- COLUMN delivery.gather_key; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.gather_key IS 'Set where deliveries may be gathered into one digest: their type''s key';

-- COLUMN delivery.gathered_into; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.gathered_into IS 'A delivery sent inside another''s digest: that one''s id';

-- COLUMN delivery.last_error; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.last_error IS 'Why the last attempt failed (cleared once sent)';

-- COLUMN delivery.lease_deadline; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.lease_deadline IS 'While sending: after this the delivery may be claimed again';

-- COLUMN delivery.lease_token; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.lease_token IS 'While sending: only the holder of this token may write the outcome';

-- COLUMN delivery.next_attempt_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.next_attempt_at IS 'When it is due (again)';

-- COLUMN delivery.provider_ref; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.provider_ref IS 'The provider''s id for what was sent: Message-ID, BizId, inbox:<id>';

-- COLUMN delivery.skip_reason; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery.skip_reason IS 'Why a skipped delivery could not be made';

-- COLUMN delivery_attempt.attempt; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery_attempt.attempt IS 'Its number; a throttled attempt keeps the number it had';

-- COLUMN delivery_attempt.worker; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.delivery_attempt.worker IS 'The name of the worker that made it';

-- COLUMN inbox.archived_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.inbox.archived_at IS 'Archived: out of the list and the unread count, kept';

-- COLUMN inbox.delivery_id; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.inbox.delivery_id IS 'The delivery that wrote it: one row per delivery, however often it was retried';

-- COLUMN message.dedup_key; Type: ACL; Schema: msgpool
GRANT INSERT(dedup_key) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.dedup_key; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.dedup_key IS 'The same type and key within the type''s dedup window is counted on this message, not sent';

-- COLUMN message.deliver_at; Type: ACL; Schema: msgpool
GRANT INSERT(deliver_at) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.deliver_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.deliver_at IS 'What the producer asked for: no delivery before then; NULL: the type''s policy';

-- COLUMN message.due_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.due_at IS 'When the pool expands it: deliver_at, or when it arrived';

-- COLUMN message.duplicate_count; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.duplicate_count IS 'Repeats counted on it by dedup';

-- COLUMN message.expanded_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.expanded_at IS 'When expand() made its deliveries';

-- COLUMN message.id; Type: ACL; Schema: msgpool
GRANT SELECT(id) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.last_seen_at; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.last_seen_at IS 'When it, or its latest repeat, arrived';

-- COLUMN message.payload; Type: ACL; Schema: msgpool
GRANT INSERT(payload) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.payload; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.payload IS 'A JSON object; its keys are the template variables';

-- COLUMN message.recipients; Type: ACL; Schema: msgpool
GRANT INSERT(recipients) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.recipients; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.recipients IS 'Explicit recipient keys, checked at the door; NULL: the type''s subscribers';

-- COLUMN message.sent_by; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.sent_by IS 'The login role that sent it: only it, or an administrator, may cancel it';

-- COLUMN message.source; Type: ACL; Schema: msgpool
GRANT INSERT(source) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.source; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.source IS 'Which service sent it: one its role may name (msgpool.producer), by default the role''s name; an administrator''s session, any (default: application_name)';

-- COLUMN message.type_key; Type: ACL; Schema: msgpool
GRANT INSERT(type_key) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.urgency; Type: ACL; Schema: msgpool
GRANT INSERT(urgency) ON TABLE msgpool.message TO msgpool_producer;

-- COLUMN message.urgency; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message.urgency IS 'The producer''s urgency if it gave one, else the type''s';

-- COLUMN message_type.any_recipient; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.any_recipient IS 'Producers may name recipients who are not its subscribers; false: only subscribers (MP019)';

-- COLUMN message_type.category; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.category IS 'For people: 账号异常, 订单异常, 服务器异常, ...';

-- COLUMN message_type.channels; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.channels IS 'The channels its messages go out on (a subscription may narrow them)';

-- COLUMN message_type.dedup_window; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.dedup_window IS 'A message with the dedup key of one opened less than this ago is counted on it, not sent (0: off)';

-- COLUMN message_type.digest; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.digest IS 'Deferred deliveries due together for one recipient and channel go out as one digest (true) or one by one';

-- COLUMN message_type.enabled; Type: ACL; Schema: msgpool
GRANT SELECT(enabled) ON TABLE msgpool.message_type TO msgpool_producer;

-- COLUMN message_type.enabled; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.enabled IS 'A disabled type is refused at the door (MP002); what is in the pool still goes out';

-- COLUMN message_type.key; Type: ACL; Schema: msgpool
GRANT SELECT(key) ON TABLE msgpool.message_type TO msgpool_producer;

-- COLUMN message_type.key; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.key IS 'What producers write: msgpool.send(''server.down'', ...)';

-- COLUMN message_type.max_attempts; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.max_attempts IS 'Attempts at a delivery before it is dead';

-- COLUMN message_type.max_urgency; Type: ACL; Schema: msgpool
GRANT SELECT(max_urgency) ON TABLE msgpool.message_type TO msgpool_producer;

-- COLUMN message_type.max_urgency; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.max_urgency IS 'The most urgent a producer may ask its messages to be (MP018); NULL: no higher than urgency';

-- COLUMN message_type.send_interval; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.send_interval IS 'interval: at most one notification per recipient and channel per this long';

-- COLUMN message_type.send_policy; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.send_policy IS 'When its messages go out: immediate, times_of_day (send_times) or interval (send_interval)';

-- COLUMN message_type.send_times; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.send_times IS 'times_of_day: the local times in time_zone at which due messages go out';

-- COLUMN message_type.time_zone; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.time_zone IS 'The IANA zone of send_times, quiet hours and the created_at templates show';

-- COLUMN message_type.urgency; Type: ACL; Schema: msgpool
GRANT SELECT(urgency) ON TABLE msgpool.message_type TO msgpool_producer;

-- COLUMN message_type.urgency; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.message_type.urgency IS 'The urgency of its messages unless a producer gives one; urgent ignores every window';

-- COLUMN quiet_hours.below; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.quiet_hours.below IS 'Messages less urgent than this are held; from it up, they go out';

-- COLUMN quiet_hours.starts; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.quiet_hours.starts IS 'Local time in the type''s time zone; the window may wrap midnight';

-- COLUMN rate_limit.budget_second; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.rate_limit.budget_second IS 'Bookkeeping of the claims: the second budget_used counts';

-- COLUMN rate_limit.budget_used; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.rate_limit.budget_used IS 'Bookkeeping of the claims: deliveries claimed in budget_second';

-- COLUMN rate_limit.provider_per_second; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.rate_limit.provider_per_second IS 'At most this many deliveries claimed per second, across all workers';

-- COLUMN rate_limit.recipient_max; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.rate_limit.recipient_max IS 'At most this many sends to one recipient per recipient_window (a digest is one)';

-- COLUMN recipient.enabled; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.recipient.enabled IS 'A disabled recipient''s deliveries are recorded skipped; producers naming them are refused (MP006)';

-- COLUMN recipient.inbox_secret; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.recipient.inbox_secret IS 'What the recipient''s inbox links are signed with (msgpool.inbox_token()); never shown, rotated by inbox_rotate_secret()';

-- COLUMN recipient.phone; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.recipient.phone IS 'E.164: +8613800000000';

-- COLUMN recipient.webhook_secret; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.recipient.webhook_secret IS 'The signing secret (DingTalk, Feishu) or HMAC key (generic); never shown';

-- COLUMN recipient.webhook_url; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.recipient.webhook_url IS 'A chat robot''s or a service''s webhook; its credentials are shown redacted';

-- COLUMN settings.max_claim_bytes; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.max_claim_bytes IS 'A claim takes deliveries until their payloads reach this many bytes (at least one): a worker''s memory follows it';

-- COLUMN settings.max_deliver_at_lag; Type: ACL; Schema: msgpool
GRANT SELECT(max_deliver_at_lag) ON TABLE msgpool.settings TO msgpool_producer;

-- COLUMN settings.max_deliver_at_lag; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.max_deliver_at_lag IS 'A deliver_at further in the past than this is refused (MP007)';

-- COLUMN settings.max_payload_bytes; Type: ACL; Schema: msgpool
GRANT SELECT(max_payload_bytes) ON TABLE msgpool.settings TO msgpool_producer;

-- COLUMN settings.max_payload_bytes; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.max_payload_bytes IS 'Payloads larger than this, as stored, are refused (MP004)';

-- COLUMN settings.outbound_allow; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.outbound_allow IS 'Networks webhooks may reach even inside outbound_deny';

-- COLUMN settings.outbound_deny; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.outbound_deny IS 'Networks webhooks may not reach, checked after DNS resolution, before any connection';

-- COLUMN settings.retry_base; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.retry_base IS 'The wait before a failed delivery''s first retry; each retry doubles it';

-- COLUMN settings.retry_cap; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.settings.retry_cap IS 'The longest wait between retries';

-- COLUMN subscription.channels; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.subscription.channels IS 'Some of the type''s channels; NULL: all of them';

-- COLUMN subscription.paused; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.subscription.paused IS 'Kept as it is, but receives nothing until resumed';

-- COLUMN template.digest_body; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.template.digest_body IS 'The digest''s body, over messages and count (NULL: the built-in digest)';

-- COLUMN template.digest_subject; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.template.digest_subject IS 'The digest''s subject (NULL: the built-in digest)';

-- COLUMN template.html_body; Type: COMMENT; Schema: msgpool
COMMENT ON COLUMN msgpool.template.html_body IS 'An email''s HTML part: the mail goes as multipart/alternative, body as its text';

-- DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: msgpool
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool GRANT ALL ON FUNCTIONS  TO msgpool_admin;

-- DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: msgpool
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool GRANT SELECT,USAGE ON SEQUENCES  TO msgpool_admin;

-- DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: msgpool
ALTER DEFAULT PRIVILEGES FOR ROLE msgpool_owner IN SCHEMA msgpool GRANT SELECT,INSERT,DELETE,UPDATE ON TABLES  TO msgpool_admin;

-- DOMAIN recipient_key; Type: COMMENT; Schema: msgpool
COMMENT ON DOMAIN msgpool.recipient_key IS 'A recipient or group key from the business side, e.g. zhang.san, ops-robot, E1001';

-- DOMAIN type_key; Type: COMMENT; Schema: msgpool
COMMENT ON DOMAIN msgpool.type_key IS 'A message type key: dotted lowercase words, e.g. order.dispatch_backlog';

-- FUNCTION absolute(span interval); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.absolute(span interval) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.absolute(span interval) FROM PUBLIC;

-- FUNCTION absolute(span interval); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.absolute(span interval) IS 'An interval as a fixed number of seconds (1 day = 24 hours, whatever DST does)';

-- FUNCTION actor(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.actor() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.actor() FROM PUBLIC;

-- FUNCTION actor(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.actor() IS 'Who makes a change: the console user the console acts for, else the login role';

-- FUNCTION audit_change(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.audit_change() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.audit_change() FROM PUBLIC;

-- FUNCTION audited(row_data jsonb); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.audited(row_data jsonb) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.audited(row_data jsonb) FROM PUBLIC;

-- FUNCTION audited(row_data jsonb); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.audited(row_data jsonb) IS 'A configuration row as the audit keeps it: secrets as set or not, the URL redacted';

-- FUNCTION backoff(attempt integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.backoff(attempt integer) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.backoff(attempt integer) FROM PUBLIC;

-- FUNCTION backoff(attempt integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.backoff(attempt integer) IS 'The wait before retry number attempt: doubling from settings.retry_base up to retry_cap, ±25 % jitter';

-- FUNCTION cancel(message_id bigint); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.cancel(message_id bigint) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.cancel(message_id bigint) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.cancel(message_id bigint) FROM PUBLIC;

-- FUNCTION cancel(message_id bigint); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.cancel(message_id bigint) IS 'Cancels a message: its unsent deliveries stop, sent ones stay as history, its dedup key closes';

-- FUNCTION check_recipients(recipient_keys text[], type_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text) FROM PUBLIC;

-- FUNCTION check_recipients(recipient_keys text[], type_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text) IS 'A message''s named recipients, checked (MP005, MP006, MP008; a producer''s, MP019), sorted, each once';

-- FUNCTION check_source(source text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.check_source(source text) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.check_source(source text) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.check_source(source text) FROM PUBLIC;

-- FUNCTION check_source(source text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.check_source(source text) IS 'Refuses a source the producer''s login role may not give (MP020)';

-- FUNCTION claim_deliveries(channel msgpool.channel, batch_size integer, lease interval); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) FROM PUBLIC;

-- FUNCTION claim_deliveries(channel msgpool.channel, batch_size integer, lease interval); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) IS 'A worker''s claim of a channel: expired leases rescued, limits applied, up to batch_size deliveries leased';

-- FUNCTION clock(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.clock() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.clock() TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.clock() FROM PUBLIC;

-- FUNCTION clock(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.clock() IS 'The time every send-time and noise rule reads: now(), unless the session pins msgpool.clock';

-- FUNCTION count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone) FROM PUBLIC;

-- FUNCTION count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone) IS 'Opens a dedup key for a new message, or counts the message on the one holding it open and returns that one''s id';

-- FUNCTION defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer) FROM PUBLIC;

-- FUNCTION defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer) IS 'Moves due deliveries that would break a recipient''s rate limit to when the window allows them';

-- FUNCTION defer_over_robot_limit(batch_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.defer_over_robot_limit(batch_size integer) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.defer_over_robot_limit(batch_size integer) FROM PUBLIC;

-- FUNCTION defer_over_robot_limit(batch_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.defer_over_robot_limit(batch_size integer) IS 'Moves due webhook deliveries that would break a chat robot''s limit later, or gathers them into a digest';

-- FUNCTION deliver_to_inbox(items jsonb); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.deliver_to_inbox(items jsonb) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.deliver_to_inbox(items jsonb) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.deliver_to_inbox(items jsonb) FROM PUBLIC;

-- FUNCTION deliver_to_inbox(items jsonb); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.deliver_to_inbox(items jsonb) IS 'The inbox channel''s outcome: writes the inbox rows of msgpool.inbox_item rows (JSON) and records their deliveries sent';

-- FUNCTION delivery_deleted(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.delivery_deleted() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.delivery_deleted() FROM PUBLIC;

-- FUNCTION did_you_mean(wanted text, candidates text[], otherwise text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) FROM PUBLIC;

-- FUNCTION did_you_mean(wanted text, candidates text[], otherwise text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) IS 'The hint of an unknown-key refusal: the nearest key, else how to list them';

-- FUNCTION expand(batch_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.expand(batch_size integer) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.expand(batch_size integer) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.expand(batch_size integer) FROM PUBLIC;

-- FUNCTION expand(batch_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.expand(batch_size integer) IS 'Expands up to batch_size due messages into deliveries (skipped ones with their reason); returns how many messages';

-- FUNCTION expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) FROM PUBLIC;

-- FUNCTION expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) IS 'expand() and the claims of some channels in one round trip, for an idle worker woken by a producer';

-- FUNCTION explain(type_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.explain(type_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.explain(type_key text) FROM PUBLIC;

-- FUNCTION explain(type_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.explain(type_key text) IS 'A type''s send-time and noise rules in words, with when a message sent now would go out';

-- FUNCTION extend_leases(lease_tokens uuid[], lease interval); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) FROM PUBLIC;

-- FUNCTION extend_leases(lease_tokens uuid[], lease interval); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) IS 'A worker''s heartbeat: extends its leases; returns how many it still holds';

-- FUNCTION format_times(times time without time zone[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.format_times(times time without time zone[]) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.format_times(times time without time zone[]) FROM PUBLIC;

-- FUNCTION format_times(times time without time zone[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.format_times(times time without time zone[]) IS 'Times of day in words: 08:00, 17:00';

-- FUNCTION hand_to_owner(); Type: ACL; Schema: msgpool
REVOKE ALL ON FUNCTION msgpool.hand_to_owner() FROM PUBLIC;

-- FUNCTION hand_to_owner(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.hand_to_owner() IS 'Gives every object of the schema to msgpool_owner (the end of every migration)';

-- FUNCTION hmac_sha256(key bytea, message bytea); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.hmac_sha256(key bytea, message bytea) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.hmac_sha256(key bytea, message bytea) FROM PUBLIC;

-- FUNCTION hmac_sha256(key bytea, message bytea); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.hmac_sha256(key bytea, message bytea) IS 'HMAC-SHA256 (RFC 2104) without an extension';

-- FUNCTION inbox_archive(recipient_key text, ids bigint[], archived boolean); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean) FROM PUBLIC;

-- FUNCTION inbox_archive(recipient_key text, ids bigint[], archived boolean); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean) IS 'Archives some inbox messages (or, archived false, brings them back); returns how many changed';

-- FUNCTION inbox_delete(recipient_key text, ids bigint[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[]) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[]) FROM PUBLIC;

-- FUNCTION inbox_delete(recipient_key text, ids bigint[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[]) IS 'Deletes some inbox messages for good; the message and its deliveries stay as history';
SET default_tablespace = '';
SET default_table_access_method = heap;

-- FUNCTION inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean) FROM PUBLIC;

-- FUNCTION inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean) IS 'A page of a recipient''s inbox (or archive), unread first, then newest';

-- FUNCTION inbox_mark_read(recipient_key text, ids bigint[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[]) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[]) FROM PUBLIC;

-- FUNCTION inbox_mark_read(recipient_key text, ids bigint[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[]) IS 'Marks some (or, with NULL, all) of a recipient''s inbox messages read; returns how many changed';

-- FUNCTION inbox_rotate_secret(recipient_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_rotate_secret(recipient_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_rotate_secret(recipient_key text) FROM PUBLIC;

-- FUNCTION inbox_rotate_secret(recipient_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_rotate_secret(recipient_key text) IS 'A new link secret for one recipient (or all): every inbox link given out so far stops working';

-- FUNCTION inbox_show(recipient_key text, id bigint); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_show(recipient_key text, id bigint) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_show(recipient_key text, id bigint) FROM PUBLIC;

-- FUNCTION inbox_show(recipient_key text, id bigint); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_show(recipient_key text, id bigint) IS 'One inbox message in full; opening it marks it read';

-- FUNCTION inbox_token(recipient_key text, scope text, valid_for interval); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_token(recipient_key text, scope text, valid_for interval) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_token(recipient_key text, scope text, valid_for interval) FROM PUBLIC;

-- FUNCTION inbox_token(recipient_key text, scope text, valid_for interval); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_token(recipient_key text, scope text, valid_for interval) IS 'The token of a recipient''s inbox link: scope inbox (read, mark read) or count (the bell), maybe ending';

-- FUNCTION inbox_unread_count(recipient_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.inbox_unread_count(recipient_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.inbox_unread_count(recipient_key text) FROM PUBLIC;

-- FUNCTION inbox_unread_count(recipient_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.inbox_unread_count(recipient_key text) IS 'How many of a recipient''s inbox messages are unread (archived ones aside)';

-- FUNCTION is_admin(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.is_admin() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.is_admin() TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.is_admin() FROM PUBLIC;

-- FUNCTION is_admin(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.is_admin() IS 'Whether the session''s login role is an administrator (the door holds producers to more)';

-- FUNCTION is_time_zone(name text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.is_time_zone(name text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.is_time_zone(name text) FROM PUBLIC;

-- FUNCTION is_time_zone(name text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.is_time_zone(name text) IS 'True for an IANA time zone this server knows, e.g. Asia/Shanghai';

-- FUNCTION local_time(at timestamp with time zone, zone text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.local_time(at timestamp with time zone, zone text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.local_time(at timestamp with time zone, zone text) FROM PUBLIC;

-- FUNCTION local_time(at timestamp with time zone, zone text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.local_time(at timestamp with time zone, zone text) IS 'An instant as people in a zone read it, with the offset: 2026-12-02 23:15:17+08:00';

-- FUNCTION make_login(login text, group_role text, password text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.make_login(login text, group_role text, password text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.make_login(login text, group_role text, password text) FROM PUBLIC;

-- FUNCTION make_login(login text, group_role text, password text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.make_login(login text, group_role text, password text) IS 'Makes (or re-passwords) a login role with exactly one msgpool group role''s rights';

-- FUNCTION max_deliver_at_lag(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.max_deliver_at_lag() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.max_deliver_at_lag() TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.max_deliver_at_lag() FROM PUBLIC;

-- FUNCTION max_deliver_at_lag(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.max_deliver_at_lag() IS 'How far in the past deliver_at may be, from msgpool.settings';

-- FUNCTION max_payload_bytes(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.max_payload_bytes() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.max_payload_bytes() TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.max_payload_bytes() FROM PUBLIC;

-- FUNCTION max_payload_bytes(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.max_payload_bytes() IS 'The payload size limit of msgpool.settings';

-- FUNCTION message_admit(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.message_admit() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.message_admit() FROM PUBLIC;

-- FUNCTION message_deleted(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.message_deleted() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.message_deleted() FROM PUBLIC;

-- FUNCTION message_type_check_channels(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.message_type_check_channels() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.message_type_check_channels() FROM PUBLIC;

-- FUNCTION message_type_guard(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.message_type_guard() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.message_type_guard() FROM PUBLIC;

-- FUNCTION message_validate(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.message_validate() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.message_validate() FROM PUBLIC;

-- FUNCTION nearest_key(wanted text, candidates text[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.nearest_key(wanted text, candidates text[]) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.nearest_key(wanted text, candidates text[]) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.nearest_key(wanted text, candidates text[]) FROM PUBLIC;

-- FUNCTION nearest_key(wanted text, candidates text[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.nearest_key(wanted text, candidates text[]) IS 'The candidate nearest to a mistyped key (edit distance), or NULL when none is a plausible typo';

-- FUNCTION new_inbox_secret(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.new_inbox_secret() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.new_inbox_secret() FROM PUBLIC;

-- FUNCTION new_inbox_secret(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.new_inbox_secret() IS '32 bytes from the server''s strong random source';

-- FUNCTION next_send_time(times time without time zone[], zone text, after timestamp with time zone); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.next_send_time(times time without time zone[], zone text, after timestamp with time zone) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.next_send_time(times time without time zone[], zone text, after timestamp with time zone) FROM PUBLIC;

-- FUNCTION next_send_time(times time without time zone[], zone text, after timestamp with time zone); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.next_send_time(times time without time zone[], zone text, after timestamp with time zone) IS 'The first of some local times of day in a zone at or after an instant';

-- FUNCTION outbound_policy(OUT deny text[], OUT allow text[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) FROM PUBLIC;

-- FUNCTION outbound_policy(OUT deny text[], OUT allow text[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) IS 'The networks webhooks may not reach, and the exceptions (settings)';

-- FUNCTION pinned_clock(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.pinned_clock() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.pinned_clock() TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.pinned_clock() FROM PUBLIC;

-- FUNCTION pinned_clock(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.pinned_clock() IS 'The time msgpool.clock pins, for sessions that may pin it (MP015 for others)';

-- FUNCTION provider_budget(channel msgpool.channel, batch_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer) FROM PUBLIC;

-- FUNCTION provider_budget(channel msgpool.channel, batch_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer) IS 'How many deliveries a claim of the channel may take this second under the provider''s limit';

-- FUNCTION prune(older_than interval, batch_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.prune(older_than interval, batch_size integer) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.prune(older_than interval, batch_size integer) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.prune(older_than interval, batch_size integer) FROM PUBLIC;

-- FUNCTION prune(older_than interval, batch_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.prune(older_than interval, batch_size integer) IS 'Deletes up to batch_size finished messages older than older_than, with their history; returns how many';

-- FUNCTION quiet_hours_check_channel(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.quiet_hours_check_channel() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.quiet_hours_check_channel() FROM PUBLIC;

-- FUNCTION quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone) FROM PUBLIC;

-- FUNCTION quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone) IS 'The end of the local window [starts, ends) in a zone, if an instant falls inside it; else NULL';

-- FUNCTION recipient_guard(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.recipient_guard() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.recipient_guard() FROM PUBLIC;

-- FUNCTION recipient_truncate_guard(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.recipient_truncate_guard() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.recipient_truncate_guard() FROM PUBLIC;

-- FUNCTION record_outcomes(outcomes jsonb); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.record_outcomes(outcomes jsonb) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.record_outcomes(outcomes jsonb) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.record_outcomes(outcomes jsonb) FROM PUBLIC;

-- FUNCTION record_outcomes(outcomes jsonb); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.record_outcomes(outcomes jsonb) IS 'Writes a worker''s outcomes (msgpool.outcome rows as JSON) under their lease tokens, and logs each attempt';

-- FUNCTION redacted_url(url text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.redacted_url(url text) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.redacted_url(url text) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.redacted_url(url text) FROM PUBLIC;

-- FUNCTION redacted_url(url text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.redacted_url(url text) IS 'A URL as people may see it: userinfo, query values and token-like path segments as ***';

-- FUNCTION refresh_statistics(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.refresh_statistics() TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.refresh_statistics() TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.refresh_statistics() FROM PUBLIC;

-- FUNCTION refresh_statistics(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.refresh_statistics() IS 'Analyzes the message and delivery tables when a burst has outgrown the planner''s statistics of them';

-- FUNCTION refuse_message(m msgpool.message); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.refuse_message(m msgpool.message) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.refuse_message(m msgpool.message) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.refuse_message(m msgpool.message) FROM PUBLIC;

-- FUNCTION refuse_message(m msgpool.message); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.refuse_message(m msgpool.message) IS 'Raises the refusal (MP001-MP014) that says what is wrong with a message';

-- FUNCTION release_deliveries(lease_tokens uuid[], wait interval, why text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval, why text) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval, why text) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval, why text) FROM PUBLIC;

-- FUNCTION release_deliveries(lease_tokens uuid[], wait interval, why text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval, why text) IS 'Gives back claimed, unstarted deliveries without spending an attempt, due after wait, why kept as deferred_by';

-- FUNCTION report_destinations(worker text, destinations jsonb); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.report_destinations(worker text, destinations jsonb) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.report_destinations(worker text, destinations jsonb) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.report_destinations(worker text, destinations jsonb) FROM PUBLIC;

-- FUNCTION report_destinations(worker text, destinations jsonb); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.report_destinations(worker text, destinations jsonb) IS 'Replaces a worker''s figures per destination (msgpool.destination_figures rows as JSON)';

-- FUNCTION require_group(group_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.require_group(group_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.require_group(group_key text) FROM PUBLIC;

-- FUNCTION require_group(group_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.require_group(group_key text) IS 'Refuses a key that names no group (MP013, with the nearest key)';

-- FUNCTION require_inbox_ids(recipient_key text, ids bigint[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[]) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[]) FROM PUBLIC;

-- FUNCTION require_inbox_ids(recipient_key text, ids bigint[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[]) IS 'Refuses ids that are not the recipient''s inbox messages (MP009)';

-- FUNCTION require_inbox_token(recipient_key text, token text, scope text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text) FROM PUBLIC;

-- FUNCTION require_inbox_token(recipient_key text, token text, scope text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text) IS 'Refuses a token that is not the recipient''s, grants not the scope, or has ended (MP017)';

-- FUNCTION require_recipient(recipient_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.require_recipient(recipient_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.require_recipient(recipient_key text) FROM PUBLIC;

-- FUNCTION require_recipient(recipient_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.require_recipient(recipient_key text) IS 'Refuses a key that names no recipient (MP005, with the nearest key)';

-- FUNCTION require_type(type_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.require_type(type_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.require_type(type_key text) FROM PUBLIC;

-- FUNCTION require_type(type_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.require_type(type_key text) IS 'Refuses a type key that names no type (MP001, with the nearest key)';

-- FUNCTION rescue_expired_leases(channel msgpool.channel); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel) FROM PUBLIC;

-- FUNCTION rescue_expired_leases(channel msgpool.channel); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel) IS 'Takes back a channel''s expired leases: due again, or dead on their last attempt, or cancelled with their message';

-- FUNCTION retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel) FROM PUBLIC;

-- FUNCTION retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel) IS 'Re-queues dead deliveries (by id, or all matching the filters) with fresh attempts; returns how many';

-- FUNCTION schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean) FROM PUBLIC;

-- FUNCTION schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean) IS 'When one delivery goes out by its type''s send policy and quiet hours, which rule decided it, and whether it is dropped';

-- FUNCTION secret_columns(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.secret_columns() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.secret_columns() FROM PUBLIC;

-- FUNCTION secret_columns(); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.secret_columns() IS 'The columns of the configuration that hold secrets, which the audit never keeps';

-- FUNCTION send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency) FROM PUBLIC;

-- FUNCTION send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency) IS 'Put a message into the pool; returns its id (the earlier one''s for a counted repeat). The same door as an INSERT.';

-- FUNCTION signed_inbox_list(recipient_key text, token text, page integer, page_size integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer, page_size integer) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer, page_size integer) TO msgpool_inbox;
REVOKE ALL ON FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer, page_size integer) FROM PUBLIC;

-- FUNCTION signed_inbox_list(recipient_key text, token text, page integer, page_size integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer, page_size integer) IS 'inbox_list() for the holder of the recipient''s link token';

-- FUNCTION signed_inbox_mark_read(recipient_key text, token text, ids bigint[]); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) TO msgpool_inbox;
REVOKE ALL ON FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) FROM PUBLIC;

-- FUNCTION signed_inbox_mark_read(recipient_key text, token text, ids bigint[]); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) IS 'inbox_mark_read() for the holder of the recipient''s link token';

-- FUNCTION signed_inbox_show(recipient_key text, token text, id bigint); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) TO msgpool_inbox;
REVOKE ALL ON FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) FROM PUBLIC;

-- FUNCTION signed_inbox_show(recipient_key text, token text, id bigint); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) IS 'inbox_show() for the holder of the recipient''s link token';

-- FUNCTION signed_inbox_unread_count(recipient_key text, token text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) TO msgpool_inbox;
REVOKE ALL ON FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) FROM PUBLIC;

-- FUNCTION signed_inbox_unread_count(recipient_key text, token text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) IS 'inbox_unread_count() for the holder of the recipient''s link token';

-- FUNCTION spend_provider_budget(channel msgpool.channel, claimed integer); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer) FROM PUBLIC;

-- FUNCTION spend_provider_budget(channel msgpool.channel, claimed integer); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer) IS 'Counts a claim''s deliveries against the provider''s budget of this second';

-- FUNCTION subscription_check_channels(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.subscription_check_channels() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.subscription_check_channels() FROM PUBLIC;

-- FUNCTION subscriptions(type_key text, recipient_key text, group_key text); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.subscriptions(type_key text, recipient_key text, group_key text) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.subscriptions(type_key text, recipient_key text, group_key text) FROM PUBLIC;

-- FUNCTION subscriptions(type_key text, recipient_key text, group_key text); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.subscriptions(type_key text, recipient_key text, group_key text) IS 'The subscriptions matching every filter given; a recipient''s include those through their groups';

-- FUNCTION too_deep(payload jsonb); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.too_deep(payload jsonb) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.too_deep(payload jsonb) TO msgpool_producer;
REVOKE ALL ON FUNCTION msgpool.too_deep(payload jsonb) FROM PUBLIC;

-- FUNCTION too_deep(payload jsonb); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.too_deep(payload jsonb) IS 'True when a payload nests arrays and objects more than 32 levels deep (MP014)';

-- FUNCTION touch_updated_at(); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.touch_updated_at() TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.touch_updated_at() FROM PUBLIC;

-- FUNCTION unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean) TO msgpool_admin;
REVOKE ALL ON FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean) FROM PUBLIC;

-- FUNCTION unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean) IS 'Where a lease that ended unsent leaves its delivery: cancelled, dead or pending';

-- FUNCTION worker_waiting(worker uuid, waiting boolean); Type: ACL; Schema: msgpool
GRANT ALL ON FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) TO msgpool_admin;
GRANT ALL ON FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) TO msgpool_worker;
REVOKE ALL ON FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) FROM PUBLIC;

-- FUNCTION worker_waiting(worker uuid, waiting boolean); Type: COMMENT; Schema: msgpool
COMMENT ON FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) IS 'An idle worker says it waits (producers then notify), or that it is busy again';

-- SCHEMA msgpool; Type: ACL; Schema: -
GRANT USAGE ON SCHEMA msgpool TO msgpool_admin;
GRANT USAGE ON SCHEMA msgpool TO msgpool_inbox;
GRANT USAGE ON SCHEMA msgpool TO msgpool_producer;
GRANT USAGE ON SCHEMA msgpool TO msgpool_worker;

-- SCHEMA msgpool; Type: COMMENT; Schema: -
COMMENT ON SCHEMA msgpool IS 'msgpool: message types, recipients, the message pool, deliveries and the in-site inbox';

-- SEQUENCE audit_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.audit_id_seq TO msgpool_admin;

-- SEQUENCE delivery_attempt_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.delivery_attempt_id_seq TO msgpool_admin;

-- SEQUENCE delivery_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.delivery_id_seq TO msgpool_admin;

-- SEQUENCE inbox_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.inbox_id_seq TO msgpool_admin;

-- SEQUENCE message_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.message_id_seq TO msgpool_admin;

-- SEQUENCE subscription_id_seq; Type: ACL; Schema: msgpool
GRANT SELECT,USAGE ON SEQUENCE msgpool.subscription_id_seq TO msgpool_admin;

-- TABLE audit; Type: ACL; Schema: msgpool
GRANT SELECT ON TABLE msgpool.audit TO msgpool_admin;

-- TABLE audit; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.audit IS 'Every change to the configuration: who, when, which object, before and after (secrets redacted)';

-- TABLE channel_status; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.channel_status TO msgpool_admin;

-- TABLE console_user; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.console_user TO msgpool_admin;

-- TABLE console_user; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.console_user IS 'Who may sign in to the console, as viewer, operator or admin';

-- TABLE dedup; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.dedup TO msgpool_admin;

-- TABLE dedup; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.dedup IS 'Open dedup keys: while closes_at is ahead, a message with this type and key is counted on message_id';

-- TABLE delivery; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.delivery TO msgpool_admin;

-- TABLE delivery; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.delivery IS 'One recipient on one channel for one message: what is retried, rate-limited and audited';

-- TABLE delivery_attempt; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.delivery_attempt TO msgpool_admin;

-- TABLE delivery_attempt; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.delivery_attempt IS 'Every attempt at a delivery: its outcome, the provider''s answer, who and when';

-- TABLE destination_report; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.destination_report TO msgpool_admin;

-- TABLE destination_report; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.destination_report IS 'What each worker last reported of its destinations (report_destinations()); read msgpool.destinations';

-- TABLE destinations; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.destinations TO msgpool_admin;

-- TABLE duplicates; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.duplicates TO msgpool_admin;

-- TABLE group_member; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.group_member TO msgpool_admin;

-- TABLE group_member; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.group_member IS 'Who is in which group';

-- TABLE inbox; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.inbox TO msgpool_admin;

-- TABLE inbox; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.inbox IS 'The in-site inbox (站内信): each row its own rendered copy of a message for one recipient';

-- TABLE inbox_entry; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.inbox_entry TO msgpool_admin;

-- TABLE interval_slot; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.interval_slot TO msgpool_admin;

-- TABLE interval_slot; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.interval_slot IS 'The interval policy''s memory: when the latest notification of a type to a recipient on a channel is due';

-- TABLE message; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.message TO msgpool_admin;

-- TABLE message; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.message IS 'The message pool: one row per msgpool.send() or INSERT, expanded by workers into deliveries';

-- TABLE message_type; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.message_type TO msgpool_admin;

-- TABLE message_type; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.message_type IS 'Kinds of message producers may send, keyed by a developer-facing key such as server.down';

-- TABLE producer; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.producer TO msgpool_admin;

-- TABLE producer; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.producer IS 'Per producing login role: the sources its messages may name (else: the role''s name)';

-- TABLE quiet_hours; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.quiet_hours TO msgpool_admin;

-- TABLE quiet_hours; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.quiet_hours IS 'Per type and channel: no deliveries below an urgency between two local times (defer or drop)';

-- TABLE rate_limit; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.rate_limit TO msgpool_admin;

-- TABLE rate_limit; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.rate_limit IS 'Per channel: sends per recipient per window, and deliveries per second to the provider';

-- TABLE recipient; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.recipient TO msgpool_admin;

-- TABLE recipient; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.recipient IS 'A person or a chat group that can be told things, with a contact per channel';

-- TABLE recipient_group; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.recipient_group TO msgpool_admin;

-- TABLE recipient_group; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.recipient_group IS 'A named group of recipients, subscribed as one';

-- TABLE robot_limit; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.robot_limit TO msgpool_admin;

-- TABLE robot_limit; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.robot_limit IS 'Per chat-robot flavor: sends per window to one robot, as the platform allows';

-- TABLE robot_send; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.robot_send TO msgpool_admin;

-- TABLE robot_send; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.robot_send IS 'The robot limits'' memory: each claimed send to a limited robot (its webhook URL)';

-- TABLE sent_per_minute; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.sent_per_minute TO msgpool_admin;

-- TABLE settings; Type: ACL; Schema: msgpool
GRANT SELECT,UPDATE ON TABLE msgpool.settings TO msgpool_admin;

-- TABLE settings; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.settings IS 'Every setting an administrator may change (one row): the door''s limits and the retry timing';

-- TABLE status; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.status TO msgpool_admin;

-- TABLE subscription; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.subscription TO msgpool_admin;

-- TABLE subscription; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.subscription IS 'A type''s subscribers: a recipient or a group, maybe on fewer channels, maybe paused';

-- TABLE template; Type: ACL; Schema: msgpool
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.template TO msgpool_admin;

-- TABLE template; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.template IS 'A type''s template for one channel (minijinja; variables are the payload''s keys); none: the built-in one';

-- TABLE waiting_worker; Type: ACL; Schema: msgpool
GRANT SELECT ON TABLE msgpool.waiting_worker TO msgpool_producer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE msgpool.waiting_worker TO msgpool_admin;

-- TABLE waiting_worker; Type: COMMENT; Schema: msgpool
COMMENT ON TABLE msgpool.waiting_worker IS 'Idle workers: while one is here, producers wake it with NOTIFY msgpool_message';

-- TYPE attempt_outcome; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.attempt_outcome IS 'What one attempt came to; throttled (the provider asked to wait) spends no attempt';

-- TYPE channel; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.channel IS 'A way of telling someone: in-site inbox, email, SMS, chat webhook';

-- TYPE claimed_delivery; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.claimed_delivery IS 'A claimed delivery with everything to render and send it; rows sharing a lease_token are one digest';

-- TYPE console_role; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.console_role IS 'What a console user may do: viewer reads, operator also acts on messages, admin also configures';

-- TYPE delivery_state; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.delivery_state IS 'pending (due at next_attempt_at), sending (leased), then sent, dead (gave up), skipped (not sendable) or cancelled';

-- TYPE destination_figures; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.destination_figures IS 'What a worker sees of one destination: in flight, its limit, latency, a pause';

-- TYPE inbox_item; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.inbox_item IS 'A claimed inbox delivery as the worker rendered it, with the deliveries gathered into it';

-- TYPE message_state; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.message_state IS 'pending (waiting to be expanded into deliveries), expanded, cancelled';

-- TYPE outcome; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.outcome IS 'How one attempt at a claimed delivery went, as a worker reports it';

-- TYPE quiet_action; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.quiet_action IS 'What quiet hours do to a delivery inside them: defer it, or drop it (recorded skipped)';

-- TYPE schedule; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.schedule IS 'When one delivery goes out, by which rule, and whether it is dropped (inside expand())';

-- TYPE send_policy; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.send_policy IS 'When a type''s messages go out: immediately, at set times of day, or at most once per interval';

-- TYPE subscription_entry; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.subscription_entry IS 'One subscription as msgpool.subscriptions() lists it';

-- TYPE urgency; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.urgency IS 'How urgent a message is, in order: low < normal < high < urgent (urgent ignores every window)';

-- TYPE webhook_flavor; Type: COMMENT; Schema: msgpool
COMMENT ON TYPE msgpool.webhook_flavor IS 'Which chat platform a webhook speaks to (its body format and signing)';

-- VIEW channel_status; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.channel_status IS 'Per channel: sent in the last minute, due, pending, sending, dead, deferred, limits';

-- VIEW destinations; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.destinations IS 'Per destination, across the workers that reported in the last 30 s: in flight, limits, latency, pauses';

-- VIEW duplicates; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.duplicates IS 'Open messages that were repeated, noisiest first';

-- VIEW inbox_entry; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.inbox_entry IS 'An inbox message as pages show it, with its message''s repeat count';

-- VIEW sent_per_minute; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.sent_per_minute IS 'Deliveries sent per channel in each of the last 60 minutes (0: the current one), zeros included';

-- VIEW status; Type: COMMENT; Schema: msgpool
COMMENT ON VIEW msgpool.status IS 'How the pool is doing, in one row: messages and deliveries per state, the oldest due wait, dead deliveries';

-- absolute(interval); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.absolute(span interval) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT make_interval(secs => extract(epoch FROM span)) $$;
ALTER FUNCTION msgpool.absolute(span interval) OWNER TO msgpool_owner;

-- actor(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.actor() RETURNS text
    LANGUAGE sql STABLE
    AS $$
  SELECT coalesce(CASE WHEN pg_catalog.pg_has_role(session_user, 'msgpool_console', 'MEMBER')
                       THEN nullif(current_setting('msgpool.person', true), '') END,
                  session_user::text)
$$;
ALTER FUNCTION msgpool.actor() OWNER TO msgpool_owner;

-- attempt_outcome; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.attempt_outcome AS ENUM (
    'sent',
    'retry',
    'dead',
    'throttled'
);
ALTER TYPE msgpool.attempt_outcome OWNER TO msgpool_owner;

-- audit audit_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.audit
    ADD CONSTRAINT audit_pkey PRIMARY KEY (id);

-- audit; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.audit (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor text NOT NULL,
    login_role text NOT NULL,
    application text,
    subject text NOT NULL,
    action text NOT NULL,
    type_key text,
    recipient_key text,
    group_key text,
    channel msgpool.channel,
    before jsonb,
    after jsonb,
    CONSTRAINT audit_action_known CHECK ((action = ANY (ARRAY['insert'::text, 'update'::text, 'delete'::text])))
);
ALTER TABLE msgpool.audit OWNER TO msgpool_owner;

-- audit_change(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.audit_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
ALTER FUNCTION msgpool.audit_change() OWNER TO msgpool_owner;

-- audit_group; Type: INDEX; Schema: msgpool
CREATE INDEX audit_group ON msgpool.audit USING btree (group_key, id) WHERE (group_key IS NOT NULL);

-- audit_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.audit ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- audit_recipient; Type: INDEX; Schema: msgpool
CREATE INDEX audit_recipient ON msgpool.audit USING btree (recipient_key, id) WHERE (recipient_key IS NOT NULL);

-- audit_type; Type: INDEX; Schema: msgpool
CREATE INDEX audit_type ON msgpool.audit USING btree (type_key, id) WHERE (type_key IS NOT NULL);

-- audited(jsonb); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.audited(row_data jsonb) RETURNS jsonb
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
ALTER FUNCTION msgpool.audited(row_data jsonb) OWNER TO msgpool_owner;

-- backoff(integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.backoff(attempt integer) RETURNS interval
    LANGUAGE sql
    AS $$
  SELECT least(s.retry_base * power(2, least(greatest(attempt, 1) - 1, 30)), s.retry_cap)
         * (0.75 + random() * 0.5)
    FROM msgpool.settings s
$$;
ALTER FUNCTION msgpool.backoff(attempt integer) OWNER TO msgpool_owner;

-- cancel(bigint); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.cancel(message_id bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  cancelled integer;
BEGIN
  -- waits for an expander expanding it, so the deliveries it made are cancelled too
  PERFORM FROM msgpool.message m
   WHERE m.id = cancel.message_id AND (m.sent_by = session_user OR msgpool.is_admin())
     FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no message % of %', coalesce(cancel.message_id::text, 'NULL'),
        CASE WHEN msgpool.is_admin() THEN 'the pool' ELSE session_user::text END
      USING ERRCODE = 'MP011',
            HINT = 'msgpool.send() returns the id; a producer cancels only what its own login role sent';
  END IF;
  UPDATE msgpool.message m SET state = 'cancelled'
   WHERE m.id = cancel.message_id AND m.state IN ('pending', 'expanded');
  UPDATE msgpool.delivery d SET state = 'cancelled', deferred_by = NULL
   WHERE d.message_id = cancel.message_id AND d.state = 'pending';
  GET DIAGNOSTICS cancelled = ROW_COUNT;
  DELETE FROM msgpool.dedup dd WHERE dd.message_id = cancel.message_id;
  RETURN cancelled;
END;
$$;
ALTER FUNCTION msgpool.cancel(message_id bigint) OWNER TO msgpool_owner;

-- channel; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.channel AS ENUM (
    'inbox',
    'email',
    'sms',
    'webhook'
);
ALTER TYPE msgpool.channel OWNER TO msgpool_owner;

-- channel_status; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.channel_status AS
 SELECT c.c AS channel,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'sent'::msgpool.delivery_state) AND (d.sent_at > (now() - '00:01:00'::interval)))) AS sent_last_minute,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'pending'::msgpool.delivery_state) AND (d.next_attempt_at <= msgpool.clock()))) AS due,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'pending'::msgpool.delivery_state))) AS pending,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'sending'::msgpool.delivery_state))) AS sending,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'dead'::msgpool.delivery_state))) AS dead,
    ( SELECT count(*) AS count
           FROM msgpool.delivery d
          WHERE ((d.channel = c.c) AND (d.state = 'pending'::msgpool.delivery_state) AND (d.deferred_by IS NOT NULL) AND (d.next_attempt_at > msgpool.clock()))) AS deferred,
    ( SELECT format('%s per %s'::text, l.recipient_max, l.recipient_window) AS format
           FROM msgpool.rate_limit l
          WHERE ((l.channel = c.c) AND (l.recipient_max IS NOT NULL))) AS recipient_limit,
    ( SELECT l.provider_per_second
           FROM msgpool.rate_limit l
          WHERE (l.channel = c.c)) AS provider_per_second
   FROM unnest(enum_range(NULL::msgpool.channel)) c(c);
ALTER TABLE msgpool.channel_status OWNER TO msgpool_owner;

-- check_recipients(text[], text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
  wanted text[] := ARRAY(SELECT DISTINCT k FROM unnest(recipient_keys) k ORDER BY 1);
  found_keys text[];
  unknown_keys text[];
  disabled_keys text[];
  outsiders text[];
BEGIN
  IF cardinality(recipient_keys) = 0 THEN
    RAISE EXCEPTION 'recipients is an empty list'
      USING ERRCODE = 'MP008',
            HINT = 'pass NULL to send to the type''s subscribers, or name at least one recipient';
  END IF;
  IF NOT msgpool.is_admin() THEN
    IF (SELECT NOT t.any_recipient FROM msgpool.message_type t WHERE t.key = check_recipients.type_key) THEN
      outsiders := ARRAY(
        SELECT w FROM unnest(wanted) w
         WHERE w IS NULL OR NOT EXISTS (
                 SELECT 1 FROM msgpool.subscription s
                  WHERE s.type_key = check_recipients.type_key AND s.recipient_key = w)
           AND NOT EXISTS (
                 SELECT 1 FROM msgpool.subscription s
                   JOIN msgpool.group_member gm ON gm.group_key = s.group_key
                  WHERE s.type_key = check_recipients.type_key AND gm.recipient_key = w)
         ORDER BY 1);
      IF cardinality(outsiders) > 0 THEN
        RAISE EXCEPTION '% may name only its subscribers: not %', type_key,
            array_to_string(outsiders, ', ', 'NULL')
          USING ERRCODE = 'MP019',
                HINT = 'leave recipients out to reach the subscribers, or ask an administrator to subscribe them or to let the type take any recipient';
      END IF;
    END IF;
    -- in the key format, or the deliveries' key column would refuse the whole expansion
    PERFORM w::msgpool.recipient_key FROM unnest(wanted) w;
    RETURN wanted;
  END IF;
  SELECT coalesce(array_agg(r.key::text ORDER BY r.key::text), '{}'),
         array_agg(r.key::text ORDER BY r.key::text) FILTER (WHERE NOT r.enabled)
    INTO found_keys, disabled_keys
    FROM msgpool.recipient r
   WHERE r.key = ANY (wanted);
  unknown_keys := ARRAY(SELECT w FROM unnest(recipient_keys) AS w
                         WHERE w IS NULL OR w <> ALL (found_keys) GROUP BY w ORDER BY 1);
  IF cardinality(unknown_keys) > 0 THEN
    RAISE EXCEPTION 'unknown recipient(s) %', array_to_string(unknown_keys, ', ', 'NULL')
      USING ERRCODE = 'MP005',
            HINT = msgpool.did_you_mean(unknown_keys[1], ARRAY(SELECT r.key::text FROM msgpool.recipient r),
                                        'list recipients with: msgpool recipient list');
  END IF;
  IF disabled_keys IS NOT NULL THEN
    RAISE EXCEPTION 'recipient(s) % disabled', array_to_string(disabled_keys, ', ')
      USING ERRCODE = 'MP006',
            HINT = 'leave them out, or enable them with: msgpool recipient enable KEY';
  END IF;
  RETURN found_keys;
END;
$$;
ALTER FUNCTION msgpool.check_recipients(recipient_keys text[], type_key text) OWNER TO msgpool_owner;

-- check_source(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.check_source(source text) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF source IS DISTINCT FROM session_user::text AND NOT EXISTS (
       SELECT 1 FROM msgpool.producer p WHERE p.login_role = session_user AND source = ANY (p.sources)) THEN
    RAISE EXCEPTION 'source % is not one that % may give', quote_literal(source), session_user
      USING ERRCODE = 'MP020',
            HINT = format('leave source out (it is then %s), or an administrator allows it: msgpool producer allow %s --sources %s',
                          session_user, session_user, source);
  END IF;
END;
$$;
ALTER FUNCTION msgpool.check_source(source text) OWNER TO msgpool_owner;

-- claim_deliveries(msgpool.channel, integer, interval); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) RETURNS SETOF msgpool.claimed_delivery
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  limits msgpool.rate_limit;
  claimed integer;
BEGIN
  -- 1. leases whose worker stopped or hung come back
  PERFORM msgpool.rescue_expired_leases(claim_deliveries.channel);
  -- 2. the provider's budget caps the batch
  SELECT * INTO limits FROM msgpool.rate_limit r WHERE r.channel = claim_deliveries.channel;
  IF limits.provider_per_second IS NOT NULL THEN
    batch_size := msgpool.provider_budget(claim_deliveries.channel, batch_size);
    IF batch_size <= 0 THEN
      RETURN;
    END IF;
  END IF;
  -- 3. what would break a recipient's or a chat robot's limit moves later
  IF limits.recipient_max IS NOT NULL THEN
    PERFORM msgpool.defer_over_recipient_limit(claim_deliveries.channel, limits.recipient_max,
                                               limits.recipient_window, batch_size);
  END IF;
  IF claim_deliveries.channel = 'webhook' THEN
    -- one webhook claim at a time counts robots' sends: a concurrent claim's sends are
    -- committed, and seen, before this one counts
    PERFORM pg_advisory_xact_lock(hashtext('msgpool.robot_limit'));
    PERFORM msgpool.defer_over_robot_limit(batch_size);
  END IF;
  -- 4. the claim
  RETURN QUERY
  WITH locked AS (
    SELECT d.id, d.recipient_key, d.gather_key, d.next_attempt_at, pg_column_size(m.payload) AS bytes
      FROM msgpool.delivery d JOIN msgpool.message m ON m.id = d.message_id
     WHERE d.state = 'pending' AND d.channel = claim_deliveries.channel AND d.next_attempt_at <= msgpool.clock()
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  -- what is locked past the byte budget stays pending (the lock ends with the claim)
  due AS (
    SELECT s.id, s.recipient_key, s.gather_key
      FROM (SELECT l.*, sum(l.bytes) OVER (ORDER BY l.next_attempt_at, l.id) - l.bytes AS before
              FROM locked l) s
     WHERE s.before < (SELECT st.max_claim_bytes FROM msgpool.settings st)
  ),
  digests AS (
    SELECT g.recipient_key, g.gather_key, min(g.id) AS lead, gen_random_uuid() AS token
      FROM due g
     WHERE g.gather_key IS NOT NULL
     GROUP BY g.recipient_key, g.gather_key
  ),
  claimed AS (
    UPDATE msgpool.delivery d
       SET state = 'sending', lease_token = coalesce(dg.token, gen_random_uuid()),
           lease_deadline = now() + lease, attempts = d.attempts + 1,
           gathered_into = CASE WHEN dg.lead <> d.id THEN dg.lead END
      FROM due LEFT JOIN digests dg ON dg.recipient_key = due.recipient_key AND dg.gather_key = due.gather_key
     WHERE d.id = due.id
    RETURNING d.*
  ),
  robot_sends AS (
    INSERT INTO msgpool.robot_send (robot)
    SELECT r.webhook_url FROM claimed c JOIN msgpool.recipient r ON r.key = c.recipient_key
     WHERE claim_deliveries.channel = 'webhook' AND c.gathered_into IS NULL
       AND r.webhook_flavor IN (SELECT l.flavor FROM msgpool.robot_limit l)
  )
  SELECT c.id, c.lease_token, c.attempts, c.channel, m.id, m.payload, m.duplicate_count,
         msgpool.local_time(m.created_at, t.time_zone),
         m.urgency, t.key::text, t.name, t.category, tpl.subject, tpl.body,
         r.key::text, r.name, r.email, r.phone, r.webhook_url, r.webhook_flavor, r.webhook_secret,
         tpl.digest_subject, tpl.digest_body, tpl.html_body,
         'msgpool-' || c.id || '-' || to_char(c.created_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS')
    FROM claimed c
    JOIN msgpool.message m ON m.id = c.message_id
    JOIN msgpool.message_type t ON t.key = m.type_key
    JOIN msgpool.recipient r ON r.key = c.recipient_key
    LEFT JOIN msgpool.template tpl ON tpl.type_key = m.type_key AND tpl.channel = c.channel
   ORDER BY c.id;
  IF limits.provider_per_second IS NOT NULL THEN
    GET DIAGNOSTICS claimed = ROW_COUNT;
    PERFORM msgpool.spend_provider_budget(claim_deliveries.channel, claimed);
  END IF;
END;
$$;
ALTER FUNCTION msgpool.claim_deliveries(channel msgpool.channel, batch_size integer, lease interval) OWNER TO msgpool_owner;

-- claimed_delivery; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.claimed_delivery AS (
	id bigint,
	lease_token uuid,
	attempt integer,
	channel msgpool.channel,
	message_id bigint,
	payload jsonb,
	duplicate_count integer,
	created_at text,
	urgency msgpool.urgency,
	type_key text,
	type_name text,
	category text,
	subject text,
	body text,
	recipient_key text,
	recipient_name text,
	email text,
	phone text,
	webhook_url text,
	webhook_flavor msgpool.webhook_flavor,
	webhook_secret text,
	digest_subject text,
	digest_body text,
	html_body text,
	identity text
);
ALTER TYPE msgpool.claimed_delivery OWNER TO msgpool_owner;

-- clock(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.clock() RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN current_setting('msgpool.clock', true) > '' THEN msgpool.pinned_clock() ELSE now() END $$;
ALTER FUNCTION msgpool.clock() OWNER TO msgpool_owner;

-- console_role; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.console_role AS ENUM (
    'viewer',
    'operator',
    'admin'
);
ALTER TYPE msgpool.console_role OWNER TO msgpool_owner;

-- console_user console_user_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER console_user_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.console_user FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- console_user console_user_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.console_user
    ADD CONSTRAINT console_user_pkey PRIMARY KEY (name);

-- console_user console_user_touch; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER console_user_touch BEFORE UPDATE ON msgpool.console_user FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

-- console_user; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.console_user (
    name msgpool.recipient_key NOT NULL,
    role msgpool.console_role NOT NULL,
    password_hash text NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT console_user_password_hashed CHECK ((password_hash ~~ '$argon2%'::text))
);
ALTER TABLE msgpool.console_user OWNER TO msgpool_owner;

-- count_duplicate(text, text, text, bigint, timestamp with time zone); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
  opened boolean;
  earlier bigint;
BEGIN
  INSERT INTO msgpool.dedup AS d (type_key, sent_by, dedup_key, message_id, closes_at)
  VALUES (count_duplicate.type_key, count_duplicate.sent_by, count_duplicate.dedup_key,
          count_duplicate.message_id, count_duplicate.closes_at)
  ON CONFLICT ON CONSTRAINT dedup_pkey DO UPDATE
    SET message_id = excluded.message_id, closes_at = excluded.closes_at
    WHERE d.closes_at <= msgpool.clock()
  RETURNING true INTO opened;
  IF opened THEN
    RETURN NULL;
  END IF;
  UPDATE msgpool.message m
     SET duplicate_count = m.duplicate_count + 1, last_seen_at = now()
    FROM msgpool.dedup d
   WHERE d.type_key = count_duplicate.type_key AND d.sent_by = count_duplicate.sent_by
     AND d.dedup_key = count_duplicate.dedup_key AND m.id = d.message_id
  RETURNING m.id INTO earlier;
  RETURN earlier;
END;
$$;
ALTER FUNCTION msgpool.count_duplicate(type_key text, sent_by text, dedup_key text, message_id bigint, closes_at timestamp with time zone) OWNER TO msgpool_owner;

-- dedup dedup_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.dedup
    ADD CONSTRAINT dedup_pkey PRIMARY KEY (type_key, sent_by, dedup_key);

-- dedup; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.dedup (
    type_key text NOT NULL,
    sent_by text NOT NULL,
    dedup_key text NOT NULL,
    message_id bigint NOT NULL,
    closes_at timestamp with time zone NOT NULL
);
ALTER TABLE msgpool.dedup OWNER TO msgpool_owner;

-- dedup_message; Type: INDEX; Schema: msgpool
CREATE INDEX dedup_message ON msgpool.dedup USING btree (message_id);

-- defer_over_recipient_limit(msgpool.channel, integer, interval, integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer) RETURNS integer
    LANGUAGE sql
    AS $$
  WITH due AS (
    SELECT d.id, d.recipient_key, coalesce(d.gather_key, d.id::text) AS send
      FROM msgpool.delivery d
      JOIN msgpool.message m ON m.id = d.message_id
     WHERE d.state = 'pending' AND d.channel = defer_over_recipient_limit.channel AND d.next_attempt_at <= msgpool.clock()
       AND m.urgency < 'urgent'
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  ranked AS (
    -- deliveries gathered into one digest are one send
    SELECT due.id, due.recipient_key, dense_rank() OVER (PARTITION BY due.recipient_key ORDER BY due.send) AS nth
      FROM due
  ),
  recent AS (
    SELECT x.recipient_key, count(*) AS sends, min(x.sent_at) AS oldest
      FROM msgpool.delivery x
     WHERE x.recipient_key IN (SELECT due.recipient_key FROM due)
       AND x.channel = defer_over_recipient_limit.channel AND x.gathered_into IS NULL
       AND (x.state = 'sending' OR (x.state = 'sent' AND x.sent_at > msgpool.clock() - per))
     GROUP BY x.recipient_key
  ),
  deferred AS (
    UPDATE msgpool.delivery d
       SET next_attempt_at = coalesce(r.oldest, msgpool.clock()) + per,
           deferred_by = format('rate limit: %s %s per %s per recipient', max_sends, defer_over_recipient_limit.channel, per)
      FROM ranked k LEFT JOIN recent r ON r.recipient_key = k.recipient_key
     WHERE d.id = k.id AND k.nth + coalesce(r.sends, 0) > max_sends
    RETURNING 1
  )
  SELECT count(*)::integer FROM deferred
$$;
ALTER FUNCTION msgpool.defer_over_recipient_limit(channel msgpool.channel, max_sends integer, per interval, batch_size integer) OWNER TO msgpool_owner;

-- defer_over_robot_limit(integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.defer_over_robot_limit(batch_size integer) RETURNS integer
    LANGUAGE sql
    AS $$
  WITH due AS (
    SELECT d.id, r.webhook_url AS robot, r.webhook_flavor AS flavor, t.digest, t.key AS type_key,
           -- a send: one delivery, or a digest's deliveries for one recipient
           d.recipient_key || '/' || coalesce(d.gather_key, d.id::text) AS send
      FROM msgpool.delivery d
      JOIN msgpool.recipient r ON r.key = d.recipient_key
      JOIN msgpool.message m ON m.id = d.message_id
      JOIN msgpool.message_type t ON t.key = m.type_key
     WHERE d.state = 'pending' AND d.channel = 'webhook' AND d.next_attempt_at <= msgpool.clock()
       AND r.webhook_flavor IN (SELECT l.flavor FROM msgpool.robot_limit l)
     ORDER BY d.next_attempt_at, d.id
     LIMIT batch_size
     FOR UPDATE OF d SKIP LOCKED
  ),
  ranked AS (
    SELECT s.*, l.max_sends, l.per,
           dense_rank() OVER (PARTITION BY s.robot, l.per ORDER BY s.first, s.send) AS nth
      FROM (SELECT due.*, min(due.id) OVER (PARTITION BY due.send) AS first FROM due) s
      JOIN msgpool.robot_limit l ON l.flavor = s.flavor
  ),
  recent AS (
    SELECT w.robot, w.per, count(*) AS sends, min(x.sent_at) AS oldest
      FROM (SELECT DISTINCT k.robot, k.per FROM ranked k) w
      JOIN msgpool.robot_send x ON x.robot = w.robot AND x.sent_at > now() - w.per
     GROUP BY w.robot, w.per
  ),
  over AS (
    -- the longest wait among the limits it would break
    SELECT DISTINCT ON (k.id) k.id, k.digest, k.type_key,
           coalesce(r.oldest, now()) + k.per - now() AS wait,
           format('robot limit: %s robots take %s per %s', k.flavor, k.max_sends, k.per) AS why
      FROM ranked k LEFT JOIN recent r ON r.robot = k.robot AND r.per = k.per
     WHERE k.nth + coalesce(r.sends, 0) > k.max_sends
     ORDER BY k.id, coalesce(r.oldest, now()) + k.per DESC
  ),
  deferred AS (
    UPDATE msgpool.delivery d
       SET next_attempt_at = msgpool.clock() + o.wait, deferred_by = o.why,
           gather_key = CASE WHEN o.digest THEN coalesce(d.gather_key, o.type_key) ELSE d.gather_key END
      FROM over o
     WHERE d.id = o.id
    RETURNING 1
  )
  SELECT count(*)::integer FROM deferred
$$;
ALTER FUNCTION msgpool.defer_over_robot_limit(batch_size integer) OWNER TO msgpool_owner;

-- deliver_to_inbox(jsonb); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.deliver_to_inbox(items jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  written integer;
BEGIN
  WITH i AS (
    SELECT x.*, nextval('msgpool.inbox_id_seq') AS inbox_id
      FROM jsonb_populate_recordset(NULL::msgpool.inbox_item, items) AS x
  ),
  sends AS (
    SELECT i.id, i.lease_token, i.inbox_id, i.started_at, i.worker FROM i
    UNION ALL
    SELECT g, i.lease_token, i.inbox_id, i.started_at, i.worker
      FROM i CROSS JOIN LATERAL unnest(i.gathered) AS g
  ),
  sent AS (
    UPDATE msgpool.delivery d
       SET state = 'sent', sent_at = msgpool.clock(), provider_ref = 'inbox:' || s.inbox_id,
           last_error = NULL, lease_token = NULL, lease_deadline = NULL
      FROM sends s
     WHERE d.id = s.id AND d.state = 'sending' AND d.lease_token = s.lease_token
    RETURNING d.id, d.attempts, d.recipient_key, d.message_id, s.started_at, s.worker
  ),
  inboxed AS (
    INSERT INTO msgpool.inbox (id, recipient_key, message_id, delivery_id, type_key, urgency, subject, body)
    OVERRIDING SYSTEM VALUE
    SELECT i.inbox_id, s.recipient_key, m.id, s.id, m.type_key, m.urgency, i.subject, i.body
      FROM sent s
      JOIN i ON i.id = s.id
      JOIN msgpool.message m ON m.id = s.message_id
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, started_at, worker)
    SELECT s.id, s.attempts, 'sent', coalesce(s.started_at, now()), s.worker FROM sent s
    RETURNING 1
  )
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;
ALTER FUNCTION msgpool.deliver_to_inbox(items jsonb) OWNER TO msgpool_owner;

-- delivery delivery_deleted; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER delivery_deleted AFTER DELETE ON msgpool.delivery REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();

-- delivery delivery_once; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.delivery
    ADD CONSTRAINT delivery_once UNIQUE (message_id, recipient_key, channel);

-- delivery delivery_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.delivery
    ADD CONSTRAINT delivery_pkey PRIMARY KEY (id);

-- delivery delivery_truncated; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER delivery_truncated AFTER TRUNCATE ON msgpool.delivery FOR EACH STATEMENT EXECUTE FUNCTION msgpool.delivery_deleted();

-- delivery; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.delivery (
    id bigint NOT NULL,
    message_id bigint NOT NULL,
    recipient_key msgpool.recipient_key NOT NULL,
    channel msgpool.channel NOT NULL,
    state msgpool.delivery_state DEFAULT 'pending'::msgpool.delivery_state NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_token uuid,
    lease_deadline timestamp with time zone,
    last_error text,
    skip_reason text,
    provider_ref text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    deferred_by text,
    gather_key text,
    gathered_into bigint,
    CONSTRAINT delivery_attempts_not_negative CHECK ((attempts >= 0)),
    CONSTRAINT delivery_dead_has_error CHECK (((state <> 'dead'::msgpool.delivery_state) OR (last_error IS NOT NULL))),
    CONSTRAINT delivery_leased_while_sending CHECK (((state = 'sending'::msgpool.delivery_state) = ((lease_token IS NOT NULL) AND (lease_deadline IS NOT NULL)))),
    CONSTRAINT delivery_sent_has_sent_at CHECK (((state <> 'sent'::msgpool.delivery_state) OR (sent_at IS NOT NULL))),
    CONSTRAINT delivery_skip_has_reason CHECK (((state <> 'skipped'::msgpool.delivery_state) OR (skip_reason IS NOT NULL)))
)
WITH (autovacuum_vacuum_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02');
ALTER TABLE msgpool.delivery OWNER TO msgpool_owner;

-- delivery_attempt delivery_attempt_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.delivery_attempt
    ADD CONSTRAINT delivery_attempt_pkey PRIMARY KEY (id);

-- delivery_attempt; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.delivery_attempt (
    id bigint NOT NULL,
    delivery_id bigint NOT NULL,
    attempt integer NOT NULL,
    outcome msgpool.attempt_outcome NOT NULL,
    error text,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone DEFAULT now() NOT NULL,
    worker text
);
ALTER TABLE msgpool.delivery_attempt OWNER TO msgpool_owner;

-- delivery_attempt_delivery; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_attempt_delivery ON msgpool.delivery_attempt USING btree (delivery_id);

-- delivery_attempt_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.delivery_attempt ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.delivery_attempt_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- delivery_dead; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_dead ON msgpool.delivery USING btree (channel, id) WHERE (state = 'dead'::msgpool.delivery_state);

-- delivery_deleted(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.delivery_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
ALTER FUNCTION msgpool.delivery_deleted() OWNER TO msgpool_owner;

-- delivery_due; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_due ON msgpool.delivery USING btree (channel, next_attempt_at, id) WHERE (state = 'pending'::msgpool.delivery_state);

-- delivery_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.delivery ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.delivery_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- delivery_lease; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_lease ON msgpool.delivery USING btree (lease_deadline) WHERE (state = 'sending'::msgpool.delivery_state);

-- delivery_recipient; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_recipient ON msgpool.delivery USING btree (recipient_key);

-- delivery_sent_at; Type: INDEX; Schema: msgpool
CREATE INDEX delivery_sent_at ON msgpool.delivery USING btree (sent_at) WHERE (state = 'sent'::msgpool.delivery_state);

-- delivery_state; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.delivery_state AS ENUM (
    'pending',
    'sending',
    'sent',
    'dead',
    'skipped',
    'cancelled'
);
ALTER TYPE msgpool.delivery_state OWNER TO msgpool_owner;

-- destination_figures; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.destination_figures AS (
	channel msgpool.channel,
	destination text,
	in_flight integer,
	flight_limit integer,
	latency_ms double precision,
	paused_until timestamp with time zone,
	paused_why text,
	sent bigint,
	failed bigint
);
ALTER TYPE msgpool.destination_figures OWNER TO msgpool_owner;

-- destination_report destination_report_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.destination_report
    ADD CONSTRAINT destination_report_pkey PRIMARY KEY (worker, channel, destination);

-- destination_report; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.destination_report (
    worker text NOT NULL,
    channel msgpool.channel NOT NULL,
    destination text NOT NULL,
    in_flight integer NOT NULL,
    flight_limit integer NOT NULL,
    latency_ms double precision,
    paused_until timestamp with time zone,
    paused_why text,
    sent bigint NOT NULL,
    failed bigint NOT NULL,
    reported_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE msgpool.destination_report OWNER TO msgpool_owner;

-- destinations; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.destinations AS
 SELECT r.channel,
    r.destination,
    count(*) AS workers,
    sum(r.in_flight) AS in_flight,
    sum(r.flight_limit) AS flight_limit,
    max(r.latency_ms) AS latency_ms,
    max(r.paused_until) FILTER (WHERE (r.paused_until > now())) AS paused_until,
    (array_agg(r.paused_why ORDER BY r.paused_until DESC NULLS LAST) FILTER (WHERE (r.paused_until > now())))[1] AS paused_why,
    sum(r.sent) AS sent,
    sum(r.failed) AS failed
   FROM msgpool.destination_report r
  WHERE (r.reported_at > (now() - '00:00:30'::interval))
  GROUP BY r.channel, r.destination;
ALTER TABLE msgpool.destinations OWNER TO msgpool_owner;

-- did_you_mean(text, text[], text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce('did you mean ' || quote_literal(msgpool.nearest_key(wanted, candidates)) || '?', otherwise) $$;
ALTER FUNCTION msgpool.did_you_mean(wanted text, candidates text[], otherwise text) OWNER TO msgpool_owner;

-- duplicates; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.duplicates AS
 SELECT m.type_key,
    d.dedup_key,
    m.id AS message_id,
    m.duplicate_count,
    m.created_at,
    m.last_seen_at,
    d.closes_at
   FROM (msgpool.dedup d
     JOIN msgpool.message m ON ((m.id = d.message_id)))
  WHERE ((d.closes_at > msgpool.clock()) AND (m.duplicate_count > 0) AND (m.state <> 'cancelled'::msgpool.message_state))
  ORDER BY m.duplicate_count DESC, m.last_seen_at DESC;
ALTER TABLE msgpool.duplicates OWNER TO msgpool_owner;

-- expand(integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.expand(batch_size integer DEFAULT 100) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  expanded integer;
BEGIN
  WITH due AS (
    SELECT m.id, m.type_key, m.recipients, m.urgency, m.deliver_at IS NOT NULL AS timed
      FROM msgpool.message m
     WHERE m.state = 'pending' AND m.due_at <= msgpool.clock()
     ORDER BY m.due_at, m.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  ),
  -- each row carries its message's type, so finding the channels never joins back to `due`
  -- (planned blind, that join became a nested loop over both)
  audience AS (
    SELECT d.id AS message_id, d.type_key, d.urgency, d.timed, wanted AS recipient_key,
           NULL::msgpool.channel[] AS channels
      FROM due d CROSS JOIN LATERAL unnest(d.recipients) AS wanted
     WHERE d.recipients IS NOT NULL
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, s.recipient_key, s.channels
      FROM due d JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.recipient_key IS NOT NULL
     WHERE d.recipients IS NULL AND NOT s.paused
    UNION ALL
    SELECT d.id, d.type_key, d.urgency, d.timed, gm.recipient_key, s.channels
      FROM due d
      JOIN msgpool.subscription s ON s.type_key = d.type_key AND s.group_key IS NOT NULL
      JOIN msgpool.group_member gm ON gm.group_key = s.group_key
     WHERE d.recipients IS NULL AND NOT s.paused
  ),
  targets AS (
    -- asked: a subscription names this channel for this recipient
    SELECT a.message_id, a.type_key, a.urgency, a.timed, a.recipient_key, c AS channel,
           bool_or(a.channels IS NOT NULL) AS asked
      FROM audience a
      JOIN msgpool.message_type t ON t.key = a.type_key
      CROSS JOIN LATERAL unnest(t.channels) AS c
     WHERE a.channels IS NULL OR c = ANY (a.channels)
     GROUP BY a.message_id, a.type_key, a.urgency, a.timed, a.recipient_key, c
  ),
  contacted AS (
    SELECT tg.*, t.digest,
           tg.urgency < 'urgent' AND ((t.send_policy <> 'immediate' AND NOT tg.timed) OR q.type_key IS NOT NULL)
             AS ruled,
           CASE
             WHEN r.enabled IS NULL THEN 'no recipient has this key'
             WHEN NOT r.enabled THEN 'recipient disabled'
             WHEN tg.channel = 'email' AND r.email IS NULL THEN 'recipient has no email address'
             WHEN tg.channel = 'sms' AND r.phone IS NULL THEN 'recipient has no phone number'
             WHEN tg.channel = 'webhook' AND r.webhook_url IS NULL THEN 'recipient has no webhook'
           END AS unsendable,
           coalesce(r.enabled, false) AS recipient_enabled
      FROM targets tg
      JOIN msgpool.message_type t ON t.key = tg.type_key
      -- one probe of the primary key per delivery (LIMIT keeps the planner from turning this
      -- into a join): estimating a batch's deliveries blindly, it would scan every recipient
      LEFT JOIN LATERAL (SELECT r.enabled, r.email, r.phone, r.webhook_url
                           FROM msgpool.recipient r WHERE r.key = tg.recipient_key LIMIT 1) r ON true
      LEFT JOIN msgpool.quiet_hours q ON q.type_key = tg.type_key AND q.channel = tg.channel
  ),
  checked AS (
    SELECT c.* FROM (
      SELECT ct.*, bool_or(ct.unsendable IS NULL) OVER (PARTITION BY ct.message_id, ct.recipient_key) AS reachable
        FROM contacted ct
    ) c
     WHERE c.unsendable IS NULL OR NOT c.recipient_enabled OR c.asked OR NOT c.reachable
  ),
  scheduled AS (
    SELECT c.*,
           CASE WHEN c.ruled AND c.unsendable IS NULL
                THEN msgpool.schedule_delivery(c.type_key, c.channel, c.recipient_key, c.urgency, c.timed)
           END AS s
      FROM checked c
  ),
  inserted AS (
    INSERT INTO msgpool.delivery (message_id, recipient_key, channel, state, skip_reason, next_attempt_at,
                                  deferred_by, gather_key)
    SELECT sc.message_id, sc.recipient_key, sc.channel,
           CASE WHEN sc.unsendable IS NULL AND (sc.s).dropped IS NOT TRUE THEN 'pending' ELSE 'skipped' END
             ::msgpool.delivery_state,
           coalesce(sc.unsendable, CASE WHEN (sc.s).dropped THEN (sc.s).deferred_by END),
           coalesce((sc.s).due_at, msgpool.clock()),
           CASE WHEN (sc.s).dropped IS NOT TRUE THEN (sc.s).deferred_by END,
           CASE WHEN sc.digest AND (sc.s).deferred_by IS NOT NULL AND (sc.s).dropped IS NOT TRUE
                THEN sc.type_key END
      FROM scheduled sc
    ON CONFLICT ON CONSTRAINT delivery_once DO NOTHING
    RETURNING 1
  )
  UPDATE msgpool.message m SET state = 'expanded', expanded_at = now()
    FROM due WHERE m.id = due.id;
  GET DIAGNOSTICS expanded = ROW_COUNT;
  RETURN expanded;
END;
$$;
ALTER FUNCTION msgpool.expand(batch_size integer) OWNER TO msgpool_owner;

-- expand_and_claim(integer, msgpool.channel[], interval); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) RETURNS SETOF msgpool.claimed_delivery
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
  on_channel msgpool.channel;
BEGIN
  PERFORM msgpool.expand(batch_size);
  FOREACH on_channel IN ARRAY channels LOOP
    -- a glance at the claim's own index spares a channel with nothing due the whole claim
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                               WHERE d.state = 'pending' AND d.channel = on_channel
                                 AND d.next_attempt_at <= msgpool.clock());
    RETURN QUERY SELECT * FROM msgpool.claim_deliveries(on_channel, batch_size, lease);
  END LOOP;
END;
$$;
ALTER FUNCTION msgpool.expand_and_claim(batch_size integer, channels msgpool.channel[], lease interval) OWNER TO msgpool_owner;

-- explain(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.explain(type_key text) RETURNS SETOF text
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
  at timestamptz := msgpool.clock();
  t msgpool.message_type;
  q record;
  l record;
  due timestamptz;
  local_format constant text := 'YYYY-MM-DD HH24:MI';
BEGIN
  PERFORM msgpool.require_type(explain.type_key);
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = explain.type_key;
  IF NOT t.enabled THEN
    RETURN NEXT 'Disabled: producers are refused (MP002); what is already in the pool still goes out.';
  END IF;
  IF t.urgency = 'urgent' THEN
    RETURN NEXT 'Urgent: every message goes out at once on every channel; no window holds it.';
  ELSIF t.send_policy = 'immediate' THEN
    RETURN NEXT 'Immediate: a message sent now goes out at once.';
  ELSIF t.send_policy = 'times_of_day' THEN
    due := msgpool.next_send_time(t.send_times, t.time_zone, at);
    RETURN NEXT format('Sent at %s (%s): a message sent now (%s) would go out at %s, in %s.',
      msgpool.format_times(t.send_times), t.time_zone, to_char(at AT TIME ZONE t.time_zone, local_format),
      to_char(due AT TIME ZONE t.time_zone, local_format), justify_hours(date_trunc('minute', due - at)));
  ELSE
    RETURN NEXT format('At most one every %s per recipient and channel: a message sent now goes out at once '
      'unless one went to that recipient less than %s ago; then it waits until that interval ends.',
      t.send_interval, t.send_interval);
  END IF;
  IF t.urgency < 'urgent' AND t.send_policy <> 'immediate' THEN
    RETURN NEXT CASE WHEN t.digest
      THEN 'Digest: messages waiting for the same time go to each recipient as one digest listing them all.'
      ELSE 'One by one: messages waiting for the same time go out separately.' END;
  END IF;
  IF t.urgency < 'urgent' THEN
    RETURN NEXT 'A producer''s deliver_at overrides the send policy; urgent messages ignore it and quiet hours.';
  END IF;
  FOR q IN SELECT * FROM msgpool.quiet_hours qh WHERE qh.type_key = t.key ORDER BY qh.channel LOOP
    CONTINUE WHEN t.urgency >= q.below;
    due := msgpool.quiet_until(q.starts, q.ends, t.time_zone, at);
    RETURN NEXT format('Quiet hours for %s: %s-%s (%s) below %s; a delivery inside is %s.%s',
      q.channel, to_char(q.starts, 'HH24:MI'), to_char(q.ends, 'HH24:MI'), t.time_zone, q.below,
      CASE q.action WHEN 'defer' THEN 'deferred to the end of the window' ELSE 'dropped (recorded as skipped)' END,
      CASE WHEN due IS NULL THEN ''
           WHEN q.action = 'defer' THEN format(' It is quiet now: %s would wait until %s.', q.channel,
                                               to_char(due AT TIME ZONE t.time_zone, local_format))
           ELSE format(' It is quiet now: %s would be dropped.', q.channel) END);
  END LOOP;
  FOR l IN SELECT * FROM msgpool.rate_limit r WHERE r.channel = ANY (t.channels) ORDER BY r.channel LOOP
    IF l.recipient_max IS NOT NULL AND t.urgency = 'urgent' THEN
      RETURN NEXT format('Rate limit for %s: none for this type (urgent messages are exempt from %s per recipient per %s).',
        l.channel, l.recipient_max, l.recipient_window);
    ELSIF l.recipient_max IS NOT NULL THEN
      RETURN NEXT format('Rate limit for %s: at most %s per recipient per %s; more waits, never dropped.',
        l.channel, l.recipient_max, l.recipient_window);
    END IF;
    IF l.provider_per_second IS NOT NULL THEN
      RETURN NEXT format('Provider limit for %s: %s deliveries per second for all types.', l.channel,
                         l.provider_per_second);
    END IF;
  END LOOP;
  RETURN NEXT CASE WHEN t.dedup_window > interval '0'
    THEN format('Dedup: the same dedup key within %s of the first is counted on the open message, not sent again.',
                t.dedup_window)
    ELSE 'Dedup: off (dedup_window is 0).' END;
END;
$$;
ALTER FUNCTION msgpool.explain(type_key text) OWNER TO msgpool_owner;

-- extend_leases(uuid[], interval); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  WITH extended AS (
    UPDATE msgpool.delivery d SET lease_deadline = now() + lease
     WHERE d.state = 'sending' AND d.lease_token = ANY (lease_tokens)
    RETURNING 1
  )
  SELECT count(*)::integer FROM extended
$$;
ALTER FUNCTION msgpool.extend_leases(lease_tokens uuid[], lease interval) OWNER TO msgpool_owner;

-- format_times(time without time zone[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.format_times(times time without time zone[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT string_agg(to_char(t, 'HH24:MI'), ', ' ORDER BY t) FROM unnest(times) t $$;
ALTER FUNCTION msgpool.format_times(times time without time zone[]) OWNER TO msgpool_owner;

-- group_member group_member_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER group_member_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.group_member FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- group_member group_member_group_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.group_member
    ADD CONSTRAINT group_member_group_key_fkey FOREIGN KEY (group_key) REFERENCES msgpool.recipient_group(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- group_member group_member_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.group_member
    ADD CONSTRAINT group_member_pkey PRIMARY KEY (group_key, recipient_key);

-- group_member group_member_recipient_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.group_member
    ADD CONSTRAINT group_member_recipient_key_fkey FOREIGN KEY (recipient_key) REFERENCES msgpool.recipient(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- group_member; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.group_member (
    group_key msgpool.recipient_key NOT NULL,
    recipient_key msgpool.recipient_key NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE msgpool.group_member OWNER TO msgpool_owner;

-- group_member_recipient; Type: INDEX; Schema: msgpool
CREATE INDEX group_member_recipient ON msgpool.group_member USING btree (recipient_key);

-- hand_to_owner(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.hand_to_owner() RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  object record;
BEGIN
  EXECUTE 'ALTER SCHEMA msgpool OWNER TO msgpool_owner';
  FOR object IN
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
           c.oid::regclass::text AS name
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'msgpool'::regnamespace AND c.relkind IN ('r', 'v', 'p')
       AND c.relname <> 'schema_history'
       AND c.relowner <> 'msgpool_owner'::regrole
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO msgpool_owner', object.kind, object.name);
  END LOOP;
  FOR object IN
    SELECT p.oid::regprocedure::text AS name FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'msgpool'::regnamespace AND p.proowner <> 'msgpool_owner'::regrole
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO msgpool_owner', object.name);
  END LOOP;
  FOR object IN
    SELECT t.oid::regtype::text AS name FROM pg_catalog.pg_type t
     WHERE t.typnamespace = 'msgpool'::regnamespace AND t.typowner <> 'msgpool_owner'::regrole
       AND t.typtype IN ('e', 'd', 'c')
       AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO msgpool_owner', object.name);
  END LOOP;
END;
$$;
ALTER FUNCTION msgpool.hand_to_owner() OWNER TO msgpool_owner;

-- hmac_sha256(bytea, bytea); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.hmac_sha256(key bytea, message bytea) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT
    AS $$
DECLARE
  block bytea := CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END
                 || decode(repeat('00', 64), 'hex');
  inner_pad bytea := decode(repeat('36', 64), 'hex');
  outer_pad bytea := decode(repeat('5c', 64), 'hex');
BEGIN
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(block, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(block, i) # 92);
  END LOOP;
  RETURN sha256(outer_pad || sha256(inner_pad || message));
END;
$$;
ALTER FUNCTION msgpool.hmac_sha256(key bytea, message bytea) OWNER TO msgpool_owner;

-- inbox inbox_delivery_id_key; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.inbox
    ADD CONSTRAINT inbox_delivery_id_key UNIQUE (delivery_id);

-- inbox inbox_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.inbox
    ADD CONSTRAINT inbox_pkey PRIMARY KEY (id);

-- inbox; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.inbox (
    id bigint NOT NULL,
    recipient_key msgpool.recipient_key NOT NULL,
    message_id bigint,
    delivery_id bigint,
    type_key msgpool.type_key NOT NULL,
    urgency msgpool.urgency NOT NULL,
    subject text DEFAULT ''::text NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    read_at timestamp with time zone,
    archived_at timestamp with time zone
);
ALTER TABLE msgpool.inbox OWNER TO msgpool_owner;

-- inbox_archive(text, bigint[], boolean); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean DEFAULT true) RETURNS integer
    LANGUAGE sql
    AS $$
  SELECT msgpool.require_inbox_ids(inbox_archive.recipient_key, ids);
  WITH changed AS (
    UPDATE msgpool.inbox i SET archived_at = CASE WHEN archived THEN now() END
     WHERE i.id = ANY (ids) AND (i.archived_at IS NOT NULL) <> archived
    RETURNING 1)
  SELECT count(*)::integer FROM changed;
$$;
ALTER FUNCTION msgpool.inbox_archive(recipient_key text, ids bigint[], archived boolean) OWNER TO msgpool_owner;

-- inbox_delete(text, bigint[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[]) RETURNS integer
    LANGUAGE sql
    AS $$
  SELECT msgpool.require_inbox_ids(inbox_delete.recipient_key, ids);
  WITH gone AS (DELETE FROM msgpool.inbox i WHERE i.id = ANY (ids) RETURNING 1)
  SELECT count(*)::integer FROM gone;
$$;
ALTER FUNCTION msgpool.inbox_delete(recipient_key text, ids bigint[]) OWNER TO msgpool_owner;

-- inbox_entry; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.inbox_entry AS
 SELECT i.id,
    (i.recipient_key)::text AS recipient_key,
    i.message_id,
    i.delivery_id,
    i.type_key,
    i.urgency,
    i.subject,
    i.body,
    i.created_at,
    i.read_at,
    i.archived_at,
    COALESCE(m.duplicate_count, 0) AS duplicate_count,
    COALESCE(m.last_seen_at, i.created_at) AS last_seen_at
   FROM (msgpool.inbox i
     LEFT JOIN msgpool.message m ON ((m.id = i.message_id)));
ALTER TABLE msgpool.inbox_entry OWNER TO msgpool_owner;

-- inbox_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.inbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.inbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- inbox_item; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.inbox_item AS (
	id bigint,
	lease_token uuid,
	subject text,
	body text,
	gathered bigint[],
	started_at timestamp with time zone,
	worker text
);
ALTER TYPE msgpool.inbox_item OWNER TO msgpool_owner;

-- inbox_list(text, boolean, integer, integer, boolean); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_list(recipient_key text, unread_only boolean DEFAULT false, page integer DEFAULT 1, page_size integer DEFAULT 20, archived boolean DEFAULT false) RETURNS SETOF msgpool.inbox_entry
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  PERFORM msgpool.require_recipient(inbox_list.recipient_key);
  IF page < 1 OR page_size NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'page must be 1 or more and page_size between 1 and 500 (got page %, page_size %)',
        page, page_size
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT e.* FROM msgpool.inbox_entry e
     WHERE e.recipient_key = inbox_list.recipient_key
       AND (e.archived_at IS NOT NULL) = archived
       AND (NOT unread_only OR e.read_at IS NULL)
     ORDER BY e.read_at IS NOT NULL, e.created_at DESC, e.id DESC
     LIMIT page_size OFFSET (page - 1) * page_size;
END;
$$;
ALTER FUNCTION msgpool.inbox_list(recipient_key text, unread_only boolean, page integer, page_size integer, archived boolean) OWNER TO msgpool_owner;

-- inbox_mark_read(text, bigint[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[] DEFAULT NULL::bigint[]) RETURNS integer
    LANGUAGE sql
    AS $$
  SELECT msgpool.require_inbox_ids(inbox_mark_read.recipient_key, ids);
  WITH changed AS (
    UPDATE msgpool.inbox i SET read_at = now()
     WHERE i.recipient_key = inbox_mark_read.recipient_key AND i.read_at IS NULL
       AND (ids IS NULL OR i.id = ANY (ids))
    RETURNING 1)
  SELECT count(*)::integer FROM changed;
$$;
ALTER FUNCTION msgpool.inbox_mark_read(recipient_key text, ids bigint[]) OWNER TO msgpool_owner;

-- inbox_recipient_newest; Type: INDEX; Schema: msgpool
CREATE INDEX inbox_recipient_newest ON msgpool.inbox USING btree (recipient_key, created_at DESC, id DESC);

-- inbox_recipient_unread; Type: INDEX; Schema: msgpool
CREATE INDEX inbox_recipient_unread ON msgpool.inbox USING btree (recipient_key) WHERE ((read_at IS NULL) AND (archived_at IS NULL));

-- inbox_rotate_secret(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_rotate_secret(recipient_key text DEFAULT NULL::text) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  rotated integer;
BEGIN
  IF recipient_key IS NOT NULL THEN
    PERFORM msgpool.require_recipient(recipient_key);
  END IF;
  UPDATE msgpool.recipient r SET inbox_secret = msgpool.new_inbox_secret()
   WHERE inbox_rotate_secret.recipient_key IS NULL OR r.key = inbox_rotate_secret.recipient_key;
  GET DIAGNOSTICS rotated = ROW_COUNT;
  RETURN rotated;
END;
$$;
ALTER FUNCTION msgpool.inbox_rotate_secret(recipient_key text) OWNER TO msgpool_owner;

-- inbox_show(text, bigint); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_show(recipient_key text, id bigint) RETURNS SETOF msgpool.inbox_entry
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM msgpool.require_inbox_ids(inbox_show.recipient_key, ARRAY[inbox_show.id]);
  UPDATE msgpool.inbox i SET read_at = now() WHERE i.id = inbox_show.id AND i.read_at IS NULL;
  RETURN QUERY SELECT e.* FROM msgpool.inbox_entry e WHERE e.id = inbox_show.id;
END;
$$;
ALTER FUNCTION msgpool.inbox_show(recipient_key text, id bigint) OWNER TO msgpool_owner;

-- inbox_token(text, text, interval); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_token(recipient_key text, scope text DEFAULT 'inbox'::text, valid_for interval DEFAULT NULL::interval) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  secret bytea;
  ends bigint := coalesce(extract(epoch FROM now() + valid_for)::bigint, 0);
BEGIN
  PERFORM msgpool.require_recipient(recipient_key);
  IF scope NOT IN ('inbox', 'count') THEN
    RAISE EXCEPTION 'no inbox link scope %', quote_literal(scope)
      USING ERRCODE = 'invalid_parameter_value', HINT = 'inbox (read and mark read) or count (the bell)';
  END IF;
  SELECT r.inbox_secret INTO secret FROM msgpool.recipient r WHERE r.key = inbox_token.recipient_key;
  RETURN scope || '-' || ends || '-'
         || encode(msgpool.hmac_sha256(secret, convert_to(recipient_key || E'\n' || scope || E'\n' || ends, 'UTF8')), 'hex');
END;
$$;
ALTER FUNCTION msgpool.inbox_token(recipient_key text, scope text, valid_for interval) OWNER TO msgpool_owner;

-- inbox_unread_count(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.inbox_unread_count(recipient_key text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  PERFORM msgpool.require_recipient(inbox_unread_count.recipient_key);
  RETURN (SELECT count(*) FROM msgpool.inbox i
           WHERE i.recipient_key = inbox_unread_count.recipient_key
             AND i.read_at IS NULL AND i.archived_at IS NULL);
END;
$$;
ALTER FUNCTION msgpool.inbox_unread_count(recipient_key text) OWNER TO msgpool_owner;

-- interval_slot interval_slot_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.interval_slot
    ADD CONSTRAINT interval_slot_pkey PRIMARY KEY (type_key, recipient_key, channel);

-- interval_slot; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.interval_slot (
    type_key text NOT NULL,
    recipient_key text NOT NULL,
    channel msgpool.channel NOT NULL,
    last_due_at timestamp with time zone NOT NULL
);
ALTER TABLE msgpool.interval_slot OWNER TO msgpool_owner;

-- is_admin(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.is_admin() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT pg_catalog.pg_has_role(session_user, 'msgpool_admin', 'MEMBER') $$;
ALTER FUNCTION msgpool.is_admin() OWNER TO msgpool_owner;

-- is_time_zone(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.is_time_zone(name text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = is_time_zone.name) $$;
ALTER FUNCTION msgpool.is_time_zone(name text) OWNER TO msgpool_owner;

-- local_time(timestamp with time zone, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.local_time(at timestamp with time zone, zone text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  SELECT to_char(at AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS')
         || CASE WHEN (at AT TIME ZONE zone) < (at AT TIME ZONE 'UTC') THEN '-' ELSE '+' END
         || to_char(greatest((at AT TIME ZONE zone) - (at AT TIME ZONE 'UTC'),
                             (at AT TIME ZONE 'UTC') - (at AT TIME ZONE zone)), 'HH24:MI')
$$;
ALTER FUNCTION msgpool.local_time(at timestamp with time zone, zone text) OWNER TO msgpool_owner;

-- make_login(text, text, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.make_login(login text, group_role text, password text) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF group_role NOT IN ('msgpool_producer', 'msgpool_worker', 'msgpool_inbox', 'msgpool_admin',
                        'msgpool_console') THEN
    RAISE EXCEPTION 'no msgpool role %', quote_literal(group_role)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'one of msgpool_producer, msgpool_worker, msgpool_inbox, msgpool_admin, msgpool_console';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = login) THEN
    EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', login, password);
  ELSE
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE %I', login, password, group_role);
  END IF;
END;
$$;
ALTER FUNCTION msgpool.make_login(login text, group_role text, password text) OWNER TO msgpool_owner;

-- max_deliver_at_lag(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.max_deliver_at_lag() RETURNS interval
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT s.max_deliver_at_lag FROM msgpool.settings s $$;
ALTER FUNCTION msgpool.max_deliver_at_lag() OWNER TO msgpool_owner;

-- max_payload_bytes(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.max_payload_bytes() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT s.max_payload_bytes FROM msgpool.settings s $$;
ALTER FUNCTION msgpool.max_payload_bytes() OWNER TO msgpool_owner;

-- message message_deleted; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_deleted AFTER DELETE ON msgpool.message REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION msgpool.message_deleted();

-- message message_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.message
    ADD CONSTRAINT message_pkey PRIMARY KEY (id);

-- message message_truncated; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_truncated AFTER TRUNCATE ON msgpool.message FOR EACH STATEMENT EXECUTE FUNCTION msgpool.message_deleted();

-- message message_validate; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_validate BEFORE INSERT ON msgpool.message FOR EACH ROW EXECUTE FUNCTION msgpool.message_validate();

-- message message_validate_admit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_validate_admit BEFORE INSERT ON msgpool.message FOR EACH ROW WHEN (((new.recipients IS NOT NULL) OR (new.dedup_key IS NOT NULL))) EXECUTE FUNCTION msgpool.message_admit();

-- message; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.message (
    id bigint NOT NULL,
    type_key text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    dedup_key text,
    recipients text[],
    source text,
    urgency msgpool.urgency NOT NULL,
    deliver_at timestamp with time zone,
    due_at timestamp with time zone NOT NULL,
    state msgpool.message_state DEFAULT 'pending'::msgpool.message_state NOT NULL,
    duplicate_count integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    expanded_at timestamp with time zone,
    sent_by text DEFAULT SESSION_USER NOT NULL,
    CONSTRAINT message_expanded_when_expanded CHECK (
CASE state
    WHEN 'pending'::msgpool.message_state THEN (expanded_at IS NULL)
    WHEN 'expanded'::msgpool.message_state THEN (expanded_at IS NOT NULL)
    ELSE true
END)
)
WITH (autovacuum_vacuum_scale_factor='0.02', autovacuum_analyze_scale_factor='0.02');
ALTER TABLE msgpool.message OWNER TO msgpool_owner;

-- message_admit(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.message_admit() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  dedup_window interval;
  earlier bigint;
BEGIN
  IF NEW.recipients IS NOT NULL THEN
    NEW.recipients := msgpool.check_recipients(NEW.recipients, NEW.type_key);
  END IF;
  IF NEW.dedup_key IS NOT NULL AND NEW.due_at <= msgpool.clock() THEN
    SELECT mt.dedup_window INTO dedup_window FROM msgpool.message_type mt WHERE mt.key = NEW.type_key;
    IF dedup_window > interval '0' THEN
      earlier := msgpool.count_duplicate(NEW.type_key, NEW.sent_by, NEW.dedup_key, NEW.id,
                                         msgpool.clock() + dedup_window);
      IF earlier IS NOT NULL THEN
        -- for send(), which returns the earlier id; a raw INSERT simply inserts no row
        PERFORM set_config('msgpool.duplicate_of', earlier::text, true);
        RETURN NULL;
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END;
$$;
ALTER FUNCTION msgpool.message_admit() OWNER TO msgpool_owner;

-- message_created; Type: INDEX; Schema: msgpool
CREATE INDEX message_created ON msgpool.message USING brin (created_at);

-- message_deleted(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.message_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE msgpool.delivery, msgpool.dedup;
  ELSE
    DELETE FROM msgpool.delivery d USING gone WHERE d.message_id = gone.id;
    DELETE FROM msgpool.dedup k USING gone WHERE k.message_id = gone.id;
  END IF;
  RETURN NULL;
END;
$$;
ALTER FUNCTION msgpool.message_deleted() OWNER TO msgpool_owner;

-- message_due; Type: INDEX; Schema: msgpool
CREATE INDEX message_due ON msgpool.message USING btree (due_at, id) WHERE (state = 'pending'::msgpool.message_state);

-- message_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.message ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.message_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- message_state; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.message_state AS ENUM (
    'pending',
    'expanded',
    'cancelled'
);
ALTER TYPE msgpool.message_state OWNER TO msgpool_owner;

-- message_type message_type_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_type_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.message_type FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- message_type message_type_check_channels; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_type_check_channels BEFORE UPDATE OF channels ON msgpool.message_type FOR EACH ROW EXECUTE FUNCTION msgpool.message_type_check_channels();

-- message_type message_type_guard; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_type_guard BEFORE DELETE OR UPDATE OF key ON msgpool.message_type FOR EACH ROW EXECUTE FUNCTION msgpool.message_type_guard();

-- message_type message_type_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.message_type
    ADD CONSTRAINT message_type_pkey PRIMARY KEY (key);

-- message_type message_type_touch; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER message_type_touch BEFORE UPDATE ON msgpool.message_type FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

-- message_type; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.message_type (
    key msgpool.type_key NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    category text DEFAULT ''::text NOT NULL,
    urgency msgpool.urgency DEFAULT 'normal'::msgpool.urgency NOT NULL,
    channels msgpool.channel[] DEFAULT '{inbox}'::msgpool.channel[] NOT NULL,
    send_policy msgpool.send_policy DEFAULT 'immediate'::msgpool.send_policy NOT NULL,
    send_times time without time zone[] DEFAULT '{}'::time without time zone[] NOT NULL,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    send_interval interval,
    dedup_window interval DEFAULT '01:00:00'::interval NOT NULL,
    max_attempts integer DEFAULT 8 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    digest boolean DEFAULT true NOT NULL,
    max_urgency msgpool.urgency,
    any_recipient boolean DEFAULT false NOT NULL,
    CONSTRAINT message_type_channels_present CHECK (((cardinality(channels) > 0) AND (array_position(channels, NULL::msgpool.channel) IS NULL))),
    CONSTRAINT message_type_dedup_window_not_negative CHECK ((dedup_window >= '00:00:00'::interval)),
    CONSTRAINT message_type_max_attempts_range CHECK (((max_attempts >= 1) AND (max_attempts <= 100))),
    CONSTRAINT message_type_name_present CHECK ((btrim(name) <> ''::text)),
    CONSTRAINT message_type_send_interval_given CHECK (((send_policy <> 'interval'::msgpool.send_policy) OR (send_interval > '00:00:00'::interval))),
    CONSTRAINT message_type_send_times_given CHECK (((send_policy <> 'times_of_day'::msgpool.send_policy) OR (cardinality(send_times) > 0))),
    CONSTRAINT message_type_time_zone_known CHECK (msgpool.is_time_zone(time_zone))
);
ALTER TABLE msgpool.message_type OWNER TO msgpool_owner;

-- message_type_check_channels(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.message_type_check_channels() RETURNS trigger
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
ALTER FUNCTION msgpool.message_type_check_channels() OWNER TO msgpool_owner;

-- message_type_guard(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.message_type_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.key = OLD.key THEN
    RETURN NEW;
  END IF;
  -- wait for producers inserting right now, and hold new ones until this commits
  LOCK TABLE msgpool.message IN SHARE MODE;
  IF EXISTS (SELECT 1 FROM msgpool.message m WHERE m.type_key = OLD.key) THEN
    RAISE EXCEPTION 'message type % has messages in the pool, which are history', quote_literal(OLD.key)
      USING ERRCODE = 'foreign_key_violation',
            HINT = format('disable it instead: msgpool type disable %s', OLD.key);
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
ALTER FUNCTION msgpool.message_type_guard() OWNER TO msgpool_owner;

-- message_type_newest; Type: INDEX; Schema: msgpool
CREATE INDEX message_type_newest ON msgpool.message USING btree (type_key, id);

-- message_validate(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.message_validate() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  enabled boolean;
  type_urgency msgpool.urgency;
  max_urgency msgpool.urgency;
  max_bytes integer;
  max_lag interval;
  wake boolean;
BEGIN
  -- the limits in the same query: as a function call of their own, reading the settings
  -- row would be a query of its own for every insert
  SELECT mt.enabled, mt.urgency, coalesce(mt.max_urgency, mt.urgency), s.max_payload_bytes,
         s.max_deliver_at_lag,
         EXISTS (SELECT 1 FROM msgpool.waiting_worker w WHERE w.since > now() - interval '1 minute')
    INTO enabled, type_urgency, max_urgency, max_bytes, max_lag, wake
    FROM msgpool.message_type mt, msgpool.settings s
   WHERE mt.key = NEW.type_key;
  IF enabled IS NOT TRUE OR jsonb_typeof(NEW.payload) <> 'object'
     OR pg_column_size(NEW.payload) > max_bytes OR msgpool.too_deep(NEW.payload) THEN
    PERFORM msgpool.refuse_message(NEW);
  END IF;
  IF NEW.dedup_key IS NOT NULL OR NEW.source IS NOT NULL OR NEW.deliver_at IS NOT NULL THEN
    IF length(NEW.dedup_key) > 200 OR length(NEW.source) > 200
       OR NEW.deliver_at < msgpool.clock() - max_lag THEN
      PERFORM msgpool.refuse_message(NEW);
    END IF;
  END IF;
  NEW.payload := coalesce(NEW.payload, '{}');
  NEW.due_at := greatest(NEW.deliver_at, msgpool.clock());
  NEW.sent_by := session_user;
  -- a producer's own: only what the administrator allows its role (the checks run only
  -- for what it gave; an administrator's session is held to none of them)
  IF NEW.urgency > max_urgency AND NOT msgpool.is_admin() THEN
    RAISE EXCEPTION '% messages may be at most %, not %', NEW.type_key, max_urgency, NEW.urgency
      USING ERRCODE = 'MP018',
            HINT = format('leave urgency out (it is then %s), or ask an administrator to raise the type''s max urgency: msgpool type edit %s --max-urgency %s',
                          type_urgency, NEW.type_key, NEW.urgency);
  END IF;
  NEW.urgency := coalesce(NEW.urgency, type_urgency);
  IF NEW.source IS NULL THEN
    NEW.source := CASE WHEN msgpool.is_admin() THEN nullif(current_setting('application_name', true), '')
                       ELSE session_user::text END;
  ELSIF NOT msgpool.is_admin() THEN
    PERFORM msgpool.check_source(NEW.source);
  END IF;
  -- Whatever was written in the pool's own columns, a new message starts here.
  -- (Producers cannot write them; an administrator's INSERT might.)
  IF NEW.state IS DISTINCT FROM 'pending' OR NEW.duplicate_count IS DISTINCT FROM 0
     OR NEW.expanded_at IS NOT NULL THEN
    NEW.state := 'pending';
    NEW.duplicate_count := 0;
    NEW.expanded_at := NULL;
  END IF;
  IF wake THEN
    -- collapsed into one notification per transaction by PostgreSQL
    PERFORM pg_notify('msgpool_message', '');
  END IF;
  RETURN NEW;
END;
$$;
ALTER FUNCTION msgpool.message_validate() OWNER TO msgpool_owner;

-- msgpool; Type: SCHEMA; Schema: -
CREATE SCHEMA msgpool;
ALTER SCHEMA msgpool OWNER TO msgpool_owner;

-- nearest_key(text, text[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.nearest_key(wanted text, candidates text[]) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
  best text;
  best_distance integer;
  candidate text;
  previous integer[];
  current integer[];
  i integer;
  j integer;
BEGIN
  IF wanted IS NULL OR length(wanted) > 100 THEN
    RETURN NULL;
  END IF;
  FOREACH candidate IN ARRAY coalesce(candidates, '{}') LOOP
    CONTINUE WHEN candidate IS NULL
      OR abs(length(candidate) - length(wanted)) > greatest(2, length(wanted) / 3);
    previous := ARRAY(SELECT generate_series(0, length(candidate)));
    FOR i IN 1 .. length(wanted) LOOP
      current := ARRAY[i];
      FOR j IN 1 .. length(candidate) LOOP
        current := current || least(
          previous[j + 1] + 1,
          current[j] + 1,
          previous[j] + (substr(wanted, i, 1) <> substr(candidate, j, 1))::integer
        );
      END LOOP;
      previous := current;
    END LOOP;
    IF best_distance IS NULL OR previous[length(candidate) + 1] < best_distance THEN
      best := candidate;
      best_distance := previous[length(candidate) + 1];
    END IF;
  END LOOP;
  -- More than a third of the word changed is not a typo, it is another word.
  IF best_distance IS NULL OR best_distance > greatest(2, length(wanted) / 3) THEN
    RETURN NULL;
  END IF;
  RETURN best;
END;
$$;
ALTER FUNCTION msgpool.nearest_key(wanted text, candidates text[]) OWNER TO msgpool_owner;

-- new_inbox_secret(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.new_inbox_secret() RETURNS bytea
    LANGUAGE sql
    AS $$
  SELECT sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
$$;
ALTER FUNCTION msgpool.new_inbox_secret() OWNER TO msgpool_owner;

-- next_send_time(time without time zone[], text, timestamp with time zone); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.next_send_time(times time without time zone[], zone text, after timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  SELECT min(instant)
    FROM unnest(times) t,
         generate_series(0, 2) AS k,
         LATERAL (SELECT (((after AT TIME ZONE zone)::date + k) + t) AT TIME ZONE zone AS instant) i
   WHERE instant >= after
$$;
ALTER FUNCTION msgpool.next_send_time(times time without time zone[], zone text, after timestamp with time zone) OWNER TO msgpool_owner;

-- outbound_policy(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) RETURNS record
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT s.outbound_deny::text[], s.outbound_allow::text[] FROM msgpool.settings s $$;
ALTER FUNCTION msgpool.outbound_policy(OUT deny text[], OUT allow text[]) OWNER TO msgpool_owner;

-- outcome; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.outcome AS (
	id bigint,
	lease_token uuid,
	outcome msgpool.attempt_outcome,
	error text,
	provider_ref text,
	started_at timestamp with time zone,
	worker text,
	wait_ms bigint
);
ALTER TYPE msgpool.outcome OWNER TO msgpool_owner;

-- pinned_clock(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.pinned_clock() RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
  IF NOT (pg_has_role(session_user, 'msgpool_admin', 'MEMBER')
          OR pg_has_role(session_user, 'msgpool_worker', 'MEMBER')) THEN
    RAISE EXCEPTION 'msgpool.clock is set in this session, but only administrators and workers may pin the pool''s clock'
      USING ERRCODE = 'MP015',
            HINT = 'RESET msgpool.clock; the pool keeps the database''s time';
  END IF;
  RETURN current_setting('msgpool.clock')::timestamptz;
END;
$$;
ALTER FUNCTION msgpool.pinned_clock() OWNER TO msgpool_owner;

-- producer producer_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER producer_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.producer FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- producer producer_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.producer
    ADD CONSTRAINT producer_pkey PRIMARY KEY (login_role);

-- producer; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.producer (
    login_role text NOT NULL,
    sources text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE msgpool.producer OWNER TO msgpool_owner;

-- provider_budget(msgpool.channel, integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  room integer;
BEGIN
  WITH budget AS (
    UPDATE msgpool.rate_limit r
       SET budget_used = CASE WHEN r.budget_second = date_trunc('second', now()) THEN r.budget_used ELSE 0 END,
           budget_second = date_trunc('second', now())
     WHERE r.channel = provider_budget.channel AND r.provider_per_second IS NOT NULL
    RETURNING least(batch_size, r.provider_per_second - r.budget_used) AS room
  )
  SELECT b.room INTO room FROM budget b;
  RETURN coalesce(room, batch_size);
END;
$$;
ALTER FUNCTION msgpool.provider_budget(channel msgpool.channel, batch_size integer) OWNER TO msgpool_owner;

-- prune(interval, integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.prune(older_than interval DEFAULT '30 days'::interval, batch_size integer DEFAULT 5000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  pruned integer;
BEGIN
  IF older_than < interval '0' THEN
    RAISE EXCEPTION 'older_than must not be negative (got %)', older_than USING ERRCODE = 'invalid_parameter_value';
  END IF;
  WITH doomed AS (
    SELECT m.id FROM msgpool.message m
     WHERE m.state <> 'pending' AND m.created_at < now() - older_than
       AND NOT EXISTS (SELECT 1 FROM msgpool.delivery d
                        WHERE d.message_id = m.id AND d.state IN ('pending', 'sending'))
     ORDER BY m.id
     LIMIT batch_size
     FOR UPDATE SKIP LOCKED
  )
  DELETE FROM msgpool.message m USING doomed WHERE m.id = doomed.id;
  GET DIAGNOSTICS pruned = ROW_COUNT;
  DELETE FROM msgpool.dedup d
   WHERE d.ctid = ANY (ARRAY(SELECT x.ctid FROM msgpool.dedup x
                              WHERE x.closes_at < msgpool.clock() - older_than LIMIT batch_size));
  -- robot sends past every robot limit's window are no longer counted
  DELETE FROM msgpool.robot_send s
   WHERE s.sent_at < now() - (SELECT coalesce(max(l.per), interval '0') FROM msgpool.robot_limit l);
  RETURN pruned;
END;
$$;
ALTER FUNCTION msgpool.prune(older_than interval, batch_size integer) OWNER TO msgpool_owner;

-- quiet_action; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.quiet_action AS ENUM (
    'defer',
    'drop'
);
ALTER TYPE msgpool.quiet_action OWNER TO msgpool_owner;

-- quiet_hours quiet_hours_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER quiet_hours_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.quiet_hours FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- quiet_hours quiet_hours_check_channel; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER quiet_hours_check_channel BEFORE INSERT OR UPDATE ON msgpool.quiet_hours FOR EACH ROW EXECUTE FUNCTION msgpool.quiet_hours_check_channel();

-- quiet_hours quiet_hours_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.quiet_hours
    ADD CONSTRAINT quiet_hours_pkey PRIMARY KEY (type_key, channel);

-- quiet_hours quiet_hours_type_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.quiet_hours
    ADD CONSTRAINT quiet_hours_type_key_fkey FOREIGN KEY (type_key) REFERENCES msgpool.message_type(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- quiet_hours; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.quiet_hours (
    type_key msgpool.type_key NOT NULL,
    channel msgpool.channel NOT NULL,
    starts time without time zone NOT NULL,
    ends time without time zone NOT NULL,
    below msgpool.urgency DEFAULT 'urgent'::msgpool.urgency NOT NULL,
    action msgpool.quiet_action DEFAULT 'defer'::msgpool.quiet_action NOT NULL,
    CONSTRAINT quiet_hours_not_empty CHECK ((starts <> ends))
);
ALTER TABLE msgpool.quiet_hours OWNER TO msgpool_owner;

-- quiet_hours_check_channel(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.quiet_hours_check_channel() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  type_channels msgpool.channel[];
BEGIN
  SELECT t.channels INTO type_channels FROM msgpool.message_type t WHERE t.key = NEW.type_key;
  IF NOT NEW.channel = ANY (type_channels) THEN
    RAISE EXCEPTION 'message type % does not use channel %', NEW.type_key, NEW.channel
      USING ERRCODE = 'MP010',
            HINT = format('%s uses %s; add the channel to the type first', NEW.type_key,
                          array_to_string(type_channels, ', '));
  END IF;
  RETURN NEW;
END;
$$;
ALTER FUNCTION msgpool.quiet_hours_check_channel() OWNER TO msgpool_owner;

-- quiet_until(time without time zone, time without time zone, text, timestamp with time zone); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
  SELECT CASE
           WHEN starts < ends AND local_time >= starts AND local_time < ends THEN (local_day + ends) AT TIME ZONE zone
           WHEN starts > ends AND local_time >= starts THEN (local_day + 1 + ends) AT TIME ZONE zone
           WHEN starts > ends AND local_time < ends THEN (local_day + ends) AT TIME ZONE zone
         END
    FROM (SELECT (at AT TIME ZONE zone)::time AS local_time, (at AT TIME ZONE zone)::date AS local_day) l
$$;
ALTER FUNCTION msgpool.quiet_until(starts time without time zone, ends time without time zone, zone text, at timestamp with time zone) OWNER TO msgpool_owner;

-- rate_limit rate_limit_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER rate_limit_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.rate_limit FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- rate_limit rate_limit_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.rate_limit
    ADD CONSTRAINT rate_limit_pkey PRIMARY KEY (channel);

-- rate_limit; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.rate_limit (
    channel msgpool.channel NOT NULL,
    recipient_max integer,
    recipient_window interval,
    provider_per_second integer,
    budget_second timestamp with time zone DEFAULT '-infinity'::timestamp with time zone NOT NULL,
    budget_used integer DEFAULT 0 NOT NULL,
    CONSTRAINT rate_limit_provider_per_second_positive CHECK ((provider_per_second > 0)),
    CONSTRAINT rate_limit_recipient_complete CHECK ((num_nonnulls(recipient_max, recipient_window) <> 1)),
    CONSTRAINT rate_limit_recipient_max_positive CHECK ((recipient_max > 0)),
    CONSTRAINT rate_limit_recipient_window_positive CHECK ((recipient_window > '00:00:00'::interval)),
    CONSTRAINT rate_limit_something CHECK (((recipient_max IS NOT NULL) OR (provider_per_second IS NOT NULL)))
);
ALTER TABLE msgpool.rate_limit OWNER TO msgpool_owner;

-- recipient recipient_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER recipient_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.recipient FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- recipient recipient_guard; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER recipient_guard BEFORE DELETE OR UPDATE OF key ON msgpool.recipient FOR EACH ROW EXECUTE FUNCTION msgpool.recipient_guard();

-- recipient recipient_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.recipient
    ADD CONSTRAINT recipient_pkey PRIMARY KEY (key);

-- recipient recipient_touch; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER recipient_touch BEFORE UPDATE ON msgpool.recipient FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

-- recipient recipient_truncate_guard; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER recipient_truncate_guard BEFORE TRUNCATE ON msgpool.recipient FOR EACH STATEMENT EXECUTE FUNCTION msgpool.recipient_truncate_guard();

-- recipient; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.recipient (
    key msgpool.recipient_key NOT NULL,
    name text NOT NULL,
    email text,
    phone text,
    webhook_url text,
    webhook_flavor msgpool.webhook_flavor DEFAULT 'generic'::msgpool.webhook_flavor NOT NULL,
    webhook_secret text,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    inbox_secret bytea DEFAULT msgpool.new_inbox_secret() NOT NULL,
    CONSTRAINT recipient_email_format CHECK (((email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'::text) AND (length(email) <= 254))),
    CONSTRAINT recipient_name_present CHECK ((btrim(name) <> ''::text)),
    CONSTRAINT recipient_phone_format CHECK ((phone ~ '^\+[1-9][0-9]{6,14}$'::text)),
    CONSTRAINT recipient_webhook_secret_needs_url CHECK (((webhook_secret IS NULL) OR (webhook_url IS NOT NULL))),
    CONSTRAINT recipient_webhook_url_format CHECK ((webhook_url ~ '^https?://[^[:space:]/]+[^[:space:]]*$'::text))
);
ALTER TABLE msgpool.recipient OWNER TO msgpool_owner;

-- recipient_group recipient_group_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER recipient_group_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.recipient_group FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- recipient_group recipient_group_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.recipient_group
    ADD CONSTRAINT recipient_group_pkey PRIMARY KEY (key);

-- recipient_group; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.recipient_group (
    key msgpool.recipient_key NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT recipient_group_name_present CHECK ((btrim(name) <> ''::text))
);
ALTER TABLE msgpool.recipient_group OWNER TO msgpool_owner;

-- recipient_guard(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.recipient_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
ALTER FUNCTION msgpool.recipient_guard() OWNER TO msgpool_owner;

-- recipient_key; Type: DOMAIN; Schema: msgpool
CREATE DOMAIN msgpool.recipient_key AS text
	CONSTRAINT recipient_key_format CHECK (((length(VALUE) <= 100) AND (VALUE ~ '^[A-Za-z0-9][A-Za-z0-9._@-]*$'::text)));
ALTER DOMAIN msgpool.recipient_key OWNER TO msgpool_owner;

-- recipient_truncate_guard(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.recipient_truncate_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
ALTER FUNCTION msgpool.recipient_truncate_guard() OWNER TO msgpool_owner;

-- record_outcomes(jsonb); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.record_outcomes(outcomes jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
  written integer;
BEGIN
  WITH o AS (
    SELECT * FROM jsonb_populate_recordset(NULL::msgpool.outcome, outcomes)
  ),
  waits AS (
    SELECT o.lease_token, msgpool.clock() + msgpool.backoff(max(d.attempts)) AS next_attempt_at
      FROM o JOIN msgpool.delivery d ON d.id = o.id
     WHERE o.outcome = 'retry'
     GROUP BY o.lease_token
  ),
  updated AS (
    UPDATE msgpool.delivery d
       SET state = CASE WHEN o.outcome = 'sent' THEN 'sent'::msgpool.delivery_state
                        ELSE msgpool.unsent_state(m.state, o.outcome = 'dead',
                                                  o.outcome <> 'throttled' AND d.attempts >= t.max_attempts) END,
           attempts = CASE WHEN o.outcome = 'throttled' THEN d.attempts - 1 ELSE d.attempts END,
           -- a retry that would fall in the channel's quiet hours waits until they end
           next_attempt_at = CASE
             WHEN o.outcome = 'throttled' THEN msgpool.clock() + o.wait_ms * interval '1 millisecond'
             WHEN w.next_attempt_at IS NULL THEN d.next_attempt_at ELSE coalesce(
               (SELECT msgpool.quiet_until(q.starts, q.ends, t.time_zone, w.next_attempt_at)
                  FROM msgpool.quiet_hours q
                 WHERE q.type_key = t.key AND q.channel = d.channel AND m.urgency < q.below),
               w.next_attempt_at) END,
           last_error = CASE WHEN o.outcome = 'sent' THEN NULL
                             WHEN o.outcome = 'throttled' THEN d.last_error
                             ELSE coalesce(o.error, 'the worker gave no reason') END,
           deferred_by = CASE WHEN o.outcome = 'throttled' THEN o.error ELSE d.deferred_by END,
           provider_ref = coalesce(o.provider_ref, d.provider_ref),
           sent_at = CASE WHEN o.outcome = 'sent' THEN msgpool.clock() END,
           gathered_into = CASE WHEN o.outcome IN ('retry', 'throttled') THEN NULL ELSE d.gathered_into END,
           lease_token = NULL, lease_deadline = NULL
      FROM o LEFT JOIN waits w ON w.lease_token = o.lease_token, msgpool.message m, msgpool.message_type t
     WHERE d.id = o.id AND d.state = 'sending' AND d.lease_token = o.lease_token
       AND m.id = d.message_id AND t.key = m.type_key
    RETURNING d.id, d.attempts, d.state
  ),
  logged AS (
    INSERT INTO msgpool.delivery_attempt (delivery_id, attempt, outcome, error, started_at, worker)
    -- a throttled attempt was counted back: it is logged under the number it had
    SELECT u.id, u.attempts + CASE WHEN o.outcome = 'throttled' THEN 1 ELSE 0 END,
           CASE WHEN u.state = 'dead' THEN 'dead' ELSE o.outcome END,
           o.error, coalesce(o.started_at, now()), o.worker
      FROM updated u JOIN o ON o.id = u.id
    RETURNING 1
  )
  SELECT count(*)::integer INTO written FROM logged;
  RETURN written;
END;
$$;
ALTER FUNCTION msgpool.record_outcomes(outcomes jsonb) OWNER TO msgpool_owner;

-- redacted_url(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.redacted_url(url text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
  SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(url,
           '([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@[:space:]]*@', '\1***@', 'g'),
           '([?&][^=&#]*=)[^&#]*', '\1***', 'g'),
           '(/services/[^/?#]+/[^/?#]+/)[^/?#]+', '\1***'),
           '(/hook/)[^/?#]+', '\1***'),
           '/(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}(?=[/?#]|$)', '/***', 'g')
$_$;
ALTER FUNCTION msgpool.redacted_url(url text) OWNER TO msgpool_owner;

-- refresh_statistics(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.refresh_statistics() RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET lock_timeout TO '50ms'
    AS $$
DECLARE
  hot regclass;
  analyzed text[] := '{}';
BEGIN
  FOR hot IN
    SELECT c.oid FROM pg_class c
     WHERE c.oid IN ('msgpool.message'::regclass, 'msgpool.delivery'::regclass)
       AND c.reltuples >= 0 AND c.reltuples < 10000
       -- pages: current at once, they catch a table growing from empty; live rows (counted
       -- within a second or so): they catch one refilling the space a prune freed
       AND (pg_relation_size(c.oid) / current_setting('block_size')::integer > 2 * c.relpages + 16
            OR pg_stat_get_live_tuples(c.oid) > 2 * c.reltuples + 1000)
  LOOP
    BEGIN
      EXECUTE format('ANALYZE %s', hot);
      analyzed := analyzed || hot::text;
    EXCEPTION WHEN lock_not_available THEN
      NULL; -- being vacuumed or analyzed already
    END;
  END LOOP;
  RETURN analyzed;
END;
$$;
ALTER FUNCTION msgpool.refresh_statistics() OWNER TO msgpool_owner;

-- refuse_message(msgpool.message); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.refuse_message(m msgpool.message) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
  t record;
BEGIN
  SELECT mt.enabled INTO t FROM msgpool.message_type mt WHERE mt.key = m.type_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown message type %', coalesce(quote_literal(m.type_key), 'NULL')
      USING ERRCODE = 'MP001',
            HINT = msgpool.did_you_mean(m.type_key, ARRAY(SELECT mt.key::text FROM msgpool.message_type mt),
                     'an administrator creates types with: msgpool type add KEY --name NAME');
  ELSIF NOT t.enabled THEN
    RAISE EXCEPTION 'message type % is disabled', quote_literal(m.type_key)
      USING ERRCODE = 'MP002',
            HINT = format('an administrator can enable it with: msgpool type enable %s', m.type_key);
  ELSIF jsonb_typeof(m.payload) <> 'object' THEN
    RAISE EXCEPTION 'payload must be a JSON object, got a JSON %', jsonb_typeof(m.payload)
      USING ERRCODE = 'MP003',
            HINT = 'wrap the value in an object, e.g. {"value": ...}; template variables are its keys';
  ELSIF pg_column_size(m.payload) > msgpool.max_payload_bytes() THEN
    RAISE EXCEPTION 'payload is % bytes, over the limit of % bytes', pg_column_size(m.payload),
        msgpool.max_payload_bytes()
      USING ERRCODE = 'MP004',
            HINT = 'send a reference (an id or a URL) instead of the data, or ask an administrator to raise msgpool.settings.max_payload_bytes';
  ELSIF msgpool.too_deep(m.payload) THEN
    RAISE EXCEPTION 'payload nests arrays and objects more than 32 levels deep'
      USING ERRCODE = 'MP014',
            HINT = 'flatten the payload: templates read a few levels, and deeper data belongs behind a reference';
  ELSIF length(m.dedup_key) > 200 OR length(m.source) > 200 THEN
    RAISE EXCEPTION '% is % characters, over the limit of 200',
        CASE WHEN length(m.dedup_key) > 200 THEN 'dedup_key' ELSE 'source' END,
        greatest(length(m.dedup_key), length(m.source))
      USING ERRCODE = 'MP012',
            HINT = 'use a shorter key: a hash or an id rather than the text itself';
  END IF;
  IF m.deliver_at < msgpool.clock() - msgpool.max_deliver_at_lag() THEN
    RAISE EXCEPTION 'deliver_at % is more than % in the past', m.deliver_at, msgpool.max_deliver_at_lag()
      USING ERRCODE = 'MP007',
            HINT = 'check the producer''s clock and time zone, or leave deliver_at out to send now';
  END IF;
  -- The validation trigger and the checks above disagree: a bug, not bad input.
  RAISE EXCEPTION 'message refused, but no check above says why'
    USING HINT = 'report this: msgpool.message_validate and msgpool.refuse_message disagree';
END;
$$;
ALTER FUNCTION msgpool.refuse_message(m msgpool.message) OWNER TO msgpool_owner;

-- release_deliveries(uuid[], interval, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval DEFAULT '00:00:00'::interval, why text DEFAULT NULL::text) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  WITH released AS (
    UPDATE msgpool.delivery d
       SET state = msgpool.unsent_state(m.state, false, false),
           lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock() + wait,
           attempts = greatest(d.attempts - 1, 0), gathered_into = NULL,
           deferred_by = coalesce(why, d.deferred_by)
      FROM msgpool.message m
     WHERE d.state = 'sending' AND d.lease_token = ANY (lease_tokens) AND m.id = d.message_id
    RETURNING 1
  )
  SELECT count(*)::integer FROM released
$$;
ALTER FUNCTION msgpool.release_deliveries(lease_tokens uuid[], wait interval, why text) OWNER TO msgpool_owner;

-- report_destinations(text, jsonb); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.report_destinations(worker text, destinations jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
  DELETE FROM msgpool.destination_report r WHERE r.worker = report_destinations.worker;
  INSERT INTO msgpool.destination_report
         (worker, channel, destination, in_flight, flight_limit, latency_ms, paused_until,
          paused_why, sent, failed)
  SELECT report_destinations.worker, x.channel, x.destination, x.in_flight, x.flight_limit,
         x.latency_ms, x.paused_until, x.paused_why, x.sent, x.failed
    FROM jsonb_populate_recordset(NULL::msgpool.destination_figures, destinations) AS x;
$$;
ALTER FUNCTION msgpool.report_destinations(worker text, destinations jsonb) OWNER TO msgpool_owner;

-- require_group(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.require_group(group_key text) RETURNS void
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
ALTER FUNCTION msgpool.require_group(group_key text) OWNER TO msgpool_owner;

-- require_inbox_ids(text, bigint[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[]) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
  foreign_ids bigint[];
BEGIN
  PERFORM msgpool.require_recipient(recipient_key);
  SELECT array_agg(wanted ORDER BY wanted) INTO foreign_ids
    FROM unnest(ids) AS wanted
   WHERE NOT EXISTS (SELECT 1 FROM msgpool.inbox i
                      WHERE i.id = wanted AND i.recipient_key = require_inbox_ids.recipient_key);
  IF foreign_ids IS NOT NULL THEN
    RAISE EXCEPTION 'no inbox message % for recipient %', array_to_string(foreign_ids, ', '),
        quote_literal(recipient_key)
      USING ERRCODE = 'MP009',
            HINT = format('list the inbox with: msgpool inbox %s', recipient_key);
  END IF;
END;
$$;
ALTER FUNCTION msgpool.require_inbox_ids(recipient_key text, ids bigint[]) OWNER TO msgpool_owner;

-- require_inbox_token(text, text, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text) RETURNS void
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
  granted text := split_part(token, '-', 1);
  ends text := split_part(token, '-', 2);
BEGIN
  IF token IS NULL OR length(token) > 200 OR ends !~ '^[0-9]{1,12}$' THEN
    ends := '-1';  -- no token, or not one of ours: refused below
  END IF;
  IF ends = '-1'
     OR NOT (granted = scope OR (granted = 'inbox' AND scope = 'count'))
     OR (ends <> '0' AND ends::bigint < extract(epoch FROM now()))
     OR NOT EXISTS (
       SELECT 1 FROM msgpool.recipient r
        WHERE r.key = require_inbox_token.recipient_key
          AND granted || '-' || ends || '-'
              || encode(msgpool.hmac_sha256(r.inbox_secret,
                          convert_to(r.key || E'\n' || granted || E'\n' || ends, 'UTF8')), 'hex') = token) THEN
    RAISE EXCEPTION 'this inbox link is not valid for %', quote_literal(recipient_key)
      USING ERRCODE = 'MP017',
            HINT = 'ask for a new link: msgpool inbox link RECIPIENT, or SELECT msgpool.inbox_token(recipient)';
  END IF;
END;
$_$;
ALTER FUNCTION msgpool.require_inbox_token(recipient_key text, token text, scope text) OWNER TO msgpool_owner;

-- require_recipient(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.require_recipient(recipient_key text) RETURNS void
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
ALTER FUNCTION msgpool.require_recipient(recipient_key text) OWNER TO msgpool_owner;

-- require_type(text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.require_type(type_key text) RETURNS void
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
ALTER FUNCTION msgpool.require_type(type_key text) OWNER TO msgpool_owner;

-- rescue_expired_leases(msgpool.channel); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  rescued_count integer;
BEGIN
  WITH rescued AS (
    UPDATE msgpool.delivery d
       SET state = msgpool.unsent_state(m.state, false, d.attempts >= t.max_attempts),
           last_error = 'lease expired: the worker sending it stopped or hung',
           lease_token = NULL, lease_deadline = NULL, next_attempt_at = msgpool.clock(), gathered_into = NULL
      FROM msgpool.message m, msgpool.message_type t
     WHERE d.state = 'sending' AND d.lease_deadline < now() AND d.channel = rescue_expired_leases.channel
       AND m.id = d.message_id AND t.key = m.type_key
    RETURNING 1
  )
  SELECT count(*)::integer INTO rescued_count FROM rescued;
  RETURN rescued_count;
END;
$$;
ALTER FUNCTION msgpool.rescue_expired_leases(channel msgpool.channel) OWNER TO msgpool_owner;

-- retry_deliveries(bigint[], text, text, msgpool.channel); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.retry_deliveries(ids bigint[] DEFAULT NULL::bigint[], type_key text DEFAULT NULL::text, recipient_key text DEFAULT NULL::text, channel msgpool.channel DEFAULT NULL::msgpool.channel) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
  named bigint;
  found_state text;
  requeued integer;
BEGIN
  IF retry_deliveries.type_key IS NOT NULL THEN
    PERFORM msgpool.require_type(retry_deliveries.type_key);
  END IF;
  IF retry_deliveries.recipient_key IS NOT NULL THEN
    PERFORM msgpool.require_recipient(retry_deliveries.recipient_key);
  END IF;
  -- the first named id that is not a dead delivery, in one look at all of them
  SELECT w.id, CASE WHEN d.id IS NULL THEN NULL
                    WHEN m.state = 'cancelled' THEN 'of a cancelled message'
                    ELSE d.state::text END
    INTO named, found_state
    FROM unnest(retry_deliveries.ids) AS w(id)
    LEFT JOIN msgpool.delivery d ON d.id = w.id
    LEFT JOIN msgpool.message m ON m.id = d.message_id
   WHERE d.id IS NULL OR d.state <> 'dead' OR m.state = 'cancelled'
   ORDER BY w.id
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%', CASE WHEN found_state IS NULL THEN format('no delivery %s', named)
                              ELSE format('delivery %s is %s, not dead', named, found_state) END
      USING ERRCODE = 'MP016',
            HINT = 'only dead deliveries are re-queued; msgpool deliveries --state dead lists them with their ids';
  END IF;
  WITH requeued AS (
    UPDATE msgpool.delivery d
       SET state = 'pending', attempts = 0, next_attempt_at = now()
      FROM msgpool.message m
     WHERE m.id = d.message_id
       AND d.state = 'dead' AND m.state <> 'cancelled'
       AND (retry_deliveries.ids IS NULL OR d.id = ANY (retry_deliveries.ids))
       AND (retry_deliveries.type_key IS NULL OR m.type_key = retry_deliveries.type_key)
       AND (retry_deliveries.recipient_key IS NULL OR d.recipient_key = retry_deliveries.recipient_key)
       AND (retry_deliveries.channel IS NULL OR d.channel = retry_deliveries.channel)
    RETURNING 1
  )
  SELECT count(*)::integer INTO requeued FROM requeued;
  RETURN requeued;
END;
$$;
ALTER FUNCTION msgpool.retry_deliveries(ids bigint[], type_key text, recipient_key text, channel msgpool.channel) OWNER TO msgpool_owner;

-- robot_limit robot_limit_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER robot_limit_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.robot_limit FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- robot_limit robot_limit_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.robot_limit
    ADD CONSTRAINT robot_limit_pkey PRIMARY KEY (flavor, per);

-- robot_limit; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.robot_limit (
    flavor msgpool.webhook_flavor NOT NULL,
    max_sends integer NOT NULL,
    per interval NOT NULL,
    CONSTRAINT robot_limit_max_sends_positive CHECK ((max_sends > 0)),
    CONSTRAINT robot_limit_per_positive CHECK ((per > '00:00:00'::interval))
);
ALTER TABLE msgpool.robot_limit OWNER TO msgpool_owner;

-- robot_send; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.robot_send (
    robot text NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE msgpool.robot_send OWNER TO msgpool_owner;

-- robot_send_recent; Type: INDEX; Schema: msgpool
CREATE INDEX robot_send_recent ON msgpool.robot_send USING btree (robot, sent_at);

-- schedule; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.schedule AS (
	due_at timestamp with time zone,
	deferred_by text,
	dropped boolean
);
ALTER TYPE msgpool.schedule OWNER TO msgpool_owner;

-- schedule_delivery(text, msgpool.channel, text, msgpool.urgency, boolean); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean) RETURNS msgpool.schedule
    LANGUAGE plpgsql
    AS $$
DECLARE
  at timestamptz := msgpool.clock();
  t msgpool.message_type;
  q msgpool.quiet_hours;
  result msgpool.schedule := ROW(at, NULL, false);
  quiet_end timestamptz;
BEGIN
  IF schedule_delivery.urgency = 'urgent' THEN
    RETURN result;
  END IF;
  SELECT * INTO t FROM msgpool.message_type mt WHERE mt.key = schedule_delivery.type_key;
  IF NOT timed AND t.send_policy = 'times_of_day' THEN
    result.due_at := msgpool.next_send_time(t.send_times, t.time_zone, at);
    result.deferred_by := format('send times %s (%s)', msgpool.format_times(t.send_times), t.time_zone);
  ELSIF NOT timed AND t.send_policy = 'interval' THEN
    INSERT INTO msgpool.interval_slot AS s (type_key, recipient_key, channel, last_due_at)
    VALUES (schedule_delivery.type_key, schedule_delivery.recipient_key, schedule_delivery.channel, at)
    ON CONFLICT ON CONSTRAINT interval_slot_pkey DO UPDATE SET last_due_at = CASE
        -- the last one is an interval ago or more: this one goes at once
        WHEN s.last_due_at + msgpool.absolute(t.send_interval) <= at THEN at
        -- a gathering is already due later: join it
        WHEN s.last_due_at > at THEN s.last_due_at
        -- one went out less than an interval ago: gather until the interval ends
        ELSE s.last_due_at + msgpool.absolute(t.send_interval)
      END
    RETURNING s.last_due_at INTO result.due_at;
    result.deferred_by := format('at most one every %s per recipient and channel', t.send_interval);
  END IF;
  IF result.due_at <= at THEN
    result.deferred_by := NULL;
  END IF;
  SELECT * INTO q FROM msgpool.quiet_hours qh
   WHERE qh.type_key = schedule_delivery.type_key AND qh.channel = schedule_delivery.channel
     AND schedule_delivery.urgency < qh.below;
  IF FOUND THEN
    quiet_end := msgpool.quiet_until(q.starts, q.ends, t.time_zone, result.due_at);
    IF quiet_end IS NOT NULL AND q.action = 'drop' THEN
      result.dropped := true;
      result.deferred_by := format('dropped: quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                            to_char(q.ends, 'HH24:MI'), t.time_zone, schedule_delivery.channel);
    ELSIF quiet_end IS NOT NULL THEN
      result.due_at := quiet_end;
      result.deferred_by := concat_ws(', then ', result.deferred_by,
                               format('quiet hours %s-%s (%s) for %s', to_char(q.starts, 'HH24:MI'),
                                      to_char(q.ends, 'HH24:MI'), t.time_zone, schedule_delivery.channel));
    END IF;
  END IF;
  RETURN result;
END;
$$;
ALTER FUNCTION msgpool.schedule_delivery(type_key text, channel msgpool.channel, recipient_key text, urgency msgpool.urgency, timed boolean) OWNER TO msgpool_owner;

-- secret_columns(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.secret_columns() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY['webhook_secret', 'inbox_secret', 'password_hash'] $$;
ALTER FUNCTION msgpool.secret_columns() OWNER TO msgpool_owner;

-- send(text, jsonb, text, timestamp with time zone, text[], text, msgpool.urgency); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.send(type_key text, payload jsonb DEFAULT '{}'::jsonb, dedup_key text DEFAULT NULL::text, deliver_at timestamp with time zone DEFAULT NULL::timestamp with time zone, recipients text[] DEFAULT NULL::text[], source text DEFAULT NULL::text, urgency msgpool.urgency DEFAULT NULL::msgpool.urgency) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
DECLARE
  new_id bigint;
BEGIN
  INSERT INTO msgpool.message (type_key, payload, dedup_key, deliver_at, recipients, source, urgency)
  VALUES (send.type_key, send.payload, send.dedup_key, send.deliver_at, send.recipients,
          send.source, send.urgency)
  RETURNING id INTO new_id;
  IF new_id IS NULL THEN
    new_id := nullif(current_setting('msgpool.duplicate_of', true), '')::bigint;
  END IF;
  RETURN new_id;
END;
$$;
ALTER FUNCTION msgpool.send(type_key text, payload jsonb, dedup_key text, deliver_at timestamp with time zone, recipients text[], source text, urgency msgpool.urgency) OWNER TO msgpool_owner;

-- send_policy; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.send_policy AS ENUM (
    'immediate',
    'times_of_day',
    'interval'
);
ALTER TYPE msgpool.send_policy OWNER TO msgpool_owner;

-- sent_per_minute; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.sent_per_minute AS
 SELECT c.c AS channel,
    ago.minute,
    count(d.id) AS sent
   FROM ((unnest(enum_range(NULL::msgpool.channel)) c(c)
     CROSS JOIN generate_series(0, 59) ago(minute))
     LEFT JOIN msgpool.delivery d ON (((d.state = 'sent'::msgpool.delivery_state) AND (d.channel = c.c) AND (d.sent_at > (now() - '01:00:00'::interval)) AND ((floor((EXTRACT(epoch FROM (now() - d.sent_at)) / (60)::numeric)))::integer = ago.minute))))
  GROUP BY c.c, ago.minute;
ALTER TABLE msgpool.sent_per_minute OWNER TO msgpool_owner;

-- settings settings_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER settings_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.settings FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- settings settings_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (only_row);

-- settings; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.settings (
    only_row boolean DEFAULT true NOT NULL,
    max_payload_bytes integer DEFAULT 65536 NOT NULL,
    max_deliver_at_lag interval DEFAULT '01:00:00'::interval NOT NULL,
    retry_base interval DEFAULT '00:00:05'::interval NOT NULL,
    retry_cap interval DEFAULT '01:00:00'::interval NOT NULL,
    max_claim_bytes integer DEFAULT 16777216 NOT NULL,
    outbound_deny cidr[] DEFAULT '{169.254.0.0/16,fe80::/10,100.100.100.200/32,fd00:ec2::254/128,0.0.0.0/8,::/128}'::cidr[] NOT NULL,
    outbound_allow cidr[] DEFAULT '{}'::cidr[] NOT NULL,
    CONSTRAINT settings_max_claim_bytes_range CHECK (((max_claim_bytes >= 65536) AND (max_claim_bytes <= 1073741824))),
    CONSTRAINT settings_max_deliver_at_lag_not_negative CHECK ((max_deliver_at_lag >= '00:00:00'::interval)),
    CONSTRAINT settings_max_payload_bytes_range CHECK (((max_payload_bytes >= 1024) AND (max_payload_bytes <= 104857600))),
    CONSTRAINT settings_one_row CHECK (only_row),
    CONSTRAINT settings_retry_base_not_negative CHECK ((retry_base >= '00:00:00'::interval)),
    CONSTRAINT settings_retry_cap_above_base CHECK ((retry_cap >= retry_base))
);
ALTER TABLE msgpool.settings OWNER TO msgpool_owner;

-- signed_inbox_list(text, text, integer, integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer DEFAULT 1, page_size integer DEFAULT 20) RETURNS SETOF msgpool.inbox_entry
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN QUERY SELECT * FROM msgpool.inbox_list(recipient_key, false, page, page_size, false);
END;
$$;
ALTER FUNCTION msgpool.signed_inbox_list(recipient_key text, token text, page integer, page_size integer) OWNER TO msgpool_owner;

-- signed_inbox_mark_read(text, text, bigint[]); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN msgpool.inbox_mark_read(recipient_key, ids);
END;
$$;
ALTER FUNCTION msgpool.signed_inbox_mark_read(recipient_key text, token text, ids bigint[]) OWNER TO msgpool_owner;

-- signed_inbox_show(text, text, bigint); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) RETURNS SETOF msgpool.inbox_entry
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'inbox');
  RETURN QUERY SELECT * FROM msgpool.inbox_show(recipient_key, id);
END;
$$;
ALTER FUNCTION msgpool.signed_inbox_show(recipient_key text, token text, id bigint) OWNER TO msgpool_owner;

-- signed_inbox_unread_count(text, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  PERFORM msgpool.require_inbox_token(recipient_key, token, 'count');
  RETURN msgpool.inbox_unread_count(recipient_key);
END;
$$;
ALTER FUNCTION msgpool.signed_inbox_unread_count(recipient_key text, token text) OWNER TO msgpool_owner;

-- spend_provider_budget(msgpool.channel, integer); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer) RETURNS void
    LANGUAGE sql
    AS $$
  UPDATE msgpool.rate_limit r SET budget_used = r.budget_used + claimed
   WHERE r.channel = spend_provider_budget.channel AND r.provider_per_second IS NOT NULL
$$;
ALTER FUNCTION msgpool.spend_provider_budget(channel msgpool.channel, claimed integer) OWNER TO msgpool_owner;

-- status; Type: VIEW; Schema: msgpool
CREATE VIEW msgpool.status AS
 SELECT ( SELECT COALESCE(jsonb_object_agg(m.state, m.n ORDER BY m.state), '{}'::jsonb) AS "coalesce"
           FROM ( SELECT message.state,
                    count(*) AS n
                   FROM msgpool.message
                  GROUP BY message.state) m) AS messages,
    ( SELECT COALESCE(jsonb_object_agg(d.state, d.n ORDER BY d.state), '{}'::jsonb) AS "coalesce"
           FROM ( SELECT delivery.state,
                    count(*) AS n
                   FROM msgpool.delivery
                  GROUP BY delivery.state) d) AS deliveries,
    ( SELECT (msgpool.clock() - min(w.due))
           FROM ( SELECT min(message.due_at) AS due
                   FROM msgpool.message
                  WHERE ((message.state = 'pending'::msgpool.message_state) AND (message.due_at <= msgpool.clock()))
                UNION ALL
                 SELECT min(delivery.next_attempt_at) AS min
                   FROM msgpool.delivery
                  WHERE ((delivery.state = 'pending'::msgpool.delivery_state) AND (delivery.next_attempt_at <= msgpool.clock()))) w) AS oldest_due_age,
    ( SELECT count(*) AS count
           FROM msgpool.delivery
          WHERE (delivery.state = 'dead'::msgpool.delivery_state)) AS dead;
ALTER TABLE msgpool.status OWNER TO msgpool_owner;

-- subscription subscription_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER subscription_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.subscription FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- subscription subscription_check_channels; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER subscription_check_channels BEFORE INSERT OR UPDATE ON msgpool.subscription FOR EACH ROW EXECUTE FUNCTION msgpool.subscription_check_channels();

-- subscription subscription_group_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.subscription
    ADD CONSTRAINT subscription_group_key_fkey FOREIGN KEY (group_key) REFERENCES msgpool.recipient_group(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- subscription subscription_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.subscription
    ADD CONSTRAINT subscription_pkey PRIMARY KEY (id);

-- subscription subscription_recipient_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.subscription
    ADD CONSTRAINT subscription_recipient_key_fkey FOREIGN KEY (recipient_key) REFERENCES msgpool.recipient(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- subscription subscription_type_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.subscription
    ADD CONSTRAINT subscription_type_key_fkey FOREIGN KEY (type_key) REFERENCES msgpool.message_type(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- subscription; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.subscription (
    id bigint NOT NULL,
    type_key msgpool.type_key NOT NULL,
    recipient_key msgpool.recipient_key,
    group_key msgpool.recipient_key,
    channels msgpool.channel[],
    paused boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT subscription_channels_present CHECK (((cardinality(channels) > 0) AND (array_position(channels, NULL::msgpool.channel) IS NULL))),
    CONSTRAINT subscription_one_subscriber CHECK ((num_nonnulls(recipient_key, group_key) = 1))
);
ALTER TABLE msgpool.subscription OWNER TO msgpool_owner;

-- subscription_check_channels(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.subscription_check_channels() RETURNS trigger
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
ALTER FUNCTION msgpool.subscription_check_channels() OWNER TO msgpool_owner;

-- subscription_entry; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.subscription_entry AS (
	type_key text,
	recipient_key text,
	group_key text,
	channels msgpool.channel[],
	paused boolean,
	created_at timestamp with time zone
);
ALTER TYPE msgpool.subscription_entry OWNER TO msgpool_owner;

-- subscription_id_seq; Type: SEQUENCE; Schema: msgpool
ALTER TABLE msgpool.subscription ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME msgpool.subscription_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- subscription_type_group; Type: INDEX; Schema: msgpool
CREATE UNIQUE INDEX subscription_type_group ON msgpool.subscription USING btree (type_key, group_key) WHERE (group_key IS NOT NULL);

-- subscription_type_recipient; Type: INDEX; Schema: msgpool
CREATE UNIQUE INDEX subscription_type_recipient ON msgpool.subscription USING btree (type_key, recipient_key) WHERE (recipient_key IS NOT NULL);

-- subscriptions(text, text, text); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.subscriptions(type_key text DEFAULT NULL::text, recipient_key text DEFAULT NULL::text, group_key text DEFAULT NULL::text) RETURNS SETOF msgpool.subscription_entry
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
ALTER FUNCTION msgpool.subscriptions(type_key text, recipient_key text, group_key text) OWNER TO msgpool_owner;

-- template template_audit; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER template_audit AFTER INSERT OR DELETE OR UPDATE ON msgpool.template FOR EACH ROW EXECUTE FUNCTION msgpool.audit_change();

-- template template_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.template
    ADD CONSTRAINT template_pkey PRIMARY KEY (type_key, channel);

-- template template_touch; Type: TRIGGER; Schema: msgpool
CREATE TRIGGER template_touch BEFORE UPDATE ON msgpool.template FOR EACH ROW EXECUTE FUNCTION msgpool.touch_updated_at();

-- template template_type_key_fkey; Type: FK CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.template
    ADD CONSTRAINT template_type_key_fkey FOREIGN KEY (type_key) REFERENCES msgpool.message_type(key) ON UPDATE CASCADE ON DELETE CASCADE;

-- template; Type: TABLE; Schema: msgpool
CREATE TABLE msgpool.template (
    type_key msgpool.type_key NOT NULL,
    channel msgpool.channel NOT NULL,
    subject text DEFAULT ''::text NOT NULL,
    body text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    digest_subject text,
    digest_body text,
    html_body text,
    CONSTRAINT template_body_present CHECK ((body <> ''::text)),
    CONSTRAINT template_digest_body_present CHECK ((digest_body <> ''::text)),
    CONSTRAINT template_html_body_email_only CHECK (((html_body IS NULL) OR (channel = 'email'::msgpool.channel)))
);
ALTER TABLE msgpool.template OWNER TO msgpool_owner;

-- too_deep(jsonb); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.too_deep(payload jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$ SELECT jsonb_path_exists(payload, 'strict $.**{33}') $_$;
ALTER FUNCTION msgpool.too_deep(payload jsonb) OWNER TO msgpool_owner;

-- touch_updated_at(); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
ALTER FUNCTION msgpool.touch_updated_at() OWNER TO msgpool_owner;

-- type_key; Type: DOMAIN; Schema: msgpool
CREATE DOMAIN msgpool.type_key AS text
	CONSTRAINT type_key_format CHECK (((length(VALUE) <= 100) AND (VALUE ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'::text)));
ALTER DOMAIN msgpool.type_key OWNER TO msgpool_owner;

-- unsent_state(msgpool.message_state, boolean, boolean); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean) RETURNS msgpool.delivery_state
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
  SELECT CASE WHEN message_state = 'cancelled' THEN 'cancelled'
              WHEN failed_for_good OR out_of_attempts THEN 'dead'
              ELSE 'pending' END::msgpool.delivery_state
$$;
ALTER FUNCTION msgpool.unsent_state(message_state msgpool.message_state, failed_for_good boolean, out_of_attempts boolean) OWNER TO msgpool_owner;

-- urgency; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.urgency AS ENUM (
    'low',
    'normal',
    'high',
    'urgent'
);
ALTER TYPE msgpool.urgency OWNER TO msgpool_owner;

-- waiting_worker waiting_worker_pkey; Type: CONSTRAINT; Schema: msgpool
ALTER TABLE ONLY msgpool.waiting_worker
    ADD CONSTRAINT waiting_worker_pkey PRIMARY KEY (worker);

-- waiting_worker; Type: TABLE; Schema: msgpool
CREATE UNLOGGED TABLE msgpool.waiting_worker (
    worker uuid NOT NULL,
    since timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE msgpool.waiting_worker OWNER TO msgpool_owner;

-- webhook_flavor; Type: TYPE; Schema: msgpool
CREATE TYPE msgpool.webhook_flavor AS ENUM (
    'dingtalk',
    'wecom',
    'feishu',
    'slack',
    'generic'
);
ALTER TYPE msgpool.webhook_flavor OWNER TO msgpool_owner;

-- worker_waiting(uuid, boolean); Type: FUNCTION; Schema: msgpool
CREATE FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
  IF waiting THEN
    INSERT INTO msgpool.waiting_worker AS w (worker) VALUES (worker_waiting.worker)
    ON CONFLICT ON CONSTRAINT waiting_worker_pkey DO UPDATE SET since = now();
  ELSE
    DELETE FROM msgpool.waiting_worker w WHERE w.worker = worker_waiting.worker;
  END IF;
END;
$$;
ALTER FUNCTION msgpool.worker_waiting(worker uuid, waiting boolean) OWNER TO msgpool_owner;
