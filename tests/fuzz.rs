//! Producers' input, fuzzed: thousands of random and borderline messages through
//! `msgpool.send()` and a raw INSERT, as a real producer login, interleaved with good ones.
//! Every refusal that reaches msgpool's code carries an MP SQLSTATE (what PostgreSQL's own
//! type input refuses first keeps PostgreSQL's code), every good message is delivered, and
//! nothing is left in flight. Seeded: a failure names its seed and input, and repeats.

mod support;

use msgpool::Db;
use msgpool::domain::Channel;
use support::{TestDb, exec, scalar, sqlstate, wait_for};
use tokio_util::sync::CancellationToken;

const SEED: u64 = 0x6d73_6770_6f6f_6c01;
const INPUTS: usize = 2400;

/// xorshift64*: small, repeatable, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One producer call: every argument as the text a driver would send, cast in SQL, so
/// what PostgreSQL's type input refuses is refused there, as for any client.
#[derive(Debug, Clone)]
struct Input {
    type_key: Option<String>,
    payload: Option<String>,
    dedup_key: Option<String>,
    deliver_at: Option<String>,
    recipients: Option<String>,
    source: Option<String>,
    urgency: Option<String>,
    raw_insert: bool,
    verdict: Verdict,
}

/// What msgpool must do with an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// Accept it as a message of its own.
    New,
    /// Accept it: a new message, or counted on an open one with the same dedup key.
    NewOrCounted,
    /// Refuse it, with an MP code.
    Refused,
    /// Refused by PostgreSQL's own type input (malformed JSON, enum, timestamp, array)
    /// before msgpool's code runs: its code is PostgreSQL's (22xxx).
    Malformed,
}

const STRANGE: &[&str] = &[
    "",
    " ",
    "'; DROP TABLE msgpool.message; --",
    "\" OR 1=1 --",
    "server.down'--",
    "ünïcödé.类型",
    "$$; SELECT pg_sleep(10); $$",
    "%s%s%s%n",
    "../../etc/passwd",
    "NULL",
];

fn generate(rng: &mut Rng) -> Input {
    let mut input = Input {
        type_key: Some("fuzz.ok".into()),
        payload: Some(format!("{{\"n\": {}}}", rng.below(1_000_000))),
        dedup_key: None,
        deliver_at: None,
        recipients: Some("{zhang.san}".into()),
        source: None,
        urgency: None,
        raw_insert: rng.below(2) == 0,
        verdict: Verdict::New,
    };
    // a third of the inputs stay as they are; the rest change one or two parts
    if rng.below(3) == 0 {
        return input;
    }
    // what each part makes of the input; a part changed twice counts as its last change
    let mut verdicts = [Verdict::New; 7];
    for _ in 0..=rng.below(2) {
        let part = rng.below(7);
        verdicts[part] = match part {
            0 => {
                input.type_key = match rng.below(5) {
                    0 => None,
                    1 => Some("x".repeat(10_000)),
                    2 => Some("fuzz.disabled".into()),
                    3 => Some("fuzz.ok.typo".into()),
                    _ => Some(rng.pick(STRANGE).into()),
                };
                Verdict::Refused
            }
            1 => {
                let (payload, verdict) = match rng.below(8) {
                    0 => ("[1, 2, 3]".to_owned(), Verdict::Refused),
                    1 => ("\"just a string\"".to_owned(), Verdict::Refused),
                    2 => ("null".to_owned(), Verdict::Refused),
                    3 => (
                        format!("{{\"blob\": \"{}\"}}", "x".repeat(70_000)),
                        Verdict::Refused,
                    ),
                    4 => (
                        format!("{{\"deep\": {}1{}}}", "[".repeat(40), "]".repeat(40)),
                        Verdict::Refused,
                    ),
                    5 => (r#"{"nul": "a\u0000b"}"#.to_owned(), Verdict::Malformed),
                    6 => ("{not json".to_owned(), Verdict::Malformed),
                    _ => (
                        format!(
                            "{{\"n\": 1, \"deep\": {}1{}}}",
                            "[".repeat(20),
                            "]".repeat(20)
                        ),
                        Verdict::New,
                    ),
                };
                input.payload = Some(payload);
                verdict
            }
            2 => match rng.below(3) {
                0 => {
                    input.dedup_key = Some("k".repeat(201));
                    Verdict::Refused
                }
                1 => {
                    input.dedup_key = Some(rng.pick(STRANGE).to_owned());
                    Verdict::NewOrCounted
                }
                _ => {
                    input.dedup_key = Some(format!("key-{}", rng.below(5)));
                    Verdict::NewOrCounted
                }
            },
            3 => {
                let (at, verdict) = match rng.below(5) {
                    0 => ("1970-01-01 00:00:00+00", Verdict::Refused),
                    1 => ("-infinity", Verdict::Refused),
                    2 => ("not a time", Verdict::Malformed),
                    3 => ("2026-13-45 25:61:00", Verdict::Malformed),
                    _ => ("2001-01-01 00:00:00+00", Verdict::Refused),
                };
                input.deliver_at = Some(at.into());
                verdict
            }
            4 => {
                let (recipients, verdict) = match rng.below(7) {
                    0 => ("{}".to_owned(), Verdict::Refused),
                    1 => ("{NULL}".to_owned(), Verdict::Refused),
                    2 => ("{nobody.here}".to_owned(), Verdict::Refused),
                    3 => ("{li.si.disabled}".to_owned(), Verdict::Refused),
                    // the same recipient 10,000 times: one delivery
                    4 => (
                        format!("{{{}}}", vec!["zhang.san"; 10_000].join(",")),
                        Verdict::New,
                    ),
                    5 => (
                        format!("{{{}}}", vec!["nobody"; 10_000].join(",")),
                        Verdict::Refused,
                    ),
                    _ => ("{unclosed".to_owned(), Verdict::Malformed),
                };
                input.recipients = Some(recipients);
                verdict
            }
            5 => {
                input.source = Some("s".repeat(201));
                Verdict::Refused
            }
            _ => {
                input.urgency = Some(rng.pick(&["bogus", "URGENT", ""]).into());
                Verdict::Malformed
            }
        };
    }
    input.verdict = verdicts.into_iter().max().unwrap_or(Verdict::New);
    input
}

/// Sends `input`; `Ok(id)` (None: counted as a duplicate) or the SQLSTATE.
async fn send(producer: &Db, input: &Input) -> Result<Option<i64>, String> {
    let sql = if input.raw_insert {
        "INSERT INTO msgpool.message (type_key, payload, dedup_key, deliver_at, recipients, source, urgency)
         VALUES ($1, $2::jsonb, $3, $4::timestamptz, $5::text[], $6, $7::msgpool.urgency) RETURNING id"
    } else {
        "SELECT msgpool.send($1, $2::jsonb, $3, $4::timestamptz, $5::text[], $6, $7::msgpool.urgency)"
    };
    sqlx::query_scalar::<_, Option<i64>>(sql)
        .bind(&input.type_key)
        .bind(&input.payload)
        .bind(&input.dedup_key)
        .bind(&input.deliver_at)
        .bind(&input.recipients)
        .bind(&input.source)
        .bind(&input.urgency)
        .fetch_optional(producer)
        .await
        .map(Option::flatten)
        .map_err(|e| sqlstate(&e))
}

#[tokio::test]
async fn thousands_of_hostile_inputs_are_refused_with_mp_codes_and_good_ones_all_arrive() {
    let db = TestDb::new().await;
    exec(
        &db.pool,
        "INSERT INTO msgpool.message_type (key, name, channels) VALUES
           ('fuzz.ok', 'Fuzz', '{inbox}');
         INSERT INTO msgpool.message_type (key, name, channels, enabled) VALUES
           ('fuzz.disabled', 'Off', '{inbox}', false);
         INSERT INTO msgpool.recipient (key, name) VALUES ('zhang.san', '张三');
         INSERT INTO msgpool.recipient (key, name, enabled) VALUES ('li.si.disabled', '李四', false);
         INSERT INTO msgpool.template (type_key, channel, subject, body)
           VALUES ('fuzz.ok', 'inbox', 'n={{ n }}', '{{ n }}');
         -- a producer names only the type's subscribers
         INSERT INTO msgpool.subscription (type_key, recipient_key) VALUES ('fuzz.ok', 'zhang.san');",
    )
    .await;
    let (_, producer) = support::login_as(&db, "msgpool_producer").await;

    let mut rng = Rng(SEED);
    let mut messages = std::collections::HashSet::new();
    let mut refused = 0;
    for n in 0..INPUTS {
        let input = generate(&mut rng);
        let result = send(&producer, &input).await;
        let described = || {
            let mut shown = format!("{input:?}");
            shown.truncate(400);
            format!("seed {SEED:#x}, input {n}: {shown}")
        };
        match (input.verdict, result) {
            (Verdict::New, Ok(Some(id))) => assert!(messages.insert(id), "{}", described()),
            (Verdict::NewOrCounted, Ok(id)) => {
                messages.extend(id);
            }
            (Verdict::Refused, Err(code)) if code.starts_with("MP") => refused += 1,
            (Verdict::Malformed, Err(code)) if code.starts_with("22") => refused += 1,
            (verdict, result) => panic!("{verdict:?} but got {result:?}: {}", described()),
        }
    }
    producer.close().await;
    assert!(
        messages.len() > INPUTS / 5 && refused > INPUTS / 3,
        "both kinds well represented: {} messages, {refused} refused",
        messages.len()
    );

    let stop = CancellationToken::new();
    let worker = tokio::spawn(msgpool_workers::run(
        db.pool.clone(),
        support::worker_config("fuzz", &[Channel::Inbox]),
        stop.clone(),
    ));
    let delivered = "SELECT count(*) FROM msgpool.delivery WHERE state = 'sent' AND recipient_key = 'zhang.san'";
    wait_for(&db.pool, delivered, messages.len() as i64).await;
    stop.cancel();
    worker
        .await
        .expect("join")
        .expect("the worker stops cleanly");
    assert_eq!(
        scalar::<i64>(
            &db.pool,
            "SELECT count(*) FROM msgpool.delivery WHERE state = 'sending'"
        )
        .await,
        0,
        "nothing left in flight"
    );
}
