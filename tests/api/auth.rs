//! Tokens and clients: bad tokens are refused with 401 and a clear message (never anonymous),
//! the client-credentials grant, RS256, and the development secret.

use credit_hub::auth::{Role, clients, token::Claims};
use credit_hub::config::JwtAlgorithm;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp, read, spawn_app, spawn_app_with};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(app: &TestApp) -> Claims {
    Claims {
        sub: "test-client".into(),
        org: "PLATFORM".into(),
        role: "ADMIN".into(),
        scopes: vec!["subjects:read".into()],
        iss: app.settings.jwt_issuer.clone(),
        aud: app.settings.jwt_audience.clone(),
        iat: now(),
        nbf: now(),
        exp: now() + 600,
        jti: "t".into(),
    }
}

fn sign(app: &TestApp, claims: &impl serde::Serialize) -> String {
    let secret = app.settings.jwt_secret.clone().expect("secret");
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

async fn viewer_with(app: &TestApp, token: &str) -> crate::helpers::Answer {
    app.graphql(Some(token), "{ viewer { role } }", json!({}))
        .await
}

async fn bad_tokens_get_401_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = claims(&app);

    let good = sign(&app, &base);
    let answer = viewer_with(&app, &good).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["data"]["viewer"]["role"], "ADMIN");

    let expired = sign(
        &app,
        &Claims {
            exp: now() - 3600,
            iat: now() - 7200,
            nbf: now() - 7200,
            ..base.clone()
        },
    );
    let wrong_audience = sign(
        &app,
        &Claims {
            aud: "someone-else".into(),
            ..base.clone()
        },
    );
    let wrong_issuer = sign(
        &app,
        &Claims {
            iss: "evil".into(),
            ..base.clone()
        },
    );
    let not_yet = sign(
        &app,
        &Claims {
            nbf: now() + 3600,
            ..base.clone()
        },
    );
    let wrong_key = encode(
        &Header::new(Algorithm::HS256),
        &base,
        &EncodingKey::from_secret(b"another-secret-that-is-long-enough-0123456789"),
    )
    .expect("sign");
    // alg none: a header and claims with an empty signature.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_string(&base).expect("json"))
    );
    let mut without_nbf = serde_json::to_value(&base).expect("json");
    without_nbf.as_object_mut().expect("object").remove("nbf");
    let without_nbf = sign(&app, &without_nbf);
    let mut without_sub = serde_json::to_value(&base).expect("json");
    without_sub.as_object_mut().expect("object").remove("sub");
    let without_sub = sign(&app, &without_sub);
    let unknown_role = sign(
        &app,
        &Claims {
            role: "ROOT".into(),
            ..base.clone()
        },
    );

    for (token, expect) in [
        (expired.as_str(), "expired"),
        (wrong_audience.as_str(), "audience"),
        (wrong_issuer.as_str(), "issuer"),
        (not_yet.as_str(), "not valid yet"),
        (wrong_key.as_str(), "signature"),
        (alg_none.as_str(), "none"),
        (without_nbf.as_str(), "nbf"),
        (without_sub.as_str(), "sub"),
        (unknown_role.as_str(), "role"),
        ("garbage", "well-formed"),
    ] {
        let answer = viewer_with(&app, token).await;
        assert_eq!(answer.status, 401, "{expect}: {}", answer.text);
        assert_eq!(answer.code(), Some("UNAUTHENTICATED"), "{expect}");
        assert!(
            answer.message().contains(expect),
            "{expect}: {}",
            answer.message()
        );
        assert!(
            answer
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer"))
        );
        assert!(
            answer.body.get("data").is_none(),
            "never treated as anonymous"
        );
    }
    // A scheme other than Bearer is refused too.
    let answer = read(
        app.client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .header("authorization", "Basic dXNlcjpwYXNz")
            .body(r#"{"query":"{ viewer { role } }"}"#)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 401);
}

async fn client_credentials_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = clients::create(app.db(), "JIUJIANG_BANK", Role::Bank, "loan system", None)
        .await
        .expect("create client");
    let token_url = app.url("/oauth/token");

    // HTTP Basic.
    let answer = read(
        app.client
            .post(&token_url)
            .basic_auth(&created.client_id, Some(&created.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let token = answer.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let viewer = app
        .graphql(
            Some(&token),
            "{ viewer { clientId role scopes organization { code kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        viewer.body["data"]["viewer"]["clientId"],
        created.client_id.as_str()
    );
    assert_eq!(viewer.body["data"]["viewer"]["role"], "BANK");
    assert_eq!(
        viewer.body["data"]["viewer"]["organization"]["code"],
        "JIUJIANG_BANK"
    );

    // Credentials in the body, with a narrower scope.
    let answer = read(
        app.client
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", created.client_id.as_str()),
                ("client_secret", created.secret.as_str()),
                ("scope", "subjects:read"),
            ])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["scope"], "subjects:read");

    for (form, status, error) in [
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", created.client_id.as_str()),
                ("client_secret", "wrong"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", created.client_id.as_str()),
                ("client_secret", created.secret.as_str()),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("client_id", created.client_id.as_str()),
                ("client_secret", created.secret.as_str()),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", created.client_id.as_str()),
                ("client_secret", created.secret.as_str()),
                ("scope", "admin"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
    ] {
        let answer = read(
            app.client
                .post(&token_url)
                .form(&form)
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(answer.status, status, "{form:?}: {}", answer.text);
        assert_eq!(answer.body["error"], error);
    }

    clients::disable(app.db(), &created.client_id)
        .await
        .expect("disable");
    let answer = read(
        app.client
            .post(&token_url)
            .basic_auth(&created.client_id, Some(&created.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic"))
    );

    // A client's role must fit its organization.
    let mismatch = clients::create(app.db(), "JIUJIANG_BANK", Role::Admin, "x", None).await;
    assert!(mismatch.is_err());
}

async fn rs256_with_a_public_key(backend: Backend) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let app = spawn_app_with(backend, |s| {
        s.jwt_algorithm = JwtAlgorithm::RS256;
        s.jwt_secret = None;
        s.jwt_public_key_file = Some(format!("{fixtures}/rs256-public.pem").into());
        s.jwt_private_key_file = Some(format!("{fixtures}/rs256-private.pem").into());
    })
    .await;
    let answer = viewer_with(&app, &app.token(Role::Department)).await;
    assert_eq!(
        answer.body["data"]["viewer"]["role"], "DEPARTMENT",
        "{}",
        answer.text
    );
    // An HS256 token is refused: one algorithm per key.
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims(&app),
        &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
    )
    .expect("sign");
    let answer = viewer_with(&app, &hs).await;
    assert_eq!(answer.status, 401);
    assert!(answer.message().contains("RS256"), "{}", answer.message());
}

async fn development_generates_and_keeps_its_secrets(backend: Backend) {
    let (mut settings, _cleanup) = crate::helpers::test_settings(&backend).await;
    settings.jwt_secret = None;
    settings.id_hash_key = None;
    let first = credit_hub::app::prepare_state(settings.clone())
        .await
        .expect("first start");
    let second = credit_hub::app::prepare_state(settings.clone())
        .await
        .expect("second start");
    let principal = credit_hub::auth::Principal {
        client_id: "cli".into(),
        organization: "PLATFORM".into(),
        role: Role::Admin,
        scopes: vec![],
    };
    let token = first.tokens.mint(&principal, None).expect("mint");
    assert!(
        second.tokens.verify(&token).is_ok(),
        "the stored secret is reused"
    );
    let id = credit_hub::subjects::rules::ResidentId::parse("11010519491231002X").expect("id");
    assert_eq!(
        first.person_keys.key("P", &id),
        second.person_keys.key("P", &id)
    );
    // Production refuses to start without configured secrets.
    settings.mode = credit_hub::config::Mode::Production;
    assert!(settings.check().is_err());
}

both!(
    bad_tokens_get_401_with_a_reason,
    client_credentials_grant,
    rs256_with_a_public_key,
    development_generates_and_keeps_its_secrets,
);
