//! GraphiQL, the in-browser IDE. Off for anonymous callers in production mode.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use async_graphql::http::GraphiQLSource;

use crate::config::Mode;
use crate::state::AppState;

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.settings.mode == Mode::Production {
        let authenticated = matches!(
            super::auth::caller(&req, &state.tokens),
            Ok(crate::auth::Caller::Authenticated(_))
        );
        if !authenticated {
            return super::error_body(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "GraphiQL is off for anonymous callers in production mode",
            );
        }
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("credit-hub GraphiQL")
                .finish(),
        )
}
