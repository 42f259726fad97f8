//! Commitments: recorded once however often a partner retries (by externalId and by the
//! Idempotency-Key header), verified by the responsible department — a breach enters the credit
//! record and moves the rating in the same transaction — withdrawn, listed when overdue, public
//! as 信用承诺公示 with typical cases, and each step allowed only to its roles.

use credit_hub::auth::Role;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Answer, Backend, TestApp, days_ago, read, register, spawn_app};

const TOWN: &str = "360404104000";
const FOOD: &str = "91350100M000100Y43";
const PERSON: &str = "360404198001010012";

const RECORD: &str = r#"mutation ($input: RecordCommitmentInput!) { recordCommitment(input: $input) {
  replayed commitment { id externalId kind status department recordedBy verifyBy overdue }
  userErrors { field code message } } }"#;

const VERIFY: &str = r#"mutation ($input: VerifyCommitmentInput!) { verifyCommitment(input: $input) {
  commitment { id status verifiedOn verifiedBy verificationNote
    breachRecord { id item category severity department sourceRef isPublic } }
  userErrors { field code message } } }"#;

const WITHDRAW: &str = r#"mutation ($input: WithdrawCommitmentInput!) { withdrawCommitment(input: $input) {
  commitment { id status withdrawnReason } userErrors { field code message } } }"#;

const MARK: &str = r#"mutation ($input: MarkTypicalCommitmentInput!) { markTypicalCommitment(input: $input) {
  commitment { id typicalCase typicalNote } userErrors { field code message } } }"#;

const LIST: &str = r#"query ($filter: CommitmentFilterInput) { commitments(filter: $filter, first: 100) {
  totalCount edges { node { id externalId status typicalCase matter } } } }"#;

fn commitment(external_id: &str) -> Value {
    json!({
        "externalId": external_id,
        "subjectCode": FOOD,
        "kind": "CERTIFICATION_NOTIFICATION",
        "matter": "食品经营许可",
        "content": "本单位承诺所提交的食品安全管理制度材料真实有效，如有不实愿承担相应责任。",
        "verifyBy": days_ago(-30).to_string(),
        "department": "MARKET_REGULATION",
    })
}

async fn setup(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    register(
        &app,
        json!([
            {"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"},
            {"kind": "NATURAL_PERSON", "code": PERSON, "name": "王小明", "regionCode": TOWN},
        ]),
    )
    .await;
    app
}

/// Records as a role and answers the payload, asserting no top-level error.
async fn record(app: &TestApp, role: Role, input: Value) -> Value {
    let answer = app.as_role(role, RECORD, json!({ "input": input })).await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["recordCommitment"].clone()
}

fn user_error(payload: &Value) -> (String, String) {
    let e = &payload["userErrors"][0];
    (
        e["field"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .unwrap_or_default(),
        e["code"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn fifty_concurrent_retries_record_one_commitment(backend: Backend) {
    let app = setup(backend).await;
    let token = app.token(Role::Partner);
    let sends = (0..50).map(|_| {
        app.graphql(
            Some(&token),
            RECORD,
            json!({ "input": commitment("ASSOC-2026-0001") }),
        )
    });
    let answers: Vec<Answer> = join_all(sends).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text);
        let p = &a.body["data"]["recordCommitment"];
        assert!(p["userErrors"].as_array().is_some_and(Vec::is_empty), "{p}");
        ids.push(
            p["commitment"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        if p["replayed"] == false {
            created += 1;
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same commitment");
    assert_eq!(created, 1, "exactly one answer created it");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM commitment").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'recordCommitment'")
            .await,
        1
    );

    // The same externalId with other content is a conflict, and stores nothing.
    let mut changed = commitment("ASSOC-2026-0001");
    changed["content"] = json!("另一份承诺");
    let p = record(&app, Role::Partner, changed).await;
    assert!(p["commitment"].is_null(), "{p}");
    assert_eq!(
        user_error(&p),
        ("externalId".to_owned(), "CONFLICT".to_owned())
    );
    // The same externalId from another organization is another commitment.
    let p = record(&app, Role::ApprovalHall, commitment("ASSOC-2026-0001")).await;
    assert_eq!(p["replayed"], false, "{p}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM commitment").await, 2);
}

async fn send_with_key(app: &TestApp, token: Option<&str>, key: &str, body: &str) -> Answer {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read(request.send().await.expect("send")).await
}

async fn an_idempotency_key_replays_the_first_answer(backend: Backend) {
    let app = setup(backend).await;
    let token = app.token(Role::Partner);
    let body =
        json!({ "query": RECORD, "variables": { "input": commitment("ASSOC-KEY-1") } }).to_string();
    let key = "0b7d0d2e-8a1f-4c8e-9d3c-5f6a7b8c9d0e";
    let answers: Vec<Answer> =
        join_all((0..50).map(|_| send_with_key(&app, Some(&token), key, &body))).await;
    let mut first: Option<String> = None;
    for a in &answers {
        match a.status {
            // The first answer, or its replay: never a second execution (which would say
            // `replayed: true` from the externalId).
            200 => {
                assert_eq!(
                    a.body["data"]["recordCommitment"]["replayed"], false,
                    "{}",
                    a.text
                );
                if let Some(text) = &first {
                    assert_eq!(text, &a.text);
                }
                first.get_or_insert_with(|| a.text.clone());
            }
            409 => assert_eq!(a.code(), Some("CONFLICT"), "{}", a.text),
            other => panic!("unexpected status {other}: {}", a.text),
        }
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'recordCommitment'")
            .await,
        1,
        "the mutation ran once"
    );
    // Once the first has answered, a retry gets its answer again, flagged as a replay.
    let again = send_with_key(&app, Some(&token), key, &body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    if let Some(text) = &first {
        assert_eq!(&again.text, text);
    }

    // The same key with another body is refused; the key of another client is its own.
    let other =
        json!({ "query": RECORD, "variables": { "input": commitment("ASSOC-KEY-2") } }).to_string();
    let refused = send_with_key(&app, Some(&token), key, &other).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.code(), Some("BAD_USER_INPUT"));
    let hall = app.token(Role::ApprovalHall);
    let theirs = send_with_key(&app, Some(&hall), key, &other).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(theirs.header("idempotency-replayed"), None);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM commitment").await, 2);

    // A query ignores the header; a bad key, an anonymous key and a batch are refused.
    let query = json!({ "query": "{ viewer { role } }" }).to_string();
    let q1 = send_with_key(&app, Some(&token), "q", &query).await;
    let q2 = send_with_key(&app, Some(&token), "q", &query).await;
    assert_eq!((q1.status, q2.status), (200, 200));
    assert_eq!(q2.header("idempotency-replayed"), None);
    let bad = send_with_key(&app, Some(&token), "has space", &body).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.message().contains("Idempotency-Key"), "{}", bad.text);
    let anonymous = send_with_key(&app, None, "anon-1", &body).await;
    assert_eq!(anonymous.status, 400, "{}", anonymous.text);
    let batch = send_with_key(&app, Some(&token), "batch-1", &format!("[{body}]")).await;
    assert_eq!(batch.status, 400, "{}", batch.text);
}

async fn rating_of(app: &TestApp) -> Value {
    let answer = app
        .as_role(
            Role::Bank,
            r#"query ($code: String!) { subject(code: $code) {
              rating { score grade cause factors { rule recordId points } } } }"#,
            json!({ "code": FOOD }),
        )
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["subject"]["rating"].clone()
}

async fn a_breach_enters_the_record_and_moves_the_rating(backend: Backend) {
    let app = setup(backend).await;
    let before = rating_of(&app).await;
    assert_eq!(
        (before["score"].as_i64(), before["grade"].as_str()),
        (Some(1000), Some("A"))
    );
    let kept = record(&app, Role::ApprovalHall, commitment("HALL-1")).await;
    let broken = record(&app, Role::ApprovalHall, commitment("HALL-2")).await;
    let kept_id = kept["commitment"]["id"].clone();
    let broken_id = broken["commitment"]["id"].clone();
    assert_eq!(kept["commitment"]["status"], "PENDING_VERIFICATION");

    // Kept: FULFILLED, no record, the rating stays.
    let answer = app
        .as_role(
            Role::Department,
            VERIFY,
            json!({"input": {"id": kept_id, "outcome": "FULFILLED", "note": "现场核查属实"}}),
        )
        .await;
    let p = &answer.body["data"]["verifyCommitment"];
    assert_eq!(p["commitment"]["status"], "FULFILLED", "{}", answer.text);
    assert!(p["commitment"]["breachRecord"].is_null());
    assert_eq!(rating_of(&app).await["score"], 1000);

    // Broken: BREACHED, a COMMITMENT_BREACH record of the department, public, and the next read
    // of the rating shows it, explained to the record.
    let answer = app
        .as_role(
            Role::Department,
            VERIFY,
            json!({"input": {"id": broken_id, "outcome": "BREACHED", "note": "核查发现承诺材料与实际不符"}}),
        )
        .await;
    let c = &answer.body["data"]["verifyCommitment"]["commitment"];
    assert_eq!(c["status"], "BREACHED", "{}", answer.text);
    assert_eq!(c["verifiedBy"], "MARKET_REGULATION");
    let record = &c["breachRecord"];
    assert_eq!(record["item"], "COMMITMENT_BREACH", "{}", answer.text);
    assert_eq!(record["category"], "COMMITMENT_BREACH");
    assert_eq!(record["severity"], "GENERAL");
    assert_eq!(record["department"], "MARKET_REGULATION");
    assert_eq!(record["isPublic"], true);
    let after = rating_of(&app).await;
    assert_eq!(
        (
            after["score"].as_i64(),
            after["grade"].as_str(),
            after["cause"].as_str()
        ),
        (Some(920), Some("B"), Some("COMMITMENT")),
        "{after}"
    );
    assert_eq!(after["factors"][0]["rule"], "COMMITMENT_BREACH");
    assert_eq!(after["factors"][0]["points"], -80);
    assert_eq!(after["factors"][0]["recordId"], record["id"]);
    // The public sees the breach in the subject's record.
    let public = app
        .graphql(
            None,
            r#"query ($code: String!) { subject(code: $code) {
              records(category: COMMITMENT_BREACH) { totalCount edges { node { item } } } } }"#,
            json!({"code": FOOD}),
        )
        .await;
    assert_eq!(
        public.body["data"]["subject"]["records"]["totalCount"], 1,
        "{}",
        public.text
    );

    // Verified once only.
    let again = app
        .as_role(
            Role::Department,
            VERIFY,
            json!({"input": {"id": broken_id, "outcome": "FULFILLED", "note": "再次核查"}}),
        )
        .await;
    let p = &again.body["data"]["verifyCommitment"];
    assert_eq!(
        user_error(p),
        ("id".to_owned(), "INVALID_STATE".to_owned()),
        "{}",
        again.text
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM credit_record WHERE item_code = 'COMMITMENT_BREACH'")
            .await,
        1
    );
}

async fn each_step_is_allowed_only_to_its_roles(backend: Backend) {
    let app = setup(backend).await;
    // Who may record.
    for role in [Role::Bank, Role::App] {
        let a = app
            .as_role(role, RECORD, json!({"input": commitment("X-1")}))
            .await;
        assert_eq!(a.code(), Some("FORBIDDEN"), "{role:?}: {}", a.text);
    }
    let a = app
        .graphql(None, RECORD, json!({"input": commitment("X-1")}))
        .await;
    assert_eq!(a.code(), Some("UNAUTHENTICATED"), "{}", a.text);
    // Rules name their field.
    let mut early = commitment("X-2");
    early["madeOn"] = json!(days_ago(3).to_string());
    early["verifyBy"] = json!(days_ago(4).to_string());
    let p = record(&app, Role::Partner, early).await;
    assert_eq!(
        user_error(&p),
        ("verifyBy".to_owned(), "INVALID_DATE".to_owned())
    );
    let mut nowhere = commitment("X-3");
    nowhere["department"] = json!("NO_SUCH_DEPARTMENT");
    let p = record(&app, Role::Partner, nowhere).await;
    assert_eq!(
        user_error(&p),
        ("department".to_owned(), "NOT_FOUND".to_owned())
    );
    let mut bank = commitment("X-4");
    bank["department"] = json!("JIUJIANG_BANK");
    let p = record(&app, Role::Partner, bank).await;
    assert_eq!(
        user_error(&p),
        ("department".to_owned(), "NOT_ALLOWED".to_owned())
    );

    let partner = record(&app, Role::Partner, commitment("P-1")).await;
    let partner_id = partner["commitment"]["id"].clone();
    let mut overdue = commitment("P-2");
    overdue["madeOn"] = json!(days_ago(20).to_string());
    overdue["verifyBy"] = json!(days_ago(1).to_string());
    let overdue = record(&app, Role::Partner, overdue).await;
    assert_eq!(overdue["commitment"]["overdue"], true, "{overdue}");
    let mut person = commitment("P-3");
    person["subjectCode"] = json!(PERSON);
    let person = record(&app, Role::Partner, person).await;
    assert!(person["commitment"]["id"].is_string(), "{person}");

    // Verification: another department cannot see it to verify; a partner may not verify.
    let taxation = app.token_for(Role::Department, "TAXATION");
    let a = app
        .graphql(
            Some(&taxation),
            VERIFY,
            json!({"input": {"id": partner_id, "outcome": "FULFILLED", "note": "x"}}),
        )
        .await;
    assert_eq!(
        user_error(&a.body["data"]["verifyCommitment"]),
        ("id".to_owned(), "NOT_FOUND".to_owned()),
        "{}",
        a.text
    );
    let a = app
        .as_role(
            Role::Partner,
            VERIFY,
            json!({"input": {"id": partner_id, "outcome": "FULFILLED", "note": "x"}}),
        )
        .await;
    assert_eq!(a.code(), Some("FORBIDDEN"), "{}", a.text);

    // Overdue: the responsible department's list, nobody else's.
    let overdue_query =
        "{ overdueCommitments { totalCount edges { node { externalId overdue } } } }";
    let mine = app
        .as_role(Role::Department, overdue_query, json!({}))
        .await;
    let list = &mine.body["data"]["overdueCommitments"];
    assert_eq!(list["totalCount"], 1, "{}", mine.text);
    assert_eq!(list["edges"][0]["node"]["externalId"], "P-2");
    let theirs = app.graphql(Some(&taxation), overdue_query, json!({})).await;
    assert_eq!(
        theirs.body["data"]["overdueCommitments"]["totalCount"], 0,
        "{}",
        theirs.text
    );
    let peeking = app
        .graphql(
            Some(&taxation),
            "{ overdueCommitments(department: \"MARKET_REGULATION\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(peeking.code(), Some("FORBIDDEN"), "{}", peeking.text);
    let admin = app
        .as_role(
            Role::Admin,
            "{ overdueCommitments(department: \"MARKET_REGULATION\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(admin.body["data"]["overdueCommitments"]["totalCount"], 1);
    for role in [Role::Partner, Role::Bank] {
        let a = app.as_role(role, overdue_query, json!({})).await;
        assert_eq!(a.code(), Some("FORBIDDEN"), "{role:?}");
    }

    // Withdrawal: only the recorder (or an admin), only while pending.
    let a = app
        .as_role(
            Role::ApprovalHall,
            WITHDRAW,
            json!({"input": {"id": partner_id, "reason": "申请人撤回申请"}}),
        )
        .await;
    assert_eq!(
        user_error(&a.body["data"]["withdrawCommitment"]),
        ("id".to_owned(), "NOT_FOUND".to_owned())
    );
    let a = app
        .as_role(
            Role::Partner,
            WITHDRAW,
            json!({"input": {"id": partner_id, "reason": "申请人撤回申请"}}),
        )
        .await;
    assert_eq!(
        a.body["data"]["withdrawCommitment"]["commitment"]["status"], "WITHDRAWN",
        "{}",
        a.text
    );
    let a = app
        .as_role(
            Role::Department,
            VERIFY,
            json!({"input": {"id": partner_id, "outcome": "FULFILLED", "note": "x"}}),
        )
        .await;
    assert_eq!(
        user_error(&a.body["data"]["verifyCommitment"]),
        ("id".to_owned(), "INVALID_STATE".to_owned())
    );

    // The public listing: no withdrawn ones, no persons', no externalId; the partner sees its
    // own in full.
    let public = app.graphql(None, LIST, json!({})).await;
    let list = &public.body["data"]["commitments"];
    assert_eq!(list["totalCount"], 1, "{}", public.text);
    assert_eq!(list["edges"][0]["node"]["matter"], "食品经营许可");
    assert!(list["edges"][0]["node"]["externalId"].is_null());
    let own = app
        .as_role(
            Role::Partner,
            LIST,
            json!({"filter": {"recordedByMe": true}}),
        )
        .await;
    let list = &own.body["data"]["commitments"];
    assert_eq!(list["totalCount"], 3, "{}", own.text);
    let statuses: Vec<&str> = list["edges"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|n| n["node"]["status"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(statuses.contains(&"WITHDRAWN"), "{statuses:?}");
    assert!(list["edges"][0]["node"]["externalId"].is_string());

    // Typical cases: admins only, verified ones only, then listed publicly.
    let overdue_id = overdue["commitment"]["id"].clone();
    let a = app
        .as_role(
            Role::Department,
            MARK,
            json!({"input": {"id": overdue_id, "typical": true}}),
        )
        .await;
    assert_eq!(a.code(), Some("FORBIDDEN"), "{}", a.text);
    let a = app
        .as_role(
            Role::Admin,
            MARK,
            json!({"input": {"id": overdue_id, "typical": true}}),
        )
        .await;
    assert_eq!(
        user_error(&a.body["data"]["markTypicalCommitment"]),
        ("id".to_owned(), "INVALID_STATE".to_owned())
    );
    let a = app
        .as_role(
            Role::Department,
            VERIFY,
            json!({"input": {"id": overdue_id, "outcome": "FULFILLED", "note": "逾期后补充核查，属实"}}),
        )
        .await;
    assert!(a.body["errors"].is_null(), "{}", a.text);
    let a = app
        .as_role(
            Role::Admin,
            MARK,
            json!({"input": {"id": overdue_id, "typical": true, "note": "告知承诺践诺典型"}}),
        )
        .await;
    assert_eq!(
        a.body["data"]["markTypicalCommitment"]["commitment"]["typicalCase"], true,
        "{}",
        a.text
    );
    let typical = app
        .graphql(None, LIST, json!({"filter": {"typicalCase": true}}))
        .await;
    assert_eq!(
        typical.body["data"]["commitments"]["totalCount"], 1,
        "{}",
        typical.text
    );
    // By subject, and through node(id) as the public may see it.
    let by_subject = app
        .graphql(
            None,
            r#"query ($code: String!) { subject(code: $code) { commitments { totalCount } } }"#,
            json!({"code": FOOD}),
        )
        .await;
    assert_eq!(
        by_subject.body["data"]["subject"]["commitments"]["totalCount"], 1,
        "{}",
        by_subject.text
    );
    let node = app
        .graphql(
            None,
            r#"query ($id: ID!) { node(id: $id) { ... on Commitment { status typicalCase } } }"#,
            json!({"id": overdue_id}),
        )
        .await;
    assert_eq!(
        node.body["data"]["node"]["typicalCase"], true,
        "{}",
        node.text
    );
    let hidden = app
        .graphql(
            None,
            r#"query ($id: ID!) { node(id: $id) { id } }"#,
            json!({"id": partner_id}),
        )
        .await;
    assert!(
        hidden.body["data"]["node"].is_null(),
        "withdrawn: {}",
        hidden.text
    );
}

async fn the_demo_district_has_commitments_in_every_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let loaded = credit_hub::demo::load(&app.state).await.expect("demo");
    assert!(loaded.subjects >= 190, "{}", loaded.subjects);
    assert!(loaded.records > 0);
    assert_eq!(loaded.commitments, 10);
    let again = credit_hub::demo::load(&app.state)
        .await
        .expect("demo again");
    assert_eq!(
        (again.subjects, again.records, again.commitments),
        (0, 0, 0),
        "loading twice adds nothing"
    );
    for (status, n) in [
        ("PENDING_VERIFICATION", 5),
        ("FULFILLED", 3),
        ("BREACHED", 1),
        ("WITHDRAWN", 1),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM commitment WHERE status = '{status}'"
            ))
            .await,
            n,
            "{status}"
        );
    }
    let typical = app
        .graphql(None, LIST, json!({"filter": {"typicalCase": true}}))
        .await;
    assert_eq!(typical.body["data"]["commitments"]["totalCount"], 1);
    let transport = app.token_for(Role::Department, "TRANSPORT");
    let overdue = app
        .graphql(
            Some(&transport),
            "{ overdueCommitments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        overdue.body["data"]["overdueCommitments"]["totalCount"], 1,
        "{}",
        overdue.text
    );
    let breach = app
        .graphql(
            None,
            r#"{ commitments(filter: {status: BREACHED}) { edges { node { breachRecord { item isPublic } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        breach.body["data"]["commitments"]["edges"][0]["node"]["breachRecord"]["item"],
        "COMMITMENT_BREACH",
        "{}",
        breach.text
    );
}

/// A page reads its subjects through the request's loader: every node gets its own subject, a
/// person only for callers who may read persons, and a person read by one request is read (and
/// audited) once, however many of its commitments the page holds.
async fn a_page_reads_each_subject_once(backend: Backend) {
    let app = setup(backend).await;
    for n in 0..3 {
        record(&app, Role::ApprovalHall, commitment(&format!("F-{n}"))).await;
    }
    for n in 0..2 {
        let mut person = commitment(&format!("P-{n}"));
        person["subjectCode"] = json!(PERSON);
        record(&app, Role::ApprovalHall, person).await;
    }
    let audited = "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'readPerson'";
    let before = app.count(audited).await;
    let query = "{ commitments(first: 100) { edges { node { externalId subject { name } } } } }";
    let admin = app.as_role(Role::Admin, query, json!({})).await;
    let mut seen: Vec<(String, Value)> = admin.body["data"]["commitments"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .map(|e| {
                    (
                        e["node"]["externalId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        e["node"]["subject"]["name"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            ("F-0".to_owned(), json!("九江甲食品有限公司")),
            ("F-1".to_owned(), json!("九江甲食品有限公司")),
            ("F-2".to_owned(), json!("九江甲食品有限公司")),
            ("P-0".to_owned(), json!("王小明")),
            ("P-1".to_owned(), json!("王小明")),
        ],
        "{}",
        admin.text
    );
    assert_eq!(
        app.count(audited).await - before,
        1,
        "one person, read once"
    );
}

both!(
    fifty_concurrent_retries_record_one_commitment,
    an_idempotency_key_replays_the_first_answer,
    a_breach_enters_the_record_and_moves_the_rating,
    each_step_is_allowed_only_to_its_roles,
    the_demo_district_has_commitments_in_every_state,
    a_page_reads_each_subject_once,
);
