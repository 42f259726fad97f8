//! Lists: departments add and remove entries, the public sees RED and SERIOUS_DISHONESTY, and
//! KEY_ATTENTION stays among government roles.

use credit_hub::auth::Role;
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, spawn_app};

const FOOD: &str = "91350100M000100Y43";

const ADD: &str = r#"mutation ($input: AddListEntryInput!) { addListEntry(input: $input) {
  entry { id list status department reason subject { code } } userErrors { field code message } } }"#;

async fn entries_are_added_listed_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.as_role(
        Role::Admin,
        "mutation { registerSubjects(input: {subjects: [{kind: ENTERPRISE, code: \"91350100M000100Y43\", name: \"九江甲食品有限公司\", regionCode: \"360404104000\", industryCode: \"C\"}]}) { createdCount } }",
        json!({}),
    )
    .await;
    let add = |list: &str| json!({"input": {"subjectCode": FOOD, "list": list, "reason": "食品安全严重违法", "legalBasis": "《市场监督管理严重违法失信名单管理办法》第九条", "decidedOn": "2025-06-01"}});
    let serious = app
        .as_role(Role::Department, ADD, add("SERIOUS_DISHONESTY"))
        .await;
    let entry = &serious.body["data"]["addListEntry"]["entry"];
    assert_eq!(entry["status"], "ACTIVE", "{}", serious.text);
    assert_eq!(entry["department"], "MARKET_REGULATION");
    assert_eq!(entry["subject"]["code"], FOOD);
    let id = entry["id"].clone();
    let again = app
        .as_role(Role::Department, ADD, add("SERIOUS_DISHONESTY"))
        .await;
    assert_eq!(
        again.body["data"]["addListEntry"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    app.as_role(Role::Department, ADD, add("KEY_ATTENTION"))
        .await;

    let public = app
        .graphql(None, "{ lists(list: SERIOUS_DISHONESTY) { totalCount edges { node { reason subject { name } } } } }", json!({}))
        .await;
    assert_eq!(
        public.body["data"]["lists"]["totalCount"], 1,
        "{}",
        public.text
    );
    let hidden = app
        .graphql(
            None,
            "{ lists(list: KEY_ATTENTION) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(hidden.code(), Some("FORBIDDEN"));
    let hall = app
        .as_role(
            Role::ApprovalHall,
            "{ lists(list: KEY_ATTENTION) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(hall.body["data"]["lists"]["totalCount"], 1);
    let on_subject = format!("{{ subject(code: \"{FOOD}\") {{ listEntries {{ list status }} }} }}");
    let anonymous = app.graphql(None, &on_subject, json!({})).await;
    assert_eq!(
        anonymous.body["data"]["subject"]["listEntries"],
        json!([{"list": "SERIOUS_DISHONESTY", "status": "ACTIVE"}])
    );
    let government = app
        .as_role(Role::ApprovalHall, &on_subject, json!({}))
        .await;
    assert_eq!(
        government.body["data"]["subject"]["listEntries"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Bad input names the field; another department cannot remove the entry.
    let bad = app
        .as_role(Role::Department, ADD, json!({"input": {"subjectCode": "91350200776049653A", "list": "RED", "reason": "", "legalBasis": "x", "decidedOn": "2025-06-01"}}))
        .await;
    assert_eq!(
        bad.body["data"]["addListEntry"]["userErrors"][0]["code"],
        "SUBJECT_NOT_REGISTERED"
    );
    let bad = app
        .as_role(Role::Department, ADD, json!({"input": {"subjectCode": FOOD, "list": "RED", "reason": "", "legalBasis": "x", "decidedOn": "2999-01-01", "until": "2020-01-01"}}))
        .await;
    let fields: Vec<String> = bad.body["data"]["addListEntry"]["userErrors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["field"][0].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(fields, vec!["reason", "decidedOn", "until"], "{}", bad.text);
    let remove = "mutation ($id: ID!) { removeListEntry(input: {id: $id, reason: \"已履行\"}) { entry { status removedReason } userErrors { code } } }";
    let other = app.token_for(Role::Department, "TRANSPORT");
    let refused = app.graphql(Some(&other), remove, json!({"id": id})).await;
    assert_eq!(
        refused.body["data"]["removeListEntry"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    for role in [Role::Bank, Role::App, Role::ApprovalHall] {
        let answer = app.as_role(role, remove, json!({"id": id})).await;
        assert_eq!(answer.code(), Some("FORBIDDEN"), "{role:?}");
    }
    let removed = app
        .as_role(Role::Department, remove, json!({"id": id}))
        .await;
    assert_eq!(
        removed.body["data"]["removeListEntry"]["entry"]["status"], "REMOVED",
        "{}",
        removed.text
    );
    let public = app
        .graphql(
            None,
            "{ lists(list: SERIOUS_DISHONESTY) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(public.body["data"]["lists"]["totalCount"], 0);
    let audited = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('addListEntry', 'removeListEntry')")
        .await;
    assert_eq!(audited, 3);
}

both!(entries_are_added_listed_and_removed);
