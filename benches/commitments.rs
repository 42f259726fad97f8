//! Commitment benchmark (issue 5): `recordCommitment` from 32 concurrent partner connections
//! through the real HTTP API, each commitment durable when acknowledged (SQLite in WAL mode with
//! `synchronous=FULL`, PostgreSQL with `synchronous_commit=on`; the run prints both settings and
//! checks that every acknowledged commitment is in the database). Prints commitments per second,
//! p50 and p99.
//!
//!     cargo bench --bench commitments                       # both databases
//!     cargo bench --bench commitments -- postgres           # one of them
//!     COMMIT_SECONDS=20 COMMIT_CONNECTIONS=32 cargo bench --bench commitments
//!     COMMIT_IDEMPOTENCY_KEY=1 cargo bench --bench commitments   # with the header too

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use credit_hub::auth::Role;
use credit_hub::subjects::rules::CreditCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SUBJECTS: usize = 2_000;
const RECORD: &str = "mutation ($input: RecordCommitmentInput!) { recordCommitment(input: $input) { replayed commitment { id status } userErrors { field code message } } }";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn uscc(n: usize) -> String {
    CreditCode::with_check_character(&format!("91360404MA{n:07}"))
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The durability setting the database runs with, as it reports it.
async fn durability(db: &sea_orm::DatabaseConnection) -> String {
    let (backend, sql, label) = match db.get_database_backend() {
        DbBackend::Sqlite => (
            DbBackend::Sqlite,
            "PRAGMA synchronous",
            "synchronous (2 = FULL)",
        ),
        _ => (
            DbBackend::Postgres,
            "SHOW synchronous_commit",
            "synchronous_commit",
        ),
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .ok()
        .flatten();
    let value = row
        .and_then(|r| {
            r.try_get_by_index::<String>(0)
                .ok()
                .or_else(|| r.try_get_by_index::<i32>(0).ok().map(|v| v.to_string()))
        })
        .unwrap_or_else(|| "?".into());
    format!("{label} = {value}")
}

async fn run(name: &str, database_url: String) {
    let seconds = env("COMMIT_SECONDS", 20);
    let connections = env("COMMIT_CONNECTIONS", 32) as usize;
    let with_key = env("COMMIT_IDEMPOTENCY_KEY", 0) == 1;
    let state = support::prepare(database_url, false).await;
    let url = support::serve(&state);
    let admin = support::token(&state, Role::Admin, "PLATFORM", "bench");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");

    let codes: Vec<String> = (0..SUBJECTS).map(uscc).collect();
    for chunk in codes.chunks(1000) {
        let subjects: Vec<Value> = chunk
            .iter()
            .map(|c| json!({"kind": "ENTERPRISE", "code": c, "name": format!("九江承诺测试企业{c}"), "regionCode": "360404104000", "industryCode": "C"}))
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
    let verify_by = (Utc::now() + chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    let codes = Arc::new(codes);

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let client = client.clone();
            let url = url.clone();
            let codes = codes.clone();
            let verify_by = verify_by.clone();
            // One partner client per connection, as 32 partner systems would be.
            let token = support::token(&state, Role::Partner, "CATERING_ASSOCIATION", &format!("partner-{c}"));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let body = json!({"query": RECORD, "variables": {"input": {
                        "externalId": format!("P{c:02}-{n:07}"),
                        "subjectCode": codes[(c * 7919 + n) % codes.len()],
                        "kind": "BUSINESS_NOTIFICATION",
                        "matter": "食品经营许可（告知承诺）",
                        "content": "本单位承诺已具备法律法规规定的许可条件，并将在核查期限内接受核查；如有不实，愿承担相应法律责任并记入信用记录。",
                        "verifyBy": verify_by,
                        "department": "MARKET_REGULATION",
                    }}})
                    .to_string();
                    let mut request = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body);
                    if with_key {
                        request = request.header("idempotency-key", format!("k-{c}-{n}"));
                    }
                    let sent = Instant::now();
                    let response = request.send().await.expect("send");
                    let ok = response.status().is_success();
                    let answer: Value = response.json().await.expect("json");
                    latencies.push(sent.elapsed());
                    assert!(
                        ok && answer["data"]["recordCommitment"]["commitment"]["status"]
                            == "PENDING_VERIFICATION",
                        "{answer}"
                    );
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let acknowledged = latencies.len() as i64;
    let stored: i64 = state
        .db
        .query_one_raw(Statement::from_string(
            state.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM commitment",
        ))
        .await
        .expect("count")
        .and_then(|r| r.try_get("", "n").ok())
        .unwrap_or(-1);
    assert_eq!(
        stored, acknowledged,
        "every acknowledged commitment is stored"
    );
    println!(
        "{name:<10} recordCommitment, {connections} connections, {seconds} s{}: {acknowledged} commitments = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {acknowledged} acknowledged = {stored} stored; {}",
        if with_key {
            " with Idempotency-Key"
        } else {
            ""
        },
        acknowledged as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        durability(&state.db).await,
    );
}

#[tokio::main]
async fn main() {
    support::on_each_database("commit", run).await;
}
