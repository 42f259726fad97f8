//! Evaluation benchmark (issue 4), on SQLite and on PostgreSQL:
//!
//! 1. generates subjects and records with the bulk generator (`demo-data --subjects`);
//! 2. runs the annual evaluation of PUBLIC_COMPREHENSIVE over all of them and prints the time;
//! 3. reads one rating by code through the real HTTP API (`subject(code) { rating { … } }`),
//!    sequentially, for random codes, and prints p50 / p99 and reads per second.
//!
//! Run at two sizes to compare the read (target: no more than 1.5× apart):
//!
//!     cargo bench --bench evaluation                                 # 1,000,000 × 10, both
//!     EVAL_SUBJECTS=10000 cargo bench --bench evaluation -- sqlite   # one database, 10k
//!
//! EVAL_SUBJECTS (default 1,000,000), EVAL_RECORDS_PER_SUBJECT (10), EVAL_READS (5000),
//! EVAL_WORKERS (chunks in flight; default as `credit-hub evaluate`: PostgreSQL two per core,
//! at most half the pool, SQLite 1).
//! PostgreSQL comes from CREDIT_HUB_TEST_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/test); a database is created for the run and dropped.
//!
//! EVAL_DATABASE_URL names a database to keep instead (one backend per run): it is generated
//! once, and each later run clears the ratings and runs before evaluating, so every run
//! measures the first evaluation after generation without generating again (at 1,000,000
//! subjects the generator takes minutes):
//!
//!     EVAL_DATABASE_URL=postgres://postgres@127.0.0.1:5432/eval_1m cargo bench --bench evaluation

mod support;

use std::time::{Duration, Instant};

use credit_hub::auth::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(name: &str, database_url: String) {
    let subjects = env("EVAL_SUBJECTS", 1_000_000);
    let per_subject = env("EVAL_RECORDS_PER_SUBJECT", 10) as u32;
    let reads = env("EVAL_READS", 5000);
    let state = support::prepare(database_url, true).await;
    let townships: Vec<String> = credit_hub::reference::regions(&state.db, None, Some("TOWNSHIP"))
        .await
        .expect("regions")
        .into_iter()
        .map(|r| r.code)
        .collect();

    let made = match kept(&state.db).await {
        Some(made) => {
            println!(
                "{name:<10} kept database: {} subjects and {} records; ratings cleared",
                made.subjects, made.records
            );
            made
        }
        None => {
            let started = Instant::now();
            let plan = credit_hub::demo::bulk::Plan {
                subjects,
                records_per_subject: per_subject,
                seed: 7,
            };
            let made = credit_hub::demo::bulk::generate(&state.db, plan, &townships, |_, _| {})
                .await
                .expect("generate");
            println!(
                "{name:<10} generated {} subjects and {} records in {:.1} s",
                made.subjects,
                made.records,
                started.elapsed().as_secs_f64()
            );
            made
        }
    };

    let started = Instant::now();
    let run = credit_hub::ratings::evaluation::start(
        &state.db,
        &credit_hub::audit::Actor::cli("bench"),
        "PUBLIC_COMPREHENSIVE",
        None,
        credit_hub::ratings::evaluation::CHUNK,
    )
    .await
    .expect("start")
    .expect("started");
    let done = credit_hub::ratings::evaluation::work(
        &state.db,
        run.id,
        env("EVAL_WORKERS", 0)
            .try_into()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| credit_hub::ratings::evaluation::workers(&state.db)),
        |_, _| {},
    )
    .await
    .expect("work");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{name:<10} evaluation of {} subjects ({} records): {seconds:.1} s = {:.0} subjects/s ({})",
        done.done,
        made.records,
        done.done as f64 / seconds,
        done.status
    );

    // Codes of rated subjects, in random order.
    let rows = state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            state.db.get_database_backend(),
            format!(
                "SELECT s.display_code AS code FROM subject s JOIN rating r ON r.subject_id = s.id \
                 AND r.model_code = 'PUBLIC_COMPREHENSIVE' ORDER BY r.id LIMIT {}",
                subjects.min(200_000)
            ),
        ))
        .await
        .expect("codes");
    let codes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "code").ok())
        .collect();
    let url = support::serve(&state);
    let token = support::token(&state, Role::Bank, "JIUJIANG_BANK", "bench");
    let client = reqwest::Client::new();
    let query = "query ($code: String!) { subject(code: $code) { rating { score grade supervisionLevel } } }";
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut latencies = Vec::with_capacity(reads as usize);
    // Warm up connections and caches a little, then measure.
    for round in 0..(reads + 200) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let code = &codes[(x % codes.len().max(1) as u64) as usize];
        let body = json!({"query": query, "variables": {"code": code}});
        let sent = Instant::now();
        let answer: Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let took = sent.elapsed();
        assert!(
            answer["data"]["subject"]["rating"]["grade"].is_string(),
            "{answer}"
        );
        if round >= 200 {
            latencies.push(took);
        }
    }
    latencies.sort();
    let total: f64 = latencies.iter().map(Duration::as_secs_f64).sum();
    println!(
        "{name:<10} rating read by code at {} subjects: p50 {:.2} ms, p99 {:.2} ms, {:.0} reads/s (one connection, {} reads)",
        made.subjects,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len() as f64 / total,
        latencies.len()
    );
}

/// On a kept database that already holds generated subjects: what it holds, after clearing
/// what an evaluation writes, so that the run starts as it would after generation.
async fn kept(db: &sea_orm::DatabaseConnection) -> Option<credit_hub::demo::bulk::Generated> {
    std::env::var_os("EVAL_DATABASE_URL")?;
    let backend = db.get_database_backend();
    let count = |sql: &'static str| async move {
        db.query_one_raw(sea_orm::Statement::from_string(backend, sql))
            .await
            .expect("count")
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0) as u64
    };
    let subjects = count("SELECT COUNT(*) AS n FROM subject").await;
    if subjects == 0 {
        return None;
    }
    let records = count("SELECT COUNT(*) AS n FROM credit_record").await;
    for table in [
        "rating_history",
        "rating",
        "evaluation_chunk",
        "evaluation_run",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .expect("clear");
    }
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("VACUUM ANALYZE")
            .await
            .expect("vacuum");
    }
    Some(credit_hub::demo::bulk::Generated { subjects, records })
}

#[tokio::main]
async fn main() {
    match std::env::var("EVAL_DATABASE_URL") {
        Ok(url) => {
            let name = if url.starts_with("sqlite:") {
                "sqlite"
            } else {
                "postgres"
            };
            run(name, url).await;
        }
        Err(_) => support::on_each_database("eval", run).await,
    }
}
