//! Reading the caller from the `Authorization` header. A bad token is an error, never anonymous.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header};

use crate::auth::Caller;
use crate::auth::token::TokenKeys;

/// The caller of a request: anonymous without an `Authorization` header, authenticated with a
/// valid bearer token, and a 401 answer for anything else.
pub fn caller(req: &HttpRequest, keys: &TokenKeys) -> Result<Caller, HttpResponse> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let Ok(value) = value.to_str() else {
        return Err(unauthorized("the Authorization header is not valid text"));
    };
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default().trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(unauthorized(
            "use the header `Authorization: Bearer <token>`; get a token at POST /oauth/token",
        ));
    }
    keys.verify(token)
        .map(Caller::Authenticated)
        .map_err(|rejected| unauthorized(&rejected.0))
}

/// A 401 with a GraphQL-shaped body and the RFC 6750 challenge.
pub fn unauthorized(message: &str) -> HttpResponse {
    let mut response = super::error_body(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
    let challenge = format!(
        "Bearer realm=\"credit-hub\", error=\"invalid_token\", error_description=\"{}\"",
        message.replace('"', "'")
    );
    if let Ok(value) = header::HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}
