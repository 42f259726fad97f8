//! What the operator sees: liveness, readiness, metrics, and behaviour with the database gone.

use credit_hub::auth::Role;
use serde_json::json;
use std::time::Duration;

use crate::both;
use crate::helpers::{Backend, spawn_app};

async fn health_readiness_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    // Make an error so that the error counter exists.
    app.graphql(None, "{ auditLog { totalCount } }", json!({}))
        .await;
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    for name in [
        "credit_hub_http_requests_total",
        "credit_hub_http_request_duration_seconds_bucket",
        "credit_hub_errors_total",
        "credit_hub_db_pool_connections",
    ] {
        assert!(
            metrics.text.contains(name),
            "{name} missing:\n{}",
            metrics.text
        );
    }
    assert!(metrics.text.contains("code=\"UNAUTHENTICATED\""));
}

async fn database_down_means_503_with_retry_after_but_alive(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token(Role::Admin);
    app.state.db.clone().close().await.expect("close the pool");
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200, "liveness stays up");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(ready.header("retry-after").is_some());
    let answer = app
        .graphql(Some(&token), "{ subjects { totalCount } }", json!({}))
        .await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert!(answer.header("retry-after").is_some());
    assert_eq!(answer.code(), Some("SERVICE_UNAVAILABLE"));
    let text = answer.text.to_lowercase();
    for leak in ["sqlx", "pool", "sqlite", "postgres", "select"] {
        assert!(
            !text.contains(leak),
            "internal detail {leak} leaked: {}",
            answer.text
        );
    }
}

/// A request cancelled while its transaction is starting (the client went away, the execution
/// timeout struck, a worker was stopped) must not leave that transaction open on the pooled
/// connection: the next statement on it would run inside it, hold its locks and never commit.
/// sqlx-postgres 0.9.0 did exactly that (transact-rs/sqlx#4393), which hung a rating worker on
/// the row lock of the one it had replaced.
async fn a_cancelled_transaction_start_leaves_no_transaction_open(backend: Backend) {
    use futures_util::FutureExt;
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = spawn_app(backend).await;
    // One connection, so that every statement below reuses the one whose start was cancelled.
    let mut settings = app.settings.clone();
    settings.db_max_connections = 1;
    let db = credit_hub::db::connect(&settings).await.expect("connect");
    db.execute_unprepared("CREATE TABLE cancel_probe (n INTEGER NOT NULL)")
        .await
        .expect("create the probe table");
    const ROUNDS: i64 = 20;
    for n in 0..ROUNDS {
        // The connection back in the pool (its release is a round trip of its own), so that
        // the start below takes it at once; polled once, it sends BEGIN and is dropped before
        // the answer is read.
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(db.begin().now_or_never());
        db.execute_unprepared(&format!("INSERT INTO cancel_probe (n) VALUES ({n})"))
            .await
            .expect("insert after a cancelled start");
    }
    // Read through the app's own pool: every insert above must be committed.
    let seen = app.count("SELECT COUNT(*) AS n FROM cancel_probe").await;
    assert_eq!(
        seen, ROUNDS,
        "inserts left inside a transaction nobody ends"
    );
}

both!(
    health_readiness_and_metrics,
    database_down_means_503_with_retry_after_but_alive,
    a_cancelled_transaction_start_leaves_no_transaction_open,
);
