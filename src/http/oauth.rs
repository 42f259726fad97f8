//! POST /oauth/token: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4). Client
//! credentials come in HTTP Basic (§2.3.1) or in the form body; the answer is a bearer JWT.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::auth::clients;
use crate::state::AppState;

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> HttpResponse {
    crate::http::metrics::count_error(&format!("oauth:{error}"));
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if status == StatusCode::UNAUTHORIZED && basic {
        builder.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"credit-hub\""));
    }
    builder.json(json!({ "error": error, "error_description": description }))
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let form_type = matches!(
        req.mime_type(),
        Ok(Some(m)) if m.essence_str() == "application/x-www-form-urlencoded"
    );
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send Content-Type: application/x-www-form-urlencoded with grant_type=client_credentials",
            false,
        );
    }
    let text = std::str::from_utf8(&body).unwrap_or_default();
    let form = match web::Query::<TokenForm>::from_query(text) {
        Ok(f) => f.into_inner(),
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the form body could not be read",
                false,
            );
        }
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required; this endpoint supports client_credentials",
                false,
            );
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "this endpoint supports grant_type=client_credentials only",
                false,
            );
        }
    }
    let basic = basic_credentials(&req);
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, form.client_id, form.client_secret) {
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the client credentials once: in HTTP Basic or in the body, not both",
                true,
            );
        }
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required: HTTP Basic, or client_id and client_secret in the body",
                false,
            );
        }
    };
    let principal = match clients::authenticate(&state.db, &client_id, &secret).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client, wrong secret, or a disabled client",
                used_basic,
            );
        }
        Err(e) => {
            tracing::error!(error = %e.detail(), "client authentication failed");
            let status = if matches!(e, crate::error::AppError::Unavailable) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            return oauth_error(status, "server_error", "try again shortly", false);
        }
    };
    let mut principal = principal;
    if let Some(scope) = form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
        if let Some(extra) = asked.iter().find(|s| !principal.scopes.contains(s)) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!(
                    "the scope {extra} is not granted to this client (granted: {})",
                    principal.scopes.join(" ")
                ),
                false,
            );
        }
        principal.scopes = asked;
    }
    match state.tokens.mint(&principal, None) {
        Ok(token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": state.tokens.ttl_seconds(),
                "scope": principal.scopes.join(" "),
            })),
        Err(e) => {
            tracing::error!(error = %e, "cannot mint a token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "this service cannot issue tokens (no signing key is configured)",
                false,
            )
        }
    }
}
