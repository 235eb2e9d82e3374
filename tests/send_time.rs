//! Send-time rules (sql/schema/04_policies.sql): send times of day, intervals, quiet hours,
//! urgency and deliver_at, across midnight and daylight-saving changes. The clock is pinned
//! with the msgpool.clock setting, on one connection, so nothing waits for real hours.

mod support;

use chrono::{DateTime, Utc};
use msgpool::admin::message_types;
use msgpool::domain::TypeKey;
use sqlx::{Connection, PgConnection};
use support::{TestDb, seed};

/// One session whose clock a test moves.
struct Session {
    conn: PgConnection,
}

impl Session {
    async fn new(db: &TestDb) -> Session {
        seed(&db.pool).await;
        let conn = PgConnection::connect(&db.url).await.expect("connect");
        Session { conn }
    }

    async fn exec(&mut self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Pins msgpool.clock() to `at` (any timestamptz literal).
    async fn at(&mut self, at: &str) {
        self.exec(&format!("SET msgpool.clock = '{at}'")).await;
    }

    async fn send(&mut self, sql: &str) -> i64 {
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _: i32 = sqlx::query_scalar("SELECT msgpool.expand(100)")
            .fetch_one(&mut self.conn)
            .await
            .expect("expand");
        id
    }

    /// (channel, state, next_attempt_at, deferred_by, skip_reason) of a message's deliveries.
    async fn deliveries(&mut self, message: i64) -> Vec<Delivery> {
        sqlx::query_as(
            "SELECT channel::text, state::text, next_attempt_at, deferred_by, skip_reason
               FROM msgpool.delivery WHERE message_id = $1 ORDER BY channel",
        )
        .bind(message)
        .fetch_all(&mut self.conn)
        .await
        .expect("deliveries")
    }

    /// Claims what is due on `channel`: (delivery id, lease token).
    async fn claim(&mut self, channel: &str) -> Vec<(i64, uuid::Uuid)> {
        sqlx::query_as(
            "SELECT id, lease_token FROM msgpool.claim_deliveries($1::text::msgpool.channel, 100, '1 minute')",
        )
        .bind(channel)
        .fetch_all(&mut self.conn)
        .await
        .expect("claim")
    }

    async fn instant(&mut self, literal: &str) -> DateTime<Utc> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT '{literal}'::timestamptz"
        )))
        .fetch_one(&mut self.conn)
        .await
        .expect("timestamp")
    }
}

type Delivery = (
    String,
    String,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
);

/// A `report.ready` type for zhang.san on the given channels, with its settings.
async fn report_type(s: &mut Session, channels: &str, settings: &str) {
    s.exec(&format!(
        "INSERT INTO msgpool.message_type (key, name, urgency, channels) VALUES ('report.ready', 'Report ready', 'normal', '{{{channels}}}');
         UPDATE msgpool.message_type SET {settings} WHERE key = 'report.ready';
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('report.ready', 'zhang.san');"
    ))
    .await;
}

const SEND: &str = "SELECT msgpool.send('report.ready', '{\"report\": \"daily\"}')";

#[tokio::test]
async fn send_times_hold_a_message_until_the_next_time_across_midnight() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'times_of_day', send_times = '{08:00,17:00}', time_zone = 'Asia/Shanghai'",
    )
    .await;

    s.at("2026-11-26 23:30 Asia/Shanghai").await;
    let late = s.send(SEND).await;
    s.at("2026-11-27 12:00 Asia/Shanghai").await;
    let noon = s.send(SEND).await;
    s.at("2026-11-27 17:00 Asia/Shanghai").await;
    let on_time = s.send(SEND).await;

    let rule = Some("send times 08:00, 17:00 (Asia/Shanghai)".to_owned());
    let next_morning = s.instant("2026-11-27 08:00 Asia/Shanghai").await;
    let afternoon = s.instant("2026-11-27 17:00 Asia/Shanghai").await;
    assert_eq!(
        s.deliveries(late).await,
        vec![(
            "inbox".into(),
            "pending".into(),
            next_morning,
            rule.clone(),
            None
        )]
    );
    assert_eq!(
        s.deliveries(noon).await,
        vec![("inbox".into(), "pending".into(), afternoon, rule, None)]
    );
    assert_eq!(
        s.deliveries(on_time).await,
        vec![("inbox".into(), "pending".into(), afternoon, None, None)],
        "sent exactly at a send time: due at once, no rule"
    );
}

#[tokio::test]
async fn send_times_follow_the_wall_clock_across_daylight_saving_changes() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'times_of_day', send_times = '{08:00}', time_zone = 'America/New_York'",
    )
    .await;
    // Clocks go forward at 02:00 on 2026-03-08 and back at 02:00 on 2026-11-01.
    s.at("2026-03-07 23:00 America/New_York").await;
    let spring = s.send(SEND).await;
    s.at("2026-10-31 23:00 America/New_York").await;
    let autumn = s.send(SEND).await;

    let spring_due = s.deliveries(spring).await[0].2;
    let autumn_due = s.deliveries(autumn).await[0].2;
    assert_eq!(
        spring_due,
        s.instant("2026-03-08 12:00+00").await,
        "08:00 EDT"
    );
    assert_eq!(
        autumn_due,
        s.instant("2026-11-01 13:00+00").await,
        "08:00 EST"
    );
    let waited = |due: DateTime<Utc>, from: &str| due - from.parse::<DateTime<Utc>>().expect("utc");
    // 23:00 to 08:00 is nine hours on an ordinary night
    assert_eq!(
        waited(spring_due, "2026-03-08T04:00:00Z").num_hours(),
        8,
        "a night one hour short"
    );
    assert_eq!(
        waited(autumn_due, "2026-11-01T03:00:00Z").num_hours(),
        10,
        "a night one hour long"
    );
}

#[tokio::test]
async fn an_interval_sends_the_first_at_once_and_gathers_the_rest_into_one_digest() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'interval', send_interval = '1 hour'",
    )
    .await;

    s.at("2026-11-26 23:30+00").await;
    let first = s.send(SEND).await;
    assert_eq!(
        s.deliveries(first).await[0].3,
        None,
        "the first goes at once"
    );
    assert_eq!(s.claim("inbox").await.len(), 1);

    s.at("2026-11-26 23:45+00").await;
    let second = s.send(SEND).await;
    s.at("2026-11-27 00:10+00").await;
    let third = s.send(SEND).await;
    let end = s.instant("2026-11-27 00:30+00").await;
    let rule = Some("at most one every 01:00:00 per recipient and channel".to_owned());
    for m in [second, third] {
        assert_eq!(
            s.deliveries(m).await,
            vec![("inbox".into(), "pending".into(), end, rule.clone(), None)],
            "gathered until the interval ends, past midnight"
        );
    }
    s.at("2026-11-27 00:29+00").await;
    assert!(
        s.claim("inbox").await.is_empty(),
        "nothing before the interval ends"
    );
    s.at("2026-11-27 00:30+00").await;
    let digest = s.claim("inbox").await;
    assert_eq!(digest.len(), 2);
    assert_eq!(digest[0].1, digest[1].1, "one lease: one digest");

    // an interval after the digest, the next one goes at once again
    s.at("2026-11-27 01:30+00").await;
    let later = s.send(SEND).await;
    assert_eq!(s.deliveries(later).await[0].3, None);
    assert_eq!(
        s.deliveries(later).await[0].2,
        s.instant("2026-11-27 01:30+00").await
    );
}

#[tokio::test]
async fn deliveries_due_together_go_one_by_one_when_the_type_has_no_digest() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'times_of_day', send_times = '{08:00}', time_zone = 'Asia/Shanghai', digest = false",
    )
    .await;
    s.at("2026-11-26 03:00 Asia/Shanghai").await;
    s.send(SEND).await;
    s.send(SEND).await;
    s.at("2026-11-26 08:00 Asia/Shanghai").await;
    let claimed = s.claim("inbox").await;
    assert_eq!(claimed.len(), 2);
    assert_ne!(claimed[0].1, claimed[1].1, "two leases: two notifications");
}

#[tokio::test]
async fn quiet_hours_defer_a_delivery_to_the_end_of_the_window_across_daylight_saving() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(&mut s, "inbox,sms", "time_zone = 'America/New_York'").await;
    s.exec("INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends) VALUES ('report.ready', 'sms', '22:00', '08:00')")
        .await;

    s.at("2026-03-07 23:00 America/New_York").await;
    let night = s.send(SEND).await;
    let rule = "quiet hours 22:00-08:00 (America/New_York) for sms".to_owned();
    let now = s.instant("2026-03-07 23:00 America/New_York").await;
    assert_eq!(
        s.deliveries(night).await,
        vec![
            ("inbox".into(), "pending".into(), now, None, None),
            (
                "sms".into(),
                "pending".into(),
                s.instant("2026-03-08 12:00+00").await,
                Some(rule),
                None
            ),
        ],
        "sms waits until 08:00 EDT; the inbox has no quiet hours"
    );

    s.at("2026-03-08 07:59 America/New_York").await;
    let early = s.send(SEND).await;
    assert_eq!(
        s.deliveries(early).await[1].2,
        s.instant("2026-03-08 08:00 America/New_York").await
    );
    s.at("2026-03-08 08:00 America/New_York").await;
    let after = s.send(SEND).await;
    assert_eq!(
        s.deliveries(after).await[1].3,
        None,
        "08:00 is outside the window"
    );
}

#[tokio::test]
async fn quiet_hours_can_drop_and_say_so() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(&mut s, "sms", "time_zone = 'Asia/Shanghai'").await;
    s.exec("INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends, action) VALUES ('report.ready', 'sms', '22:00', '08:00', 'drop')")
        .await;
    s.at("2026-11-26 02:00 Asia/Shanghai").await;
    let m = s.send(SEND).await;
    let now = s.instant("2026-11-26 02:00 Asia/Shanghai").await;
    assert_eq!(
        s.deliveries(m).await,
        vec![(
            "sms".into(),
            "skipped".into(),
            now,
            None,
            Some("dropped: quiet hours 22:00-08:00 (Asia/Shanghai) for sms".into())
        )]
    );
}

#[tokio::test]
async fn urgent_messages_ignore_send_times_and_quiet_hours() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "sms",
        "send_policy = 'times_of_day', send_times = '{08:00}', time_zone = 'Asia/Shanghai'",
    )
    .await;
    s.exec("INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends) VALUES ('report.ready', 'sms', '22:00', '08:00')")
        .await;
    s.at("2026-11-26 03:00 Asia/Shanghai").await;
    let now = s.instant("2026-11-26 03:00 Asia/Shanghai").await;
    let urgent = s
        .send("SELECT msgpool.send('report.ready', '{}', urgency => 'urgent')")
        .await;
    assert_eq!(
        s.deliveries(urgent).await,
        vec![("sms".into(), "pending".into(), now, None, None)]
    );
    let normal = s.send(SEND).await;
    assert_eq!(
        s.deliveries(normal).await[0].2,
        s.instant("2026-11-26 08:00 Asia/Shanghai").await,
        "the same message at normal urgency waits"
    );
    // quiet hours that spare high urgency
    s.exec("UPDATE msgpool.quiet_hours SET below = 'high'; UPDATE msgpool.message_type SET send_policy = 'immediate'").await;
    let high = s
        .send("SELECT msgpool.send('report.ready', '{}', urgency => 'high')")
        .await;
    assert_eq!(s.deliveries(high).await[0].2, now);
}

#[tokio::test]
async fn deliver_at_overrides_the_send_policy() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'times_of_day', send_times = '{08:00}', time_zone = 'Asia/Shanghai'",
    )
    .await;
    s.at("2026-11-26 03:00 Asia/Shanghai").await;
    let m = s
        .send("SELECT msgpool.send('report.ready', '{}', deliver_at => '2026-11-26 03:10 Asia/Shanghai')")
        .await;
    assert!(
        s.deliveries(m).await.is_empty(),
        "the message waits for its deliver_at"
    );
    s.at("2026-11-26 03:10 Asia/Shanghai").await;
    let _: i32 = sqlx::query_scalar("SELECT msgpool.expand(100)")
        .fetch_one(&mut s.conn)
        .await
        .expect("expand");
    let now = s.instant("2026-11-26 03:10 Asia/Shanghai").await;
    assert_eq!(
        s.deliveries(m).await,
        vec![("inbox".into(), "pending".into(), now, None, None)]
    );
}

#[tokio::test]
async fn an_interval_is_measured_in_real_hours_across_a_daylight_saving_change() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(
        &mut s,
        "inbox",
        "send_policy = 'interval', send_interval = '2 hours', time_zone = 'America/New_York'",
    )
    .await;
    // 00:30 EDT on 2026-11-01; at 02:00 EDT the clocks go back to 01:00 EST.
    s.at("2026-11-01 00:30 America/New_York").await;
    let first = s.send(SEND).await;
    s.at("2026-11-01 01:00 EDT").await;
    let second = s.send(SEND).await;
    let first_due = s.deliveries(first).await[0].2;
    let second_due = s.deliveries(second).await[0].2;
    assert_eq!(
        (second_due - first_due).num_minutes(),
        120,
        "two hours, not two on the wall clock"
    );
    assert_eq!(
        second_due,
        s.instant("2026-11-01 01:30 EST").await,
        "the wall clock reads 01:30 twice that night"
    );
}

#[tokio::test]
async fn a_retry_that_would_fall_in_quiet_hours_waits_until_they_end() {
    let db = TestDb::new().await;
    let mut s = Session::new(&db).await;
    report_type(&mut s, "sms", "time_zone = 'Asia/Shanghai'").await;
    s.exec("INSERT INTO msgpool.quiet_hours (type_key, channel, starts, ends) VALUES ('report.ready', 'sms', '22:00', '08:00')")
        .await;
    s.at("2026-11-26 21:59:59 Asia/Shanghai").await;
    s.send(SEND).await;
    let claimed = s.claim("sms").await;
    assert_eq!(claimed.len(), 1, "before 22:00 it goes");
    let (id, token) = claimed[0];
    let _: i32 = sqlx::query_scalar("SELECT msgpool.record_outcomes($1)")
        .bind(serde_json::json!([{"id": id, "lease_token": token, "outcome": "retry", "error": "gateway busy"}]))
        .fetch_one(&mut s.conn)
        .await
        .expect("record");
    let retry_at: DateTime<Utc> =
        sqlx::query_scalar("SELECT next_attempt_at FROM msgpool.delivery WHERE id = $1")
            .bind(id)
            .fetch_one(&mut s.conn)
            .await
            .expect("delivery");
    assert_eq!(
        retry_at,
        s.instant("2026-11-27 08:00 Asia/Shanghai").await,
        "not at 22:00:04"
    );
}

#[tokio::test]
async fn explain_names_a_near_type_or_says_how_to_list_them() {
    let db = TestDb::new().await;
    seed(&db.pool).await;
    let explain = |key: &str| {
        let key = TypeKey::parse(key).expect("key");
        let pool = db.pool.clone();
        async move { message_types::explain(&pool, &key).await }
    };
    let lines = explain("server.down").await.expect("explain");
    assert!(lines.iter().any(|l| l.starts_with("Dedup:")), "{lines:?}");

    let typo = explain("server.dwn").await.expect_err("unknown type");
    assert_eq!(typo.sqlstate(), Some("MP001"));
    assert_eq!(typo.hint(), Some("did you mean 'server.down'?"));
    let stranger = explain("nothing.like.it.at.all")
        .await
        .expect_err("unknown type");
    assert_eq!(stranger.hint(), Some("list types with: msgpool type list"));
}
