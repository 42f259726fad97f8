//! GraphQL over HTTP: methods, media types, status codes, limits, request ids.

use credit_hub::auth::Role;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, production, read, spawn_app, spawn_app_with};

async fn post_takes_json_only(backend: Backend) {
    let app = spawn_app(backend).await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .body(r#"{"query":"{ viewer { role } }"}"#);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let answer = read(request.send().await.expect("send")).await;
        assert_eq!(answer.status, 415, "{content_type:?}: {}", answer.text);
        assert_eq!(answer.code(), Some("UNSUPPORTED_MEDIA_TYPE"));
    }
    // application/json with a charset parameter is fine.
    let answer = read(
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json; charset=utf-8")
            .body(r#"{"query":"{ viewer { role } }"}"#)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["data"]["viewer"], json!(null));
}

async fn get_runs_queries_but_not_mutations(backend: Backend) {
    let app = spawn_app(backend).await;
    let answer = app
        .get_graphql(&[("query", "{ industries { code } }")], None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["data"]["industries"][0]["code"], "A");

    let mutation = "mutation { updateSubject(input: {code: \"91350100M000100Y43\", name: \"x\"}) { subject { name } } }";
    let answer = app
        .get_graphql(&[("query", mutation)], Some(&app.token(Role::Admin)))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.text);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert_eq!(answer.code(), Some("METHOD_NOT_ALLOWED"));

    // operationName selects among several operations; the mutation one is refused.
    let doc = "query Q { viewer { role } } mutation M { updateSubject(input: {code: \"x\"}) { userErrors { code } } }";
    let answer = app
        .get_graphql(&[("query", doc), ("operationName", "M")], None)
        .await;
    assert_eq!(answer.status, 405);
    let answer = app
        .get_graphql(&[("query", doc), ("operationName", "Q")], None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Executed once, the document is kept parsed; the refusal reads the kept one the same way.
    let answer = app
        .get_graphql(&[("query", doc), ("operationName", "M")], None)
        .await;
    assert_eq!(answer.status, 405, "{}", answer.text);
    assert_eq!(answer.code(), Some("METHOD_NOT_ALLOWED"));

    let answer = app.get("/graphql").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), Some("BAD_REQUEST"));
}

async fn accept_is_negotiated_with_the_specs_status_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let send = |accept: Option<&'static str>, body: &'static str| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        async move { read(request.send().await.expect("send")).await }
    };
    let invalid = r#"{"query":"{ noSuchField }"}"#;
    let answer = send(Some("application/graphql-response+json"), invalid).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/graphql-response+json"))
    );
    assert!(answer.body.get("data").is_none(), "{}", answer.text);
    assert_eq!(answer.code(), Some("GRAPHQL_VALIDATION_FAILED"));

    let answer = send(Some("application/json"), invalid).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    assert_eq!(answer.code(), Some("GRAPHQL_VALIDATION_FAILED"));

    let answer = send(None, invalid).await;
    assert_eq!(answer.status, 200, "no Accept means application/json");

    let answer = send(Some("text/html"), invalid).await;
    assert_eq!(answer.status, 406);

    let answer = send(
        Some("application/graphql-response+json"),
        r#"{"query":"{ viewer { role "}"#,
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), Some("GRAPHQL_PARSE_FAILED"));

    let answer = send(Some("application/graphql-response+json"), "not json").await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), Some("BAD_REQUEST"));

    // A valid query with graphql-response+json: 200 with data and its cost.
    let answer = send(
        Some("application/graphql-response+json"),
        r#"{"query":"{ industries { code } }"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.body["extensions"]["cost"]
            .as_u64()
            .is_some_and(|c| c > 0)
    );
}

async fn abusive_requests_are_refused_with_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    // A 5 MB body.
    let big = format!(
        r#"{{"query":"{{ viewer {{ role }} }}","pad":"{}"}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let answer = read(
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 413, "{}", answer.text);
    assert_eq!(answer.code(), Some("MAX_COST_EXCEEDED"));

    // 1000 aliases.
    let aliases: String = (0..1000)
        .map(|i| format!("a{i}: viewer {{ role }} "))
        .collect();
    let answer = app
        .graphql(None, &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(answer.code(), Some("MAX_COST_EXCEEDED"), "{}", answer.text);
    assert_eq!(answer.body["errors"][0]["extensions"]["limit"], "aliases");
    assert!(answer.body.get("data").is_none());

    // Depth 30.
    let deep = format!(
        "{{ {}name{} }}",
        "regions { parent { ".repeat(15),
        " } }".repeat(15)
    );
    let answer = app.graphql(None, &deep, json!({})).await;
    assert_eq!(answer.code(), Some("MAX_COST_EXCEEDED"), "{}", answer.text);
    assert_eq!(answer.body["errors"][0]["extensions"]["limit"], "depth");

    // A batch of 100 requests.
    let batch: Vec<_> = (0..100)
        .map(|_| json!({"query": "{ viewer { role } }"}))
        .collect();
    let answer = read(
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(serde_json::to_string(&batch).expect("json"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.code(), Some("MAX_COST_EXCEEDED"));

    // A small batch is answered in order.
    let batch = json!([{"query": "{ viewer { role } }"}, {"query": "{ industries { code } }"}]);
    let answer = read(
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(batch.to_string())
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body[1]["data"]["industries"][0]["code"], "A");

    // Page size above 100, and a complexity beyond the limit.
    let answer = app
        .graphql(None, "{ subjects(first: 101) { totalCount } }", json!({}))
        .await;
    assert_eq!(answer.code(), Some("BAD_USER_INPUT"), "{}", answer.text);
    assert!(answer.message().contains("first"));
    let costly = format!(
        "{{ {} }}",
        (0..30)
            .map(|i| format!("s{i}: subjects(first: 100) {{ edges {{ node {{ name code kind region {{ name }} }} }} }}"))
            .collect::<String>()
    );
    let answer = app.graphql(None, &costly, json!({})).await;
    assert_eq!(answer.code(), Some("MAX_COST_EXCEEDED"), "{}", answer.text);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["limit"],
        "complexity"
    );
}

async fn request_ids_are_echoed_or_made(backend: Backend) {
    let app = spawn_app(backend).await;
    let answer = read(
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", "bank-trace-42")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.header("x-request-id"), Some("bank-trace-42"));
    let answer = app.get("/healthz").await;
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| id.len() >= 32)
    );
    // An unusable id is replaced, not echoed.
    let answer = read(
        app.client
            .get(app.url("/healthz"))
            .header("x-request-id", "x".repeat(200))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| id.len() < 100)
    );
}

async fn production_hides_the_schema_from_anonymous_callers(backend: Backend) {
    let app = spawn_app_with(backend, production).await;
    let introspection = "{ __schema { queryType { name } } }";
    let answer = app.graphql(None, introspection, json!({})).await;
    assert!(answer.body["errors"].is_array(), "{}", answer.text);
    assert!(answer.body["data"]["__schema"].is_null(), "{}", answer.text);
    let answer = app
        .graphql(Some(&app.token(Role::Bank)), introspection, json!({}))
        .await;
    assert_eq!(
        answer.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
    // No field suggestions for anonymous callers.
    let answer = app.graphql(None, "{ viewr { role } }", json!({})).await;
    assert!(
        !answer.message().contains("Did you mean"),
        "{}",
        answer.text
    );
    let answer = app
        .graphql(
            Some(&app.token(Role::Bank)),
            "{ viewr { role } }",
            json!({}),
        )
        .await;
    assert!(answer.message().contains("Did you mean"), "{}", answer.text);
    // GraphiQL is off for anonymous callers.
    let answer = app.get("/graphiql").await;
    assert_eq!(answer.status, 404);
}

async fn graphiql_loads_and_its_introspection_fits_the_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app
        .client
        .get(app.url("/graphiql"))
        .send()
        .await
        .expect("send");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("graphiql"), "{html}");
    // GraphiQL's own introspection query must pass the depth and complexity limits.
    let answer = app
        .graphql(None, async_graphql_introspection_query(), json!({}))
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    assert_eq!(
        answer.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
}

/// The introspection query GraphiQL sends (graphql-js getIntrospectionQuery, with descriptions).
fn async_graphql_introspection_query() -> &'static str {
    r#"query IntrospectionQuery {
      __schema {
        queryType { name } mutationType { name } subscriptionType { name }
        types { ...FullType }
        directives { name description locations args { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description
      fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
      inputFields { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
    fragment TypeRef on __Type {
      kind name
      ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
    }"#
}

async fn kept_documents_answer_each_request_on_its_own(backend: Backend) {
    let app = spawn_app_with(backend, production).await;
    let bank = app.token(Role::Bank);
    // The same text with other variables: @include is decided per request, on a copy of the
    // document the node keeps.
    let query =
        "query($more: Boolean!) { viewer { role organization @include(if: $more) { code } } }";
    for more in [true, false, true] {
        let answer = app
            .graphql(Some(&bank), query, json!({ "more": more }))
            .await;
        let viewer = &answer.body["data"]["viewer"];
        assert_eq!(viewer["role"], "BANK", "{}", answer.text);
        assert_eq!(
            viewer.get("organization").is_some(),
            more,
            "more = {more}: {}",
            answer.text
        );
    }
    // A text an authenticated caller introspected with is still refused to anonymous callers,
    // and one that failed to parse fails again.
    let introspection = "{ __schema { queryType { name } } }";
    let answer = app.graphql(Some(&bank), introspection, json!({})).await;
    assert_eq!(
        answer.body["data"]["__schema"]["queryType"]["name"],
        "Query"
    );
    for _ in 0..2 {
        let answer = app.graphql(None, introspection, json!({})).await;
        assert_eq!(answer.code(), Some("FORBIDDEN"), "{}", answer.text);
        let answer = app
            .graphql(Some(&bank), "{ viewer { role ", json!({}))
            .await;
        assert_eq!(
            answer.code(),
            Some("GRAPHQL_PARSE_FAILED"),
            "{}",
            answer.text
        );
    }
}

async fn kept_validations_answer_as_a_full_one_would(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.token(Role::Admin);
    let query = "query($c: String!) { subject(code: $c) { name } }";
    let first = app
        .graphql(Some(&admin), query, json!({ "c": "91350100M000100Y43" }))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["data"]["subject"], json!(null), "{}", first.text);
    // Validated once, the text is kept with its result; variables of another kind still get
    // the answer a text never seen before gets (the same text with spaces after it).
    for (i, variables) in [
        json!({ "c": "91350100M000100Y43" }),
        json!({ "c": 5 }),
        json!({ "c": null }),
        json!({}),
        json!({ "c": ["91350100M000100Y43"] }),
        json!({ "c": "91350100M000100Y43", "extra": 1 }),
    ]
    .into_iter()
    .enumerate()
    {
        let kept = app.graphql(Some(&admin), query, variables.clone()).await;
        let fresh = format!("{query}{}", " ".repeat(i + 1));
        let fresh = app.graphql(Some(&admin), &fresh, variables.clone()).await;
        assert_eq!(kept.status, fresh.status, "{variables}");
        assert_eq!(kept.body, fresh.body, "{variables}");
    }
    let wrong = app.graphql(Some(&admin), query, json!({ "c": 5 })).await;
    assert_eq!(
        wrong.code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        wrong.text
    );
    // A cost computed from a variable is computed for each request.
    let page = "query($n: Int) { subjects(first: $n) { edges { node { name } } } }";
    let small = app.graphql(Some(&admin), page, json!({ "n": 5 })).await;
    assert!(small.body["errors"].is_null(), "{}", small.text);
    let large = app
        .graphql(Some(&admin), page, json!({ "n": 100_000 }))
        .await;
    assert_eq!(large.code(), Some("MAX_COST_EXCEEDED"), "{}", large.text);
}

both!(
    post_takes_json_only,
    get_runs_queries_but_not_mutations,
    accept_is_negotiated_with_the_specs_status_codes,
    abusive_requests_are_refused_with_codes,
    request_ids_are_echoed_or_made,
    production_hides_the_schema_from_anonymous_callers,
    graphiql_loads_and_its_introspection_fits_the_limits,
    kept_documents_answer_each_request_on_its_own,
    kept_validations_answer_as_a_full_one_would,
);
