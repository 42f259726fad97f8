//! Our GraphQL-over-HTTP handler around async-graphql (the stock integration answers 200 to
//! everything, reads bodies without a limit, takes text/plain as JSON and runs mutations sent
//! over GET):
//! - POST with `application/json` only (415 otherwise), bodies up to the limit (413 beyond);
//! - GET for queries only (405 with `Allow: POST` for a mutation);
//! - `Accept` negotiated between `application/graphql-response+json` and `application/json`,
//!   with the spec's status codes: under the former a request that fails to parse or validate
//!   is a 400 without `data`;
//! - batches (JSON arrays) capped; an execution timeout; 503 with `Retry-After` when the
//!   database is unreachable.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use async_graphql::{
    BatchRequest, ErrorExtensionValues, Request, Response, ServerError, Variables,
    parser::types::OperationType,
};
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;

use super::error_body;
use super::request_id::RequestId as HttpRequestId;
use crate::auth::Caller;
use crate::config::Mode;
use crate::graphql::{
    CreditHubSchema, RequestId, Schemas,
    limits::{ExecutionTrace, IntrospectionOff},
    loaders::LoaderSlot,
};
use crate::idempotency::{self, Claim, Step};
use crate::records::loader::RecordLoader;
use crate::state::AppState;
use crate::subjects::loader::SubjectLoader;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const APPLICATION_JSON: &str = "application/json; charset=utf-8";

/// The media type the answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// `application/graphql-response+json`: status codes carry meaning.
    GraphqlResponse,
    /// `application/json`: 200 for every request that reached GraphQL.
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
            Self::Json => APPLICATION_JSON,
        }
    }
}

fn negotiate(req: &HttpRequest) -> Result<Media, HttpResponse> {
    let Some(accept) = req.headers().get(header::ACCEPT) else {
        return Ok(Media::Json);
    };
    let accept = accept.to_str().unwrap_or_default().to_ascii_lowercase();
    let mut json = false;
    for item in accept.split(',') {
        let mut params = item.split(';');
        let media = params.next().unwrap_or_default().trim();
        let refused = params.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        match media {
            "application/graphql-response+json" => return Ok(Media::GraphqlResponse),
            "application/json" | "application/*" | "*/*" => json = true,
            _ => {}
        }
    }
    if json {
        Ok(Media::Json)
    } else {
        Err(error_body(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            "this endpoint answers application/graphql-response+json or application/json; \
             send an Accept header naming one of them",
        ))
    }
}

fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<HttpRequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// The schema for a caller, and whether it is the locked one (no introspection, no suggestions).
fn schema_for<'a>(
    schemas: &'a Schemas,
    state: &AppState,
    caller: &Caller,
) -> (&'a CreditHubSchema, bool) {
    if state.settings.mode == Mode::Production && matches!(caller, Caller::Anonymous) {
        (&schemas.locked, true)
    } else {
        (&schemas.open, false)
    }
}

fn set_code(error: &mut ServerError, code: &str) {
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    error.extensions = Some(ext);
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
}

fn code_of(error: &ServerError) -> String {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// What one execution needs besides its request.
#[derive(Clone, Copy)]
struct Run<'a> {
    schema: (&'a CreditHubSchema, bool),
    caller: &'a Caller,
    request_id: &'a str,
    timeout: Duration,
    media: Media,
}

/// One executed request: its response, and whether it got past validation.
struct Outcome {
    response: Response,
    executed: bool,
    timed_out: bool,
}

/// Executes one GraphQL request, in place: on the HTTP worker that read it, on SQLite and on
/// PostgreSQL alike. A panic is an INTERNAL answer, not a worker gone.
///
/// On PostgreSQL, executions used to move to the service's multi-threaded runtime, where the
/// pool's connections lived: an HTTP worker (a single-threaded runtime of its own) waiting on a
/// socket another runtime opened is woken only when that one next polls for events. The hot
/// path now reads on a connection of the worker's own (`hot_path`), and the move cost two
/// wake-ups of another thread per check (there, and back with the answer), each a core woken
/// from sleep on a virtual machine. Measured on 2 cores, PostgreSQL, 1,000,000 subjects
/// (`benches/eligibility`, alternating runs of 20 s, the same binary): 32 connections
/// 12,334–12,671 → 13,657–14,317 checks/s, the server's CPU per check 60–61 → 45–46 µs; at a
/// fixed 2,500 checks/s the server's own mean 653–675 → 459–462 µs, oha's p99 2.31–2.37 →
/// 1.91–2.00 ms. SQLite's connections answer through channels from threads of their own, bound
/// to no runtime, and its hot path reads on the worker's thread: there the move only ever added
/// latency. A pool connection an execution opens is bound to its worker's runtime; a writer on
/// the service's runtime that later takes it is woken through that worker (at once when the
/// worker is idle); once the workers have stopped, its next statement fails and sqlx closes
/// it. The read audit, which writes after the node's last request, has a pool of its own on
/// the service's runtime (`db::connect_audit_writer`).
async fn execute(run: Run<'_>, request: Request) -> Outcome {
    let executed = AssertUnwindSafe(execute_here(
        run.schema.0,
        run.schema.1,
        run.caller,
        run.request_id,
        run.timeout,
        request,
    ))
    .catch_unwind()
    .await;
    executed.unwrap_or_else(|_| {
        // The panic itself was printed by the panic hook, with its place.
        tracing::error!(request_id = run.request_id, "a GraphQL execution panicked");
        let mut error = ServerError::new(
            "an internal error occurred; quote the request id when reporting it",
            None,
        );
        set_code(&mut error, "INTERNAL");
        Outcome {
            response: Response::from_errors(vec![error]),
            executed: false,
            timed_out: false,
        }
    })
}

async fn execute_here(
    schema: &CreditHubSchema,
    locked: bool,
    caller: &Caller,
    request_id: &str,
    timeout: Duration,
    request: Request,
) -> Outcome {
    let trace = Arc::new(ExecutionTrace::default());
    let mut request = request;
    if locked {
        request = request.data(IntrospectionOff);
    }
    let request = request
        .data(caller.clone())
        .data(RequestId(request_id.to_owned()))
        .data(LoaderSlot::<SubjectLoader>::default())
        .data(LoaderSlot::<RecordLoader>::default())
        .data(trace.clone());
    let (mut response, timed_out) =
        match tokio::time::timeout(timeout, schema.execute(request)).await {
            Ok(response) => (response, false),
            Err(_) => {
                let mut error = ServerError::new(
                    format!(
                        "the request did not finish within {} s and was stopped",
                        timeout.as_secs()
                    ),
                    None,
                );
                set_code(&mut error, "TIMEOUT");
                (Response::from_errors(vec![error]), true)
            }
        };
    let executed = trace.executed() && !timed_out;
    if executed {
        response.extensions.insert(
            "cost".into(),
            async_graphql::Value::from(trace.cost() as u64),
        );
    }
    for error in &mut response.errors {
        if has_code(error) {
            continue;
        }
        if !executed {
            set_code(error, "GRAPHQL_VALIDATION_FAILED");
        } else if error.message.starts_with("Failed to parse")
            || error.message.starts_with("Invalid value")
        {
            set_code(error, "BAD_USER_INPUT");
        } else {
            // Not one of ours: never let its text out.
            tracing::error!(message = %error.message, "uncoded error during execution");
            error.message =
                "an internal error occurred; quote the request id when reporting it".into();
            set_code(error, "INTERNAL");
        }
    }
    for error in &response.errors {
        super::metrics::count_error(&code_of(error));
    }
    Outcome {
        response,
        executed,
        timed_out,
    }
}

fn status_of(outcome: &Outcome, media: Media) -> StatusCode {
    if outcome.timed_out {
        return StatusCode::GATEWAY_TIMEOUT;
    }
    if outcome
        .response
        .errors
        .iter()
        .any(|e| code_of(e) == "SERVICE_UNAVAILABLE")
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if !outcome.executed && media == Media::GraphqlResponse {
        return StatusCode::BAD_REQUEST;
    }
    StatusCode::OK
}

fn respond(status: StatusCode, media: Media, body: Vec<u8>) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder.content_type(media.content_type());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        builder.insert_header((header::RETRY_AFTER, "5"));
    }
    builder.body(body)
}

/// The body of one response, serialized as it stands (no JSON tree built on the way): the
/// errors first, as the spec suggests; then the data, none at all for a request that never
/// executed (spec §7.1); then the extensions.
struct Body<'a>(&'a Outcome);

impl serde::Serialize for Body<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let response = &self.0.response;
        let mut map = serializer.serialize_map(None)?;
        if !response.errors.is_empty() {
            map.serialize_entry("errors", &response.errors)?;
        }
        if self.0.executed {
            map.serialize_entry("data", &response.data)?;
        }
        if !response.extensions.is_empty() {
            map.serialize_entry("extensions", &response.extensions)?;
        }
        map.end()
    }
}

fn serialize(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| {
        br#"{"errors":[{"message":"the answer could not be serialized","extensions":{"code":"INTERNAL"}}]}"#
            .to_vec()
    })
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, HttpResponse> {
    let too_large = || {
        error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MAX_COST_EXCEEDED",
            &format!("the request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Reserve what the client announced (bounded by the limit) instead of growing by chunks.
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the request body could not be read",
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// POST /graphql
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    schemas: web::Data<Schemas>,
) -> HttpResponse {
    let media = match negotiate(&req) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let caller = match super::auth::caller(&req, &state.tokens) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let is_json = matches!(req.mime_type(), Ok(Some(m)) if m.essence_str() == "application/json");
    if !is_json {
        let mut response = error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql takes Content-Type: application/json with a body like \
             {\"query\": \"…\", \"variables\": {…}}",
        );
        response.headers_mut().insert(
            header::ACCEPT,
            header::HeaderValue::from_static("application/json"),
        );
        return response;
    }
    let body = match read_body(&req, payload, state.settings.body_limit_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!(
                    "the body is not a GraphQL request (a JSON object with a \"query\" string, \
                     optional \"operationName\" and \"variables\"): {e}"
                ),
            );
        }
    };
    let schema = schema_for(&schemas, &state, &caller);
    let timeout = Duration::from_secs(state.settings.execution_timeout_seconds);
    let id = request_id(&req);
    let run = Run {
        schema,
        caller: &caller,
        request_id: &id,
        timeout,
        media,
    };
    match batch {
        BatchRequest::Single(request) => {
            let key = match idempotency_key(&req, &caller, &schemas, &request) {
                Ok(k) => k,
                Err(r) => return r,
            };
            let Some((client, key)) = key else {
                let outcome = execute(run, request).await;
                let status = status_of(&outcome, media);
                return respond(status, media, serialize(&Body(&outcome)));
            };
            keyed(&state, run, request, &body, client, key).await
        }
        BatchRequest::Batch(requests) => {
            if req.headers().contains_key("idempotency-key") {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    "an Idempotency-Key names one request: send batched mutations one by one",
                );
            }
            let max = state.settings.max_batch;
            if requests.is_empty() || requests.len() > max {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    "MAX_COST_EXCEEDED",
                    &format!(
                        "a batch holds 1 to {max} requests; this one holds {}",
                        requests.len()
                    ),
                );
            }
            let mut outcomes = Vec::with_capacity(requests.len());
            for request in requests {
                outcomes.push(execute(run, request).await);
            }
            let status = if outcomes
                .iter()
                .any(|o| status_of(o, media) == StatusCode::SERVICE_UNAVAILABLE)
            {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            let responses: Vec<Body> = outcomes.iter().map(Body).collect();
            respond(status, media, serialize(&responses))
        }
    }
}

/// A request under an Idempotency-Key: it claims its key before it runs (a retry gets the first
/// answer, another body under the key 422, a retry while it runs 409), and its answer is kept
/// once it decided something, or the key released when it did not.
async fn keyed(
    state: &AppState,
    run: Run<'_>,
    request: Request,
    body: &[u8],
    client: String,
    key: String,
) -> HttpResponse {
    let lease = chrono::Duration::seconds(
        i64::try_from(state.settings.execution_timeout_seconds).unwrap_or(60) + 5,
    );
    let keep =
        chrono::Duration::hours(i64::try_from(state.settings.idempotency_key_hours).unwrap_or(24));
    let hash = crate::digest::sha256_hex(body);
    let claim = state
        .idempotency
        .submit(Step::Claim {
            client: client.clone(),
            key: key.clone(),
            hash,
            lease,
            keep,
        })
        .await;
    match claim {
        Ok(Some(Claim::Run)) => {}
        Ok(Some(Claim::Replay { status, body })) => {
            let mut response = respond(
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                run.media,
                body.into_bytes(),
            );
            response.headers_mut().insert(
                header::HeaderName::from_static("idempotency-replayed"),
                header::HeaderValue::from_static("true"),
            );
            return response;
        }
        Ok(Some(Claim::Mismatch)) => {
            return error_body(
                StatusCode::UNPROCESSABLE_ENTITY,
                "BAD_USER_INPUT",
                "this Idempotency-Key was used before with another request body; \
                 use a new key for a new request",
            );
        }
        Ok(Some(Claim::InFlight) | None) => {
            let mut response = error_body(
                StatusCode::CONFLICT,
                "CONFLICT",
                "a request with this Idempotency-Key is still running; \
                 retry after it has answered to get its answer",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return response;
        }
        Err(e) => {
            let code = if matches!(e, crate::error::AppError::Unavailable) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                tracing::error!(error = %e.detail(), "idempotency key claim failed");
                StatusCode::INTERNAL_SERVER_ERROR
            };
            let mut response = error_body(
                code,
                if code == StatusCode::SERVICE_UNAVAILABLE {
                    "SERVICE_UNAVAILABLE"
                } else {
                    "INTERNAL"
                },
                "the Idempotency-Key could not be checked; retry with the same key",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            return response;
        }
    }
    let outcome = execute(run, request).await;
    let status = status_of(&outcome, run.media);
    let body = serialize(&Body(&outcome));
    let kept = if decided(&outcome) {
        let text = String::from_utf8_lossy(&body).into_owned();
        Step::Complete {
            client,
            key,
            status: status.as_u16(),
            body: text,
        }
    } else {
        Step::Release { client, key }
    };
    if let Err(e) = state.idempotency.submit(kept).await {
        // The answer still goes out; a retry after the lease runs the mutation again
        // and its natural key answers it as a replay.
        tracing::warn!(error = %e.detail(), "the answer to an Idempotency-Key could not be kept");
    }
    respond(status, run.media, body)
}

/// Whether an answer decided something and may be replayed: not a timeout, an unreachable
/// database or an internal fault, after which a retry must run again.
fn decided(outcome: &Outcome) -> bool {
    outcome.executed
        && !outcome.timed_out
        && !outcome.response.errors.iter().any(|e| {
            matches!(
                code_of(e).as_str(),
                "INTERNAL" | "SERVICE_UNAVAILABLE" | "TIMEOUT"
            )
        })
}

/// The client and key of a mutation sent with an `Idempotency-Key` header; `None` without the
/// header or for a query (which is safe to repeat anyway).
fn idempotency_key(
    req: &HttpRequest,
    caller: &Caller,
    schemas: &Schemas,
    request: &Request,
) -> Result<Option<(String, String)>, HttpResponse> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    if let Err(message) = idempotency::check_key(key) {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &message,
        ));
    }
    let is_mutation = schemas
        .documents
        .operation_type(&request.query, request.operation_name.as_deref())
        == Some(OperationType::Mutation);
    if !is_mutation {
        return Ok(None);
    }
    let Some(principal) = caller.principal() else {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "an Idempotency-Key is kept per client: send it with a bearer token",
        ));
    };
    Ok(Some((
        format!("{}/{}", principal.organization, principal.client_id),
        key.to_owned(),
    )))
}

#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// GET /graphql — queries only.
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    schemas: web::Data<Schemas>,
) -> HttpResponse {
    let media = match negotiate(&req) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let caller = match super::auth::caller(&req, &state.tokens) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let params = match web::Query::<GetParams>::from_query(req.query_string()) {
        Ok(p) => p.into_inner(),
        Err(_) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "the query string could not be read",
            );
        }
    };
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        return error_body(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "GET /graphql needs a `query` parameter (GraphiQL is at /graphiql)",
        );
    };
    if query.len() > state.settings.max_query_bytes {
        return error_body(
            StatusCode::BAD_REQUEST,
            "MAX_COST_EXCEEDED",
            &format!(
                "the query text is longer than {} bytes",
                state.settings.max_query_bytes
            ),
        );
    }
    if let Some(ty) = schemas
        .documents
        .operation_type(&query, params.operation_name.as_deref())
        && ty != OperationType::Query
    {
        let mut response = error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "GET /graphql runs queries only; send mutations with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let mut request = Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    for (field, raw) in [
        ("variables", &params.variables),
        ("extensions", &params.extensions),
    ] {
        if let Some(raw) = raw {
            let value: serde_json::Value = match serde_json::from_str(raw) {
                Ok(v) => v,
                Err(_) => {
                    return error_body(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        &format!("the `{field}` parameter must be a JSON object"),
                    );
                }
            };
            if field == "variables" {
                request = request.variables(Variables::from_json(value));
            }
        }
    }
    let id = request_id(&req);
    let run = Run {
        schema: schema_for(&schemas, &state, &caller),
        caller: &caller,
        request_id: &id,
        timeout: Duration::from_secs(state.settings.execution_timeout_seconds),
        media,
    };
    let outcome = execute(run, request).await;
    let status = status_of(&outcome, media);
    respond(status, media, serialize(&Body(&outcome)))
}
