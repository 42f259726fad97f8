//! Ingest benchmark (issue 3): 100,000 penalty records through the real HTTP API in batches of
//! 1000, every row validated against the catalog and its lateness computed, on SQLite and on
//! PostgreSQL. Prints records per second, and how long after the last answer the subjects'
//! ratings had followed (`ratings::queue`).
//!
//!     cargo bench --bench ingest                 # both databases
//!     cargo bench --bench ingest -- sqlite       # one of them
//!     INGEST_RECORDS=20000 cargo bench --bench ingest
//!
//! PostgreSQL is taken from CREDIT_HUB_TEST_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/test); a database is created for the run and dropped.

mod support;

use std::time::Instant;

use chrono::{Duration, Utc};
use credit_hub::auth::Role;
use credit_hub::subjects::rules::CreditCode;
use futures_util::StreamExt;
use serde_json::{Value, json};

// The same allocator as the `credit-hub` binary, since the server runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1000;
const SUBJECTS: usize = 10_000;
const AUTHORITY: &str = "12100000400009880K";

fn uscc(n: usize) -> String {
    let body = format!("91360404MA{:07}", n);
    CreditCode::with_check_character(&body)
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn penalty(n: usize, code: &str, decided: &str) -> Value {
    json!({
        "item": "ADMIN_PENALTY",
        "fields": {
            "CF_XDR_MC": format!("九江基准测试企业{n}有限公司"),
            "CF_XDR_LB": "法人及非法人组织",
            "CF_XDR_SHXYM": code,
            "CF_FRDB": "张建国",
            "CF_WSH": format!("柴市监罚〔2026〕{n}号"),
            "CF_WFXW": "销售过期食品",
            "CF_SY": "经查，当事人销售超过保质期的食品，事实清楚，证据确凿。",
            "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
            "CF_CFLB": if n.is_multiple_of(10) { "罚款;吊销许可证件" } else { "罚款" },
            "CF_NR": "罚款2000元",
            "CF_NR_FK": 0.2,
            "CF_NR_ZKDX": "食品经营许可证",
            "CF_JDRQ": decided,
            "CF_CFJG": "柴桑区市场监督管理局",
            "CF_CFJGDM": AUTHORITY,
            "CF_SJLY": "柴桑区市场监督管理局",
            "CF_SJLYDM": AUTHORITY,
        }
    })
}

async fn run(name: &str, database_url: String, records: usize, concurrency: usize) {
    let state = support::prepare(database_url, false).await;
    let url = support::serve(&state);
    let admin = support::token(&state, Role::Admin, "PLATFORM", "bench");
    let department = support::token(&state, Role::Department, "MARKET_REGULATION", "bench");
    let client = reqwest::Client::new();

    let codes: Vec<String> = (0..SUBJECTS).map(uscc).collect();
    for chunk in codes.chunks(BATCH) {
        let subjects: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"kind": "ENTERPRISE", "code": c, "name": format!("九江基准测试企业{i}有限公司"), "regionCode": "360404104000", "industryCode": "C"}))
            .collect();
        let body = json!({"query": "mutation ($s: [SubjectInput!]!) { registerSubjects(input: {subjects: $s}) { createdCount } }", "variables": {"s": subjects}});
        let response = client
            .post(&url)
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("register");
        assert!(response.status().is_success());
    }

    let decided = (Utc::now() - Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let query = "mutation ($r: [CreditRecordInput!]!) { submitCreditRecords(input: {records: $r}) { acceptedCount refusedCount lateCount } }";
    let bodies: Vec<String> = (0..records.div_ceil(BATCH))
        .map(|b| {
            let rows: Vec<Value> = (b * BATCH..((b + 1) * BATCH).min(records))
                .map(|n| penalty(n, &codes[n % SUBJECTS], &decided))
                .collect();
            json!({"query": query, "variables": {"r": rows}}).to_string()
        })
        .collect();
    let bytes: usize = bodies.iter().map(String::len).sum();

    let started = Instant::now();
    let mut accepted = 0u64;
    let mut refused = 0u64;
    // A department's uploader keeps `concurrency` batches in flight: the next is sent as soon as
    // any answer arrives, not when a whole wave has.
    let mut answers = futures_util::stream::iter(bodies.iter().map(|body| {
        let request = client
            .post(&url)
            .bearer_auth(&department)
            .header("content-type", "application/json")
            .body(body.clone());
        async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            let answer: Value = response.json().await.expect("json");
            assert!(status.is_success(), "{answer}");
            answer
        }
    }))
    .buffer_unordered(concurrency);
    while let Some(answer) = answers.next().await {
        let payload = &answer["data"]["submitCreditRecords"];
        accepted += payload["acceptedCount"].as_u64().unwrap_or(0);
        refused += payload["refusedCount"].as_u64().unwrap_or(0);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The ratings follow the records (`ratings::queue`): how long after the last answer the last
    // subject was re-rated.
    let answered = Instant::now();
    loop {
        let pending = credit_hub::ratings::queue::pending(&state.db)
            .await
            .expect("count the rating queue");
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let followed = answered.elapsed().as_secs_f64();
    assert_eq!(
        accepted as usize, records,
        "every row accepted ({refused} refused)"
    );
    println!(
        "{name:<10} {records} records in {} batches of {BATCH} ({concurrency} in flight, {:.1} MB sent): {elapsed:.2} s = {:.0} records/s",
        bodies.len(),
        bytes as f64 / 1e6,
        records as f64 / elapsed
    );
    println!(
        "{name:<10} ratings of all {SUBJECTS} subjects stored {followed:.2} s after the last answer (rating_delay_ms {}, rating_max_delay_ms {})",
        state.settings.rating_delay_ms, state.settings.rating_max_delay_ms
    );
}

#[tokio::main]
async fn main() {
    let records: usize = std::env::var("INGEST_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let concurrency: usize = std::env::var("INGEST_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    support::on_each_database("bench", |name, url| run(name, url, records, concurrency)).await;
}
