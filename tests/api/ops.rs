//! What the operator sees: liveness, readiness, metrics, and behaviour with the database gone.

use credit_hub::auth::Role;
use serde_json::json;

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

both!(
    health_readiness_and_metrics,
    database_down_means_503_with_retry_after_but_alive,
);
