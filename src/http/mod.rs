//! The HTTP shell: our GraphQL handler, GraphiQL, health, metrics and the token endpoint. It only
//! wires; the rules live in the capabilities.

// Handlers return a ready `HttpResponse` as the early-exit value; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod oauth;
pub mod request_id;

use actix_web::{HttpResponse, http::StatusCode, web};
use serde_json::json;

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql::post))
            .route(web::get().to(graphql::get)),
    )
    .route("/graphiql", web::get().to(graphiql::page))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::render))
    .route("/oauth/token", web::post().to(oauth::token))
    .default_service(web::to(not_found));
}

/// A GraphQL-shaped error body: `{"errors":[{"message":…,"extensions":{"code":…}}]}`.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    crate::http::metrics::count_error(code);
    HttpResponse::build(status)
        .content_type("application/json")
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

async fn not_found() -> HttpResponse {
    error_body(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint; the API is POST /graphql (GraphiQL at /graphiql)",
    )
}
