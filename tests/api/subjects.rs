//! Subjects: bulk registration row by row, check codes, persons kept as keyed hashes, look-up,
//! listing, node ids, updates, the audit log, and every role against every operation.

use credit_hub::auth::Role;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, callers, spawn_app};

const REGISTER: &str = r#"mutation ($subjects: [SubjectInput!]!) {
  registerSubjects(input: {subjects: $subjects}) {
    createdCount alreadyKnownCount refusedCount
    results { index status subject { id code kind name } userErrors { field code message } }
    userErrors { field code message }
  }
}"#;

const TOWN: &str = "360404104000"; // 港口街镇
const VILLAGE: &str = "360404104206"; // 花园村, under 港口街镇
const OTHER_TOWN: &str = "360404101000"; // 马回岭镇

fn enterprise(code: &str, name: &str) -> Value {
    json!({"kind": "ENTERPRISE", "code": code, "name": name, "regionCode": TOWN, "industryCode": "C"})
}

async fn register(app: &TestApp, role: Role, subjects: Value) -> Value {
    let answer = app
        .as_role(role, REGISTER, json!({ "subjects": subjects }))
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["registerSubjects"].clone()
}

async fn a_batch_is_answered_row_by_row_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let rows = json!([
        enterprise("91350100M000100Y43", "九江测试食品有限公司"),
        enterprise("91350100M000100Y4A", "校验码错误"),
        enterprise("91350100M000100Y4", "少一位"),
        enterprise("91350100I000100Y43", "含字母I"),
        {"kind": "ENTERPRISE", "code": "91440101MA5CJQ4N59", "name": "未知地区", "regionCode": "110101000000", "industryCode": "C"},
        {"kind": "ENTERPRISE", "code": "91350200776049653A", "name": "未知行业", "regionCode": TOWN, "industryCode": "Z"},
        {"kind": "PUBLIC_INSTITUTION", "code": "913502000728319549", "name": "类别不符", "regionCode": TOWN, "industryCode": "C"},
        {"kind": "ENTERPRISE", "code": "9135021359498494XQ", "name": "  ", "regionCode": TOWN, "industryCode": "C"},
        {"kind": "ENTERPRISE", "code": "91350213678251743X", "name": "名".repeat(201), "regionCode": TOWN, "industryCode": "C"},
        enterprise("91350100M000100Y43", "同批重复"),
        {"kind": "NATURAL_PERSON", "code": "110105194912310021", "name": "身份证校验错", "regionCode": TOWN},
        {"kind": "NATURAL_PERSON", "code": "11010519491231002x", "name": "张三", "regionCode": VILLAGE},
        {"kind": "ENTERPRISE", "code": "91350203M0001QAY9B", "name": "早期代码", "regionCode": TOWN, "industryCode": "C", "checkWaiverReason": "early code"},
        {"kind": "PUBLIC_INSTITUTION", "code": "12100000400009880K", "name": "某事业单位", "regionCode": "36040410400", "industryCode": "P"},
    ]);
    let payload = register(&app, Role::Department, rows.clone()).await;
    let results = payload["results"].as_array().expect("results");
    assert_eq!(results.len(), 14);
    let status = |i: usize| results[i]["status"].as_str().unwrap_or_default().to_owned();
    let first_error = |i: usize| results[i]["userErrors"][0].clone();
    assert_eq!(status(0), "CREATED");
    assert_eq!(results[0]["subject"]["kind"], "ENTERPRISE");
    let expectations = [
        (1, "code", "INVALID_CHECK_CHARACTER", "check character"),
        (2, "code", "INVALID_FORMAT", "18 characters"),
        (3, "code", "INVALID_FORMAT", "'I'"),
        (4, "regionCode", "UNKNOWN_REGION", "110101000000"),
        (5, "industryCode", "INVALID_FORMAT", "A-T"),
        (6, "kind", "KIND_MISMATCH", "ENTERPRISE"),
        (7, "name", "REQUIRED", "required"),
        (8, "name", "TOO_LONG", "200"),
        (9, "code", "DUPLICATE_IN_BATCH", "row 0"),
        (10, "code", "INVALID_CHECK_CHARACTER", "GB 11643"),
        (12, "checkWaiverReason", "NOT_ALLOWED", "ADMIN"),
        (13, "regionCode", "INVALID_FORMAT", "12 digits"),
    ];
    for (i, field, code, words) in expectations {
        assert_eq!(status(i), "REFUSED", "row {i}: {}", results[i]);
        let error = first_error(i);
        assert_eq!(
            error["field"],
            json!(["subjects", i.to_string(), field]),
            "row {i}"
        );
        assert_eq!(error["code"], code, "row {i}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains(words),
            "row {i}: {error}"
        );
    }
    assert_eq!(status(11), "CREATED");
    assert_eq!(results[11]["subject"]["code"], "1101**********002X");
    assert_eq!(payload["createdCount"], 2);
    assert_eq!(payload["refusedCount"], 12);
    // Row 12 breaks two rules (the waiver is not allowed, and the check character fails).
    assert_eq!(results[12]["userErrors"].as_array().map(Vec::len), Some(2));
    assert_eq!(payload["userErrors"].as_array().map(Vec::len), Some(13));

    // The same batch again: nothing new, the good rows are already known.
    let again = register(&app, Role::Department, rows).await;
    assert_eq!(again["createdCount"], 0);
    assert_eq!(again["alreadyKnownCount"], 2);
    assert_eq!(again["results"][0]["status"], "ALREADY_KNOWN");
    assert_eq!(
        again["results"][0]["subject"]["id"],
        results[0]["subject"]["id"]
    );

    // More than 1000 rows is refused whole, before any work.
    let many: Vec<Value> = (0..1001)
        .map(|_| enterprise("91350100M000100Y43", "x"))
        .collect();
    let answer = app
        .as_role(Role::Admin, REGISTER, json!({ "subjects": many }))
        .await;
    assert_eq!(answer.code(), Some("BAD_USER_INPUT"), "{}", answer.text);
    assert!(answer.message().contains("1000"));
}

async fn an_admin_may_waive_the_check_character_and_it_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let payload = register(
        &app,
        Role::Admin,
        json!([{"kind": "ENTERPRISE", "code": "91350203M0001QAY9B", "name": "早期代码企业", "regionCode": TOWN, "industryCode": "F", "checkWaiverReason": "营业执照原件核验，早期赋码"}]),
    )
    .await;
    assert_eq!(payload["results"][0]["status"], "CREATED", "{payload}");
    let answer = app
        .as_role(
            Role::Admin,
            r#"{ subject(code: "91350203M0001QAY9B") { checkWaived registration { authorityCode authorityName categoryCode categoryName regionCode } }
                auditLog(filter: {action: "registerSubject"}) { totalCount edges { node { actor organizationCode role detail requestId } } } }"#,
            json!({}),
        )
        .await;
    let data = &answer.body["data"];
    assert_eq!(data["subject"]["checkWaived"], true, "{}", answer.text);
    assert_eq!(data["subject"]["registration"]["categoryName"], "企业");
    assert_eq!(data["subject"]["registration"]["regionCode"], "350203");
    let entry = &data["auditLog"]["edges"][0]["node"];
    assert_eq!(entry["organizationCode"], "PLATFORM");
    assert_eq!(entry["role"], "ADMIN");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("早期赋码")
    );
    assert!(entry["requestId"].as_str().is_some_and(|r| !r.is_empty()));
}

async fn persons_are_kept_as_keyed_hashes_and_their_reads_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = "32021919900101003X";
    register(
        &app,
        Role::Department,
        json!([
            {"kind": "NATURAL_PERSON", "code": id, "name": "李四", "regionCode": VILLAGE},
            {"kind": "HOUSEHOLD", "code": id, "name": "李四户", "regionCode": VILLAGE, "industryCode": "A"},
        ]),
    )
    .await;
    // The ID is nowhere in the database in the clear.
    let raw = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM subject WHERE lookup_key LIKE '%{id}%' OR display_code LIKE '%{id}%' OR name LIKE '%{id}%'"
        ))
        .await;
    assert_eq!(raw, 0);
    let in_audit = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE detail LIKE '%19900101%'")
        .await;
    assert_eq!(in_audit, 0);

    let lookup = r#"query ($code: String!, $kind: SubjectKind) { subject(code: $code, kind: $kind) { code name kind } }"#;
    for role in [
        Role::Admin,
        Role::Department,
        Role::ApprovalHall,
        Role::Bank,
    ] {
        let answer = app.as_role(role, lookup, json!({ "code": id })).await;
        assert_eq!(
            answer.body["data"]["subject"]["name"], "李四",
            "{role:?}: {}",
            answer.text
        );
        assert_eq!(answer.body["data"]["subject"]["code"], "3202**********003X");
    }
    let household = app
        .as_role(
            Role::Department,
            lookup,
            json!({ "code": id, "kind": "HOUSEHOLD" }),
        )
        .await;
    assert_eq!(household.body["data"]["subject"]["name"], "李四户");
    for role in [Some(Role::App), Some(Role::Partner), None] {
        let answer = match role {
            Some(role) => app.as_role(role, lookup, json!({ "code": id })).await,
            None => app.graphql(None, lookup, json!({ "code": id })).await,
        };
        assert!(answer.body["errors"].is_null(), "{}", answer.text);
        assert_eq!(
            answer.body["data"]["subject"],
            Value::Null,
            "{role:?} must not see persons"
        );
    }
    // Four government/bank reads and one household read were audited, with who and why.
    let reads = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'readPerson'")
        .await;
    assert_eq!(reads, 5);
    let bank_reads = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'readPerson' AND organization_code = 'JIUJIANG_BANK' AND request_id IS NOT NULL")
        .await;
    assert_eq!(bank_reads, 1);

    // A malformed code is a clear top-level error naming the argument.
    let answer = app.graphql(None, lookup, json!({ "code": "123" })).await;
    assert_eq!(answer.code(), Some("BAD_USER_INPUT"));
    assert_eq!(answer.body["errors"][0]["extensions"]["field"], "code");
}

async fn subjects_are_listed_filtered_and_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let codes = [
        ("91350100M000100Y43", "九江甲食品有限公司", TOWN, "C"),
        ("91320621MA1MRHG205", "九江乙建筑有限公司", VILLAGE, "E"),
        ("91350200776049653A", "九江丙食品有限公司", OTHER_TOWN, "C"),
        ("91440101MA5CJQ4N59", "九江丁物流有限公司", TOWN, "G"),
    ];
    let rows: Vec<Value> = codes
        .iter()
        .map(|(code, name, region, industry)| json!({"kind": "ENTERPRISE", "code": code, "name": name, "regionCode": region, "industryCode": industry}))
        .chain([json!({"kind": "NATURAL_PERSON", "code": "440524188001010014", "name": "王五", "regionCode": TOWN})])
        .collect();
    register(&app, Role::Admin, json!(rows)).await;

    let list = r#"query ($filter: SubjectFilter, $first: Int, $after: String) {
      subjects(filter: $filter, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id code name } }
      } }"#;
    let names = |answer: &crate::helpers::Answer| -> Vec<String> {
        answer.body["data"]["subjects"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .map(|e| e["node"]["name"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Anonymous callers never see persons.
    let all = app.graphql(None, list, json!({})).await;
    assert_eq!(
        all.body["data"]["subjects"]["totalCount"], 4,
        "{}",
        all.text
    );
    // A department does.
    let all = app.as_role(Role::Department, list, json!({})).await;
    assert_eq!(all.body["data"]["subjects"]["totalCount"], 5);
    // A bank may look a person up by code but not browse them.
    let all = app.as_role(Role::Bank, list, json!({})).await;
    assert_eq!(all.body["data"]["subjects"]["totalCount"], 4);

    let town = app
        .graphql(None, list, json!({ "filter": { "regionCode": TOWN } }))
        .await;
    assert_eq!(
        town.body["data"]["subjects"]["totalCount"], 3,
        "the village is inside the town"
    );
    let food = app
        .graphql(
            None,
            list,
            json!({ "filter": { "industryCode": "c", "nameContains": "食品" } }),
        )
        .await;
    assert_eq!(
        names(&food),
        vec!["九江甲食品有限公司", "九江丙食品有限公司"]
    );
    let kind = app
        .as_role(
            Role::Admin,
            list,
            json!({ "filter": { "kind": "NATURAL_PERSON" } }),
        )
        .await;
    assert_eq!(names(&kind), vec!["王五"]);
    let unknown = app
        .graphql(
            None,
            list,
            json!({ "filter": { "regionCode": "999999999999" } }),
        )
        .await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"));

    // Pages of two, following endCursor, visit every subject once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .graphql(None, list, json!({ "first": 2, "after": after }))
            .await;
        let subjects = &page.body["data"]["subjects"];
        assert_eq!(subjects["totalCount"], 4);
        seen.extend(names(&page));
        if subjects["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = subjects["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen.len(), 4);
    let bad_cursor = app
        .graphql(None, list, json!({ "after": "not-a-cursor" }))
        .await;
    assert_eq!(bad_cursor.code(), Some("BAD_USER_INPUT"));

    // node(id) fetches the same subject; an id this API never made answers null.
    let id = all.body["data"]["subjects"]["edges"][0]["node"]["id"].clone();
    let node = app
        .graphql(
            None,
            "query ($id: ID!) { node(id: $id) { id ... on Subject { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(node.body["data"]["node"]["id"], id);
    let node = app
        .graphql(
            None,
            "{ node(id: \"U3ViamVjdDo5OTk5OTk\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(node.body["data"]["node"], Value::Null);
    let node = app
        .graphql(None, "{ node(id: \"garbage\") { id } }", json!({}))
        .await;
    assert_eq!(node.body["data"]["node"], Value::Null);
}

async fn updates_change_fields_and_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    register(
        &app,
        Role::Admin,
        json!([enterprise("91350100M000100Y43", "旧名称有限公司")]),
    )
    .await;
    let update = r#"mutation ($input: UpdateSubjectInput!) { updateSubject(input: $input) {
        subject { name region { code } industry { code } updatedAt } userErrors { field code message } } }"#;
    let answer = app
        .as_role(
            Role::Department,
            update,
            json!({ "input": { "code": "91350100m000100y43", "name": "新名称有限公司", "regionCode": OTHER_TOWN, "industryCode": "h" } }),
        )
        .await;
    let payload = &answer.body["data"]["updateSubject"];
    assert_eq!(payload["userErrors"], json!([]), "{}", answer.text);
    assert_eq!(payload["subject"]["name"], "新名称有限公司");
    assert_eq!(payload["subject"]["region"]["code"], OTHER_TOWN);
    assert_eq!(payload["subject"]["industry"]["code"], "H");
    let audited = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'updateSubject' AND detail LIKE '%旧名称有限公司%' AND organization_code = 'MARKET_REGULATION'")
        .await;
    assert_eq!(audited, 1);

    for (input, field, code) in [
        (
            json!({"code": "91350200776049653A", "name": "x"}),
            "code",
            "NOT_FOUND",
        ),
        (
            json!({"code": "bad", "name": "x"}),
            "code",
            "INVALID_FORMAT",
        ),
        (
            json!({"code": "91350100M000100Y43", "regionCode": "360404999000"}),
            "regionCode",
            "UNKNOWN_REGION",
        ),
        (
            json!({"code": "91350100M000100Y43", "name": ""}),
            "name",
            "REQUIRED",
        ),
        (
            json!({"code": "91350100M000100Y43", "industryCode": "9"}),
            "industryCode",
            "INVALID_FORMAT",
        ),
    ] {
        let answer = app
            .as_role(Role::Admin, update, json!({ "input": input }))
            .await;
        let errors = &answer.body["data"]["updateSubject"]["userErrors"];
        assert_eq!(
            errors[0]["field"],
            json!([field]),
            "{input}: {}",
            answer.text
        );
        assert_eq!(errors[0]["code"], code, "{input}");
        assert_eq!(answer.body["data"]["updateSubject"]["subject"], Value::Null);
    }
}

async fn every_role_against_every_operation(backend: Backend) {
    let app = spawn_app(backend).await;
    register(
        &app,
        Role::Admin,
        json!([enterprise("91350100M000100Y43", "角色测试有限公司")]),
    )
    .await;
    let operations: [(&str, String, &[Role]); 6] = [
        (
            "registerSubjects",
            format!(
                "mutation {{ registerSubjects(input: {{subjects: [{{kind: ENTERPRISE, code: \"91350200776049653A\", name: \"x\", regionCode: \"{TOWN}\", industryCode: \"C\"}}]}}) {{ refusedCount }} }}"
            ),
            &[Role::Admin, Role::Department, Role::ApprovalHall],
        ),
        (
            "updateSubject",
            "mutation { updateSubject(input: {code: \"91350100M000100Y43\", name: \"角色测试有限公司\"}) { userErrors { code } } }".into(),
            &[Role::Admin, Role::Department],
        ),
        (
            "auditLog",
            "{ auditLog { totalCount } }".into(),
            &[Role::Admin],
        ),
        (
            "subject",
            "{ subject(code: \"91350100M000100Y43\") { name } }".into(),
            &Role::ALL,
        ),
        ("subjects", "{ subjects { totalCount } }".into(), &Role::ALL),
        ("viewer", "{ viewer { role } }".into(), &Role::ALL),
    ];
    let anonymous_allowed = ["subject", "subjects", "viewer"];
    for caller in callers() {
        for (name, query, allowed) in &operations {
            let answer = match caller {
                Some(role) => app.as_role(role, query, json!({})).await,
                None => app.graphql(None, query, json!({})).await,
            };
            let may = match caller {
                Some(role) => allowed.contains(&role),
                None => anonymous_allowed.contains(name),
            };
            if may {
                assert!(
                    answer.body["errors"].is_null(),
                    "{caller:?} {name}: {}",
                    answer.text
                );
            } else {
                let expected = if caller.is_some() {
                    "FORBIDDEN"
                } else {
                    "UNAUTHENTICATED"
                };
                assert_eq!(
                    answer.code(),
                    Some(expected),
                    "{caller:?} {name}: {}",
                    answer.text
                );
                assert!(answer.message().contains(name), "{}", answer.message());
            }
        }
    }
}

async fn concurrent_registrations_of_one_code_create_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token(Role::Department);
    let mut handles = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/graphql");
        let token = token.clone();
        let body = json!({ "query": REGISTER, "variables": { "subjects": [enterprise("91350100M000100Y43", "并发有限公司")] } });
        handles.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("send");
            crate::helpers::read(response).await
        }));
    }
    let mut created = 0;
    for handle in handles {
        let answer = handle.await.expect("join");
        let status = answer.body["data"]["registerSubjects"]["results"][0]["status"].clone();
        assert!(
            status == "CREATED" || status == "ALREADY_KNOWN",
            "{}",
            answer.text
        );
        if status == "CREATED" {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM subject").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'registerSubject'")
            .await,
        1
    );
}

async fn the_code_lookup_uses_its_index(backend: Backend) {
    let app = spawn_app(backend).await;
    let plan_sql = match app.db().get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "EXPLAIN SELECT id FROM subject WHERE lookup_key = '91350100M000100Y43'"
        }
        _ => "EXPLAIN QUERY PLAN SELECT id FROM subject WHERE lookup_key = '91350100M000100Y43'",
    };
    use sea_orm::ConnectionTrait;
    let rows = app
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            app.db().get_database_backend(),
            plan_sql.to_owned(),
        ))
        .await
        .expect("explain");
    let plan: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get::<String>("", "QUERY PLAN")
                .or_else(|_| r.try_get::<String>("", "detail"))
                .unwrap_or_default()
        })
        .collect();
    let plan = plan.join("\n");
    assert!(
        plan.to_lowercase().contains("index"),
        "the look-up by code must use an index:\n{plan}"
    );
}

both!(
    a_batch_is_answered_row_by_row_and_is_idempotent,
    an_admin_may_waive_the_check_character_and_it_is_audited,
    persons_are_kept_as_keyed_hashes_and_their_reads_audited,
    subjects_are_listed_filtered_and_paged,
    updates_change_fields_and_are_audited,
    every_role_against_every_operation,
    concurrent_registrations_of_one_code_create_it_once,
    the_code_lookup_uses_its_index,
);
