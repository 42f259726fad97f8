//! Evaluation: models as versioned data, ratings kept current by every write and explained point
//! by point, the batch evaluation (exactly once, resumable, safe with two workers), tiered
//! supervision with reproducible samples, and the rural credit roll-up.

use std::time::Duration;

use chrono::NaiveDate;
use credit_hub::auth::Role;
use credit_hub::records::service::china_today;
use credit_hub::subjects::rules::{CreditCode, ResidentId};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, days_ago, penalty, register, spawn_app};

const TOWN: &str = "360404104000";
const VILLAGE: &str = "360404104206";
const FOOD: &str = "91350100M000100Y43";

fn uscc(n: usize) -> String {
    CreditCode::with_check_character(&format!("91360404MA{n:07}"))
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn resident(n: usize) -> String {
    ResidentId::with_check_character(&format!("36040419800101{n:03}"))
        .map(|c| c.expose().to_owned())
        .unwrap_or_default()
}

/// A penalty on a household, found by the householder's resident ID.
fn household_penalty(id: &str, number: &str, decided: NaiveDate) -> Value {
    let mut row = penalty(FOOD, number, decided, "罚款;吊销许可证件");
    let fields = row["fields"].as_object_mut().expect("object");
    fields.remove("CF_XDR_SHXYM");
    fields.remove("CF_FRDB");
    fields.insert("CF_XDR_MC".into(), json!("农户"));
    fields.insert("CF_XDR_LB".into(), json!("自然人"));
    fields.insert("CF_XDR_ZJLX".into(), json!("身份证"));
    fields.insert("CF_XDR_ZJHM".into(), json!(id));
    row["subjectKind"] = json!("HOUSEHOLD");
    row
}

async fn submit(app: &TestApp, records: Value) -> Value {
    let answer = app
        .as_role(
            Role::Department,
            "mutation ($r: [CreditRecordInput!]!) { submitCreditRecords(input: {records: $r}) { acceptedCount results { record { id } userErrors { field code message } } } }",
            json!({ "r": records }),
        )
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    let payload = answer.body["data"]["submitCreditRecords"].clone();
    assert_eq!(
        payload["acceptedCount"].as_u64(),
        records.as_array().map(|r| r.len() as u64),
        "{payload}"
    );
    payload
}

const RATING: &str = r#"query ($code: String!, $model: String!) { subject(code: $code) {
  rating(model: $model) { model modelVersion score grade gradeClass supervisionLevel cause computedOnRead
    asOf validUntil factors { rule recordId listEntryId points windowFrom windowTo note } }
  ratings(model: $model) { totalCount edges { node { score grade cause } } } } }"#;

async fn rating(app: &TestApp, role: Role, code: &str, model: &str) -> Value {
    let answer = app
        .as_role(role, RATING, json!({"code": code, "model": model}))
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["subject"].clone()
}

async fn every_write_moves_the_rating_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    register(
        &app,
        json!([{"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"}]),
    )
    .await;

    // Registered: rated at once, base score, nothing to explain.
    let first = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    let r = &first["rating"];
    assert_eq!(
        (r["score"].as_i64(), r["grade"].as_str()),
        (Some(1000), Some("A")),
        "{first}"
    );
    assert_eq!(r["gradeClass"], "A");
    assert_eq!(r["supervisionLevel"], "LIGHT");
    assert_eq!(r["cause"], "SUBJECT");
    assert_eq!(r["computedOnRead"], false);
    assert_eq!(r["factors"], json!([]));
    // Industry C: the food & drug model rates it too; the medical one does not.
    let food = rating(&app, Role::Department, FOOD, "FOOD_DRUG").await;
    assert_eq!(food["rating"]["score"], 100, "{food}");
    let medical = rating(&app, Role::Department, FOOD, "MEDICAL").await;
    assert!(medical["rating"].is_null(), "{medical}");

    // A serious penalty: the next read shows it, explained to the record, whether the worker
    // has stored the new rating yet or the read computed it.
    let payload = submit(
        &app,
        json!([penalty(
            FOOD,
            "柴市监罚〔2026〕1号",
            days_ago(10),
            "罚款;吊销许可证件"
        )]),
    )
    .await;
    let record_id = payload["results"][0]["record"]["id"].clone();
    let after = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    let r = &after["rating"];
    assert_eq!(
        (r["score"].as_i64(), r["grade"].as_str()),
        (Some(850), Some("B")),
        "{after}"
    );
    assert_eq!(r["cause"], "RECORD");
    assert_eq!(r["supervisionLevel"], "NORMAL");
    let factor = &r["factors"][0];
    assert_eq!(factor["rule"], "PENALTY_SERIOUS");
    assert_eq!(factor["recordId"], record_id);
    assert_eq!(factor["points"], -150);
    assert_eq!(factor["windowTo"], china_today().to_string());
    assert!(factor["windowFrom"].as_str().is_some());
    // The rating says until when it holds: the day before the penalty leaves its 36 months.
    let leaves = days_ago(10)
        .checked_add_months(chrono::Months::new(36))
        .and_then(|d| d.pred_opt())
        .map(|d| d.to_string());
    assert_eq!(r["validUntil"].as_str(), leaves.as_deref());
    // Stored a moment later, by the worker, into the history too.
    app.ratings_stored().await;
    let stored = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(stored["rating"]["computedOnRead"], false, "{stored}");
    assert_eq!(stored["rating"]["score"], 850, "{stored}");
    assert_eq!(stored["rating"]["cause"], "RECORD", "{stored}");
    assert_eq!(stored["ratings"]["totalCount"], 2, "{stored}");
    let food = rating(&app, Role::Department, FOOD, "FOOD_DRUG").await;
    assert_eq!(food["rating"]["score"], 100 - 30 - 15, "{food}");

    // Revoked: the record no longer counts.
    let revoke = app
        .as_role(
            Role::Department,
            "mutation { revokeCreditRecord(input: {sourceRef: \"柴市监罚〔2026〕1号\", reason: \"复议撤销\"}) { record { status } userErrors { message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        revoke.body["data"]["revokeCreditRecord"]["record"]["status"], "REVOKED",
        "{}",
        revoke.text
    );
    let back = rating(&app, Role::ApprovalHall, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(back["rating"]["score"], 1000, "{back}");
    assert_eq!(
        back["ratings"]["edges"][0]["node"],
        json!({"score": 1000, "grade": "A", "cause": "RECORD"})
    );
    assert_eq!(back["ratings"]["totalCount"], 3);

    // Who may read ratings; every read is audited.
    let anonymous = app
        .graphql(
            None,
            RATING,
            json!({"code": FOOD, "model": "PUBLIC_COMPREHENSIVE"}),
        )
        .await;
    assert_eq!(
        anonymous.code(),
        Some("UNAUTHENTICATED"),
        "{}",
        anonymous.text
    );
    for role in [Role::App, Role::Partner] {
        let answer = app
            .as_role(
                role,
                RATING,
                json!({"code": FOOD, "model": "PUBLIC_COMPREHENSIVE"}),
            )
            .await;
        assert_eq!(
            answer.code(),
            Some("FORBIDDEN"),
            "{role:?}: {}",
            answer.text
        );
    }
    let unknown = app
        .as_role(
            Role::Bank,
            RATING,
            json!({"code": FOOD, "model": "NO_SUCH_MODEL"}),
        )
        .await;
    assert_eq!(unknown.code(), Some("NOT_FOUND"), "{}", unknown.text);
    let audited = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'readRating'")
        .await;
    assert!(audited >= 4, "{audited}");
}

const ADD: &str = r#"mutation ($input: AddListEntryInput!) { addListEntry(input: $input) {
  entry { id } userErrors { code message } } }"#;

async fn serious_dishonesty_forces_d_until_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    register(
        &app,
        json!([{"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"}]),
    )
    .await;
    let added = app
        .as_role(
            Role::Department,
            ADD,
            json!({"input": {"subjectCode": FOOD, "list": "SERIOUS_DISHONESTY", "reason": "食品安全严重违法",
                "legalBasis": "《市场监督管理严重违法失信名单管理办法》第九条", "decidedOn": days_ago(30).to_string()}}),
        )
        .await;
    let entry = added.body["data"]["addListEntry"]["entry"]["id"].clone();
    assert!(entry.is_string(), "{}", added.text);
    let listed = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    let r = &listed["rating"];
    assert_eq!(
        (r["grade"].as_str(), r["supervisionLevel"].as_str()),
        (Some("D"), Some("KEY")),
        "{listed}"
    );
    assert_eq!(r["score"], 700);
    let notes: Vec<&str> = r["factors"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["note"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(notes, vec!["OVERRIDE"], "{listed}");
    assert_eq!(r["factors"][0]["listEntryId"], entry);

    let removed = app
        .as_role(
            Role::Department,
            "mutation ($id: ID!) { removeListEntry(input: {id: $id, reason: \"信用修复\"}) { entry { status } } }",
            json!({"id": entry}),
        )
        .await;
    assert_eq!(
        removed.body["data"]["removeListEntry"]["entry"]["status"], "REMOVED",
        "{}",
        removed.text
    );
    let after = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(after["rating"]["grade"], "A", "{after}");
    assert_eq!(after["rating"]["cause"], "LIST");
}

const DEFINE: &str = r#"mutation ($input: DefineEvaluationModelInput!) { defineEvaluationModel(input: $input) {
  model { code version status baseScore rules { code points } grades { grade gradeClass minScore supervisionLevel } }
  userErrors { field code message } } }"#;

fn definition(base: i32, points: i32) -> Value {
    json!({
        "baseScore": base, "minScore": 0, "maxScore": 1200,
        "subjectKinds": ["ENTERPRISE"],
        "rules": [{"code": "PENALTY", "description": "行政处罚", "source": "RECORD", "polarity": "NEGATIVE",
                   "categories": ["PENALTY"], "points": points, "windowMonths": 12, "cap": 300}],
        "grades": [
            {"grade": "A", "gradeClass": "A", "minScore": 850, "supervisionLevel": "LIGHT"},
            {"grade": "B", "gradeClass": "B", "minScore": 700, "supervisionLevel": "NORMAL"},
            {"grade": "C", "gradeClass": "C", "minScore": 500, "supervisionLevel": "ENHANCED"},
            {"grade": "D", "gradeClass": "D", "minScore": 0, "supervisionLevel": "KEY"}
        ],
        "overrides": [{"list": "SERIOUS_DISHONESTY", "grade": "D"}]
    })
}

async fn models_are_versioned_validated_and_activated(backend: Backend) {
    let app = spawn_app(backend).await;
    let models = app
        .graphql(
            None,
            "{ evaluationModels(status: ACTIVE) { code version status subjectKinds industries grades { grade } } }",
            json!({}),
        )
        .await;
    let active = models.body["data"]["evaluationModels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(active.len(), 13, "{}", models.text);
    assert!(
        active
            .iter()
            .any(|m| m["code"] == "PUBLIC_COMPREHENSIVE" && m["version"] == 1)
    );

    // Validation names the field and the rule, and nothing is saved.
    let mut bad = definition(900, 40);
    bad["grades"][2]["minScore"] = json!(750);
    bad["overrides"][0]["grade"] = json!("E");
    let refused = app
        .as_role(
            Role::Admin,
            DEFINE,
            json!({"input": {"code": "PUBLIC_COMPREHENSIVE", "name": "公共信用综合评价", "description": "v2", "definition": bad}}),
        )
        .await;
    let errors = &refused.body["data"]["defineEvaluationModel"]["userErrors"];
    let found: Vec<(String, String)> = errors
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| {
                    (
                        x["field"]
                            .as_array()
                            .map(|f| {
                                f.iter()
                                    .filter_map(|p| p.as_str())
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .unwrap_or_default(),
                        x["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        found,
        vec![
            (
                "definition.rules.0.points".to_owned(),
                "INVALID_RULE".to_owned()
            ),
            (
                "definition.grades.2.minScore".to_owned(),
                "INVALID_RULE".to_owned()
            ),
            (
                "definition.overrides.0.grade".to_owned(),
                "NOT_FOUND".to_owned()
            ),
        ],
        "{}",
        refused.text
    );
    for role in [Role::Department, Role::Bank] {
        let answer = app
            .as_role(
                role,
                DEFINE,
                json!({"input": {"code": "X", "name": "x", "description": "x", "definition": definition(900, -40)}}),
            )
            .await;
        assert_eq!(answer.code(), Some("FORBIDDEN"), "{}", answer.text);
    }

    register(
        &app,
        json!([{"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"}]),
    )
    .await;
    let defined = app
        .as_role(
            Role::Admin,
            DEFINE,
            json!({"input": {"code": "PUBLIC_COMPREHENSIVE", "name": "公共信用综合评价（2027版）", "description": "Base 900.", "definition": definition(900, -40)}}),
        )
        .await;
    let model = &defined.body["data"]["defineEvaluationModel"]["model"];
    assert_eq!(
        (model["version"].as_i64(), model["status"].as_str()),
        (Some(2), Some("DRAFT")),
        "{}",
        defined.text
    );
    // A draft changes nothing.
    let before = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(before["rating"]["modelVersion"], 1);

    let activate = "mutation ($v: Int!) { activateEvaluationModel(input: {code: \"PUBLIC_COMPREHENSIVE\", version: $v}) { model { version status activatedAt } userErrors { code } } }";
    let activated = app.as_role(Role::Admin, activate, json!({"v": 2})).await;
    assert_eq!(
        activated.body["data"]["activateEvaluationModel"]["model"]["status"], "ACTIVE",
        "{}",
        activated.text
    );
    let all = app
        .graphql(
            None,
            "{ evaluationModels(code: \"PUBLIC_COMPREHENSIVE\") { version status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all.body["data"]["evaluationModels"],
        json!([{"version": 2, "status": "ACTIVE"}, {"version": 1, "status": "RETIRED"}])
    );
    // The stored rating keeps version 1 until the subject's facts change.
    let kept = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(kept["rating"]["modelVersion"], 1, "{kept}");
    submit(
        &app,
        json!([penalty(FOOD, "柴市监罚〔2026〕2号", days_ago(5), "罚款")]),
    )
    .await;
    let moved = rating(&app, Role::Bank, FOOD, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(
        (
            moved["rating"]["modelVersion"].as_i64(),
            moved["rating"]["score"].as_i64()
        ),
        (Some(2), Some(860)),
        "{moved}"
    );
    // A retired version stays retired.
    let again = app.as_role(Role::Admin, activate, json!({"v": 1})).await;
    assert_eq!(
        again.body["data"]["activateEvaluationModel"]["userErrors"][0]["code"], "INVALID_STATE",
        "{}",
        again.text
    );
}

const RUN: &str = r#"mutation ($model: String!) { runEvaluation(input: {model: $model}) {
  run { id model status total done } userErrors { field code message } } }"#;

async fn the_evaluation_run_rates_everyone_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let subjects: Vec<Value> = (0..25)
        .map(|n| json!({"kind": "ENTERPRISE", "code": uscc(n), "name": format!("九江企业{n}"), "regionCode": TOWN, "industryCode": "C"}))
        .collect();
    register(&app, json!(subjects)).await;

    // Two starts at once answer one run.
    let (a, b) = tokio::join!(
        app.as_role(Role::Admin, RUN, json!({"model": "PUBLIC_COMPREHENSIVE"})),
        app.as_role(Role::Admin, RUN, json!({"model": "PUBLIC_COMPREHENSIVE"})),
    );
    let run_a = &a.body["data"]["runEvaluation"]["run"];
    let run_b = &b.body["data"]["runEvaluation"]["run"];
    assert!(run_a["id"].is_string(), "{}", a.text);
    assert_eq!(run_a["total"], 25);
    let id = run_a["id"].clone();
    let mut last = Value::Null;
    for _ in 0..100 {
        let answer = app
            .as_role(
                Role::Admin,
                "query ($id: ID!) { evaluationRun(id: $id) { status done total progress } }",
                json!({"id": id}),
            )
            .await;
        last = answer.body["data"]["evaluationRun"].clone();
        if last["status"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        last,
        json!({"status": "COMPLETED", "done": 25, "total": 25, "progress": 1.0})
    );
    // The second start either joined the first or, if it came after the end, ran again.
    let runs = app
        .count("SELECT COUNT(DISTINCT run_id) AS n FROM rating_history WHERE run_id IS NOT NULL")
        .await;
    if run_b["id"] == id {
        assert_eq!(runs, 1);
    }
    let per_subject = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM rating_history WHERE run_id = {}",
            id.as_str().unwrap_or("0")
        ))
        .await;
    assert_eq!(per_subject, 25);
    let other = app
        .as_role(Role::Bank, RUN, json!({"model": "PUBLIC_COMPREHENSIVE"}))
        .await;
    assert_eq!(other.code(), Some("FORBIDDEN"));
    let unknown = app
        .as_role(Role::Admin, RUN, json!({"model": "NOPE"}))
        .await;
    assert_eq!(
        unknown.body["data"]["runEvaluation"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}

async fn an_interrupted_run_resumes_without_repeating_and_two_workers_share_it(backend: Backend) {
    use credit_hub::audit::Actor;
    use credit_hub::ratings::evaluation;

    let app = spawn_app(backend).await;
    let subjects: Vec<Value> = (0..40)
        .map(|n| json!({"kind": "ENTERPRISE", "code": uscc(n), "name": format!("九江企业{n}"), "regionCode": TOWN, "industryCode": "E"}))
        .collect();
    register(&app, json!(subjects)).await;
    let db = app.db().clone();
    let run = evaluation::start(&db, &Actor::cli("test"), "CONSTRUCTION", None, 6)
        .await
        .expect("start")
        .expect("started");
    assert_eq!(run.total, 40);

    // A worker killed after its first chunk of 6: that chunk committed, nothing else.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = {
        let db = db.clone();
        tokio::spawn(async move {
            evaluation::work(&db, run.id, 1, move |done, _| {
                let _ = tx.send(done);
                if done >= 6 {
                    // Hold the worker here until the test has aborted it.
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .await
        })
    };
    while let Some(done) = rx.recv().await {
        if done >= 6 {
            worker.abort();
            break;
        }
    }
    let _ = worker.await;
    let partial = evaluation::find(&db, run.id)
        .await
        .expect("find")
        .expect("run");
    assert_eq!(partial.status, "RUNNING");
    assert!(partial.done >= 6 && partial.done < 40, "{}", partial.done);

    // Two workers finish it together.
    let (a, b) = tokio::join!(
        evaluation::work(&db, run.id, 1, |_, _| {}),
        evaluation::work(&db, run.id, 2, |_, _| {}),
    );
    let (a, b) = (a.expect("worker a"), b.expect("worker b"));
    assert_eq!(
        (a.status.as_str(), b.status.as_str()),
        ("COMPLETED", "COMPLETED")
    );
    assert_eq!(a.done, 40);
    let rows = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM rating_history WHERE run_id = {}",
            run.id
        ))
        .await;
    let distinct = app
        .count(&format!(
            "SELECT COUNT(DISTINCT subject_id) AS n FROM rating_history WHERE run_id = {}",
            run.id
        ))
        .await;
    assert_eq!((rows, distinct), (40, 40));
}

async fn supervision_lists_by_level_and_samples_reproducibly(backend: Backend) {
    let app = spawn_app(backend).await;
    let subjects: Vec<Value> = (0..12)
        .map(|n| json!({"kind": "ENTERPRISE", "code": uscc(n), "name": format!("九江企业{n}"), "regionCode": TOWN, "industryCode": if n < 10 { "C" } else { "F" }}))
        .collect();
    register(&app, json!(subjects)).await;
    // Subjects 0..3 get two serious penalties each: 700, grade C, ENHANCED.
    let rows: Vec<Value> = (0..3)
        .flat_map(|n| {
            (0..2).map(move |k| {
                penalty(
                    &uscc(n),
                    &format!("柴市监罚〔2026〕{n}-{k}号"),
                    days_ago(20),
                    "罚款;吊销许可证件",
                )
            })
        })
        .collect();
    submit(&app, json!(rows)).await;
    // The listing reads stored ratings, which follow the records a moment later.
    app.ratings_stored().await;

    let list = "query ($level: SupervisionLevel, $industry: String) { supervisedSubjects(level: $level, industryCode: $industry, regionCode: \"360404104000\", first: 50) { totalCount edges { node { subject { code } rating { grade supervisionLevel } } } } }";
    let enhanced = app
        .as_role(
            Role::Department,
            list,
            json!({"level": "ENHANCED", "industry": "C"}),
        )
        .await;
    let data = &enhanced.body["data"]["supervisedSubjects"];
    assert_eq!(data["totalCount"], 3, "{}", enhanced.text);
    assert_eq!(data["edges"][0]["node"]["rating"]["grade"], "C");
    let light = app
        .as_role(
            Role::Department,
            list,
            json!({"level": "LIGHT", "industry": "C"}),
        )
        .await;
    assert_eq!(light.body["data"]["supervisedSubjects"]["totalCount"], 7);
    let retail = app
        .as_role(Role::Admin, list, json!({"industry": "F"}))
        .await;
    assert_eq!(retail.body["data"]["supervisedSubjects"]["totalCount"], 2);

    let sample = "query ($seed: String!) { supervisionSample(size: 3, seed: $seed, industryCode: \"C\") { level population subjects { code } } }";
    let first = app
        .as_role(Role::Department, sample, json!({"seed": "2026-双随机-07"}))
        .await;
    let again = app
        .as_role(Role::Admin, sample, json!({"seed": "2026-双随机-07"}))
        .await;
    let groups = &first.body["data"]["supervisionSample"];
    assert_eq!(
        groups, &again.body["data"]["supervisionSample"],
        "{}",
        first.text
    );
    let light_group = &groups[0];
    assert_eq!(light_group["level"], "LIGHT");
    assert_eq!(light_group["population"], 7);
    assert_eq!(light_group["subjects"].as_array().map(Vec::len), Some(3));
    assert_eq!(groups[2]["level"], "ENHANCED");
    assert_eq!(groups[2]["population"], 3);
    assert_eq!(groups[3]["population"], 0);
    // Different seeds draw differently somewhere among the 7 LIGHT subjects.
    let mut differs = false;
    for seed in ["a", "b", "c", "d", "e"] {
        let other = app
            .as_role(Role::Department, sample, json!({"seed": seed}))
            .await;
        differs |= other.body["data"]["supervisionSample"][0] != groups[0];
    }
    assert!(differs);
    let bank = app.as_role(Role::Bank, sample, json!({"seed": "x"})).await;
    assert_eq!(bank.code(), Some("FORBIDDEN"));
    let bad = app
        .as_role(
            Role::Department,
            "{ supervisionSample(size: 0, seed: \"x\") { level } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"), "{}", bad.text);
}

const RURAL: &str = r#"query ($code: String!) { ruralCredit(regionCode: $code) {
  level title qualifies households creditHouseholds villageCount creditVillages villagePercent
  villages { regionCode households creditHouseholds unrated isCreditVillage } } }"#;

async fn households_roll_up_to_credit_villages_and_townships(backend: Backend) {
    let app = spawn_app(backend).await;
    let households: Vec<Value> = (0..10)
        .map(|n| json!({"kind": "HOUSEHOLD", "code": resident(n), "name": format!("农户{n}"), "regionCode": VILLAGE, "industryCode": "A"}))
        .collect();
    register(&app, json!(households)).await;
    // Three households with a serious penalty: 7 of 10 are 信用户, exactly the 70 % threshold.
    let rows: Vec<Value> = (0..3)
        .map(|n| household_penalty(&resident(n), &format!("柴农罚{n}"), days_ago(15)))
        .collect();
    submit(&app, json!(rows)).await;
    app.ratings_stored().await;
    let village = app.graphql(None, RURAL, json!({"code": VILLAGE})).await;
    let v = &village.body["data"]["ruralCredit"];
    assert_eq!(
        (v["households"].as_i64(), v["creditHouseholds"].as_i64()),
        (Some(10), Some(7)),
        "{}",
        village.text
    );
    assert_eq!(v["title"], "信用村");
    assert_eq!(v["qualifies"], true);
    assert_eq!(v["villagePercent"], 70);
    let township = app.graphql(None, RURAL, json!({"code": TOWN})).await;
    let t = &township.body["data"]["ruralCredit"];
    assert_eq!(
        (
            t["villageCount"].as_i64(),
            t["creditVillages"].as_i64(),
            t["qualifies"].as_bool()
        ),
        (Some(1), Some(1), Some(true)),
        "{}",
        township.text
    );

    // One more: 6 of 10, below the threshold, and the township loses its title with it.
    submit(
        &app,
        json!([household_penalty(&resident(3), "柴农罚3", days_ago(15))]),
    )
    .await;
    app.ratings_stored().await;
    let village = app.graphql(None, RURAL, json!({"code": VILLAGE})).await;
    assert_eq!(village.body["data"]["ruralCredit"]["qualifies"], false);
    let township = app.graphql(None, RURAL, json!({"code": TOWN})).await;
    assert_eq!(township.body["data"]["ruralCredit"]["qualifies"], false);
    let unknown = app
        .graphql(None, RURAL, json!({"code": "360404999999"}))
        .await;
    assert_eq!(unknown.code(), Some("BAD_USER_INPUT"));
}

async fn the_generator_makes_valid_data_from_a_seed_once(backend: Backend) {
    use credit_hub::demo::bulk::{Plan, generate};

    let app = spawn_app(backend).await;
    let db = app.db().clone();
    let townships = vec![TOWN.to_owned(), "360404001000".to_owned()];
    let plan = Plan {
        subjects: 30,
        records_per_subject: 4,
        seed: 3,
    };
    let made = generate(&db, plan, &townships, |_, _| {})
        .await
        .expect("generate");
    assert_eq!((made.subjects, made.records), (30, 120));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM subject").await, 30);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM credit_record").await,
        120
    );
    let late = app
        .count("SELECT COUNT(*) AS n FROM credit_record WHERE late IS NOT NULL AND working_days IS NULL")
        .await;
    assert_eq!(late, 0, "every license and penalty has its working days");
    let again = generate(&db, plan, &townships, |_, _| {}).await;
    assert!(
        again.is_err_and(|e| e.message().contains("already loaded")),
        "the same seed twice is refused"
    );

    // The evaluation rates them; a generated code reads through the API like any other.
    let run = credit_hub::ratings::evaluation::start(
        &db,
        &credit_hub::audit::Actor::cli("test"),
        "PUBLIC_COMPREHENSIVE",
        None,
        7,
    )
    .await
    .expect("start")
    .expect("run");
    let done = credit_hub::ratings::evaluation::work(&db, run.id, 2, |_, _| {})
        .await
        .expect("work");
    assert_eq!((done.done, done.total), (30, 30));
    let code = app
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            app.db().get_database_backend(),
            "SELECT display_code AS code FROM subject ORDER BY id LIMIT 1".to_owned(),
        ))
        .await
        .expect("query")
        .and_then(|r| r.try_get::<String>("", "code").ok())
        .unwrap_or_default();
    let read = rating(&app, Role::Bank, &code, "PUBLIC_COMPREHENSIVE").await;
    assert_eq!(read["rating"]["cause"], "EVALUATION", "{read}");
    assert_eq!(read["rating"]["computedOnRead"], false);
}

/// The id and key lists that re-ratings, ingest and eligibility read by are matched through the
/// column's index (SQLite plans by the schema; PostgreSQL by the statistics, and rightly scans a
/// table that is empty), and on PostgreSQL a write transaction plans each statement for the
/// tables as they are: a generic plan made while a table was empty, kept by its connection,
/// scanned the whole table once it had grown, seconds per statement during a first bulk load.
async fn lists_of_ids_and_keys_are_read_by_index_and_writes_plan_afresh(backend: Backend) {
    use credit_hub::db::{begin_write, id_among, text_among};
    let app = spawn_app(backend).await;
    let db = app.db();
    let backend = db.get_database_backend();
    if backend == sea_orm::DbBackend::Postgres {
        let txn = begin_write(db).await.expect("begin");
        let mode = txn
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                "SHOW plan_cache_mode",
            ))
            .await
            .expect("show")
            .and_then(|r| r.try_get_by_index::<String>(0).ok());
        txn.rollback().await.expect("rollback");
        assert_eq!(mode.as_deref(), Some("force_custom_plan"));
        let outside = app.text("SHOW plan_cache_mode").await;
        assert_eq!(
            outside, "auto",
            "reads outside writes keep their cached plans"
        );
        return;
    }
    let probes = [
        (
            "credit_record",
            id_among(backend, "subject_id", 1),
            "[1, 2, 3]",
        ),
        (
            "subject",
            text_among(backend, "lookup_key", 1),
            r#"["a", "b"]"#,
        ),
        (
            "credit_record",
            format!(
                "department = 'X' AND {}",
                text_among(backend, "source_ref", 1)
            ),
            r#"["a"]"#,
        ),
    ];
    for (table, condition, values) in probes {
        let sql = format!("SELECT id FROM {table} WHERE {condition}");
        let rows = db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!("EXPLAIN QUERY PLAN {sql}"),
                [values.into()],
            ))
            .await
            .expect("explain");
        let plan = rows
            .iter()
            .filter_map(|r| r.try_get::<String>("", "detail").ok())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!plan.contains(&format!("SCAN {table}")), "{sql}:\n{plan}");
        assert!(
            plan.contains(&format!("SEARCH {table} USING")),
            "{sql}:\n{plan}"
        );
    }
}

async fn a_new_industry_moves_the_subject_between_industry_models(backend: Backend) {
    let app = spawn_app(backend).await;
    register(
        &app,
        json!([{"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"}]),
    )
    .await;
    let listed = |model: &'static str| {
        let app = &app;
        async move {
            let answer = app
                .as_role(
                    Role::Department,
                    "query ($m: String!) { supervisedSubjects(model: $m) { totalCount } }",
                    json!({"m": model}),
                )
                .await;
            answer.body["data"]["supervisedSubjects"]["totalCount"].clone()
        }
    };
    assert_eq!(listed("FOOD_DRUG").await, 1);
    assert_eq!(listed("MEDICAL").await, 0);
    let update = app
        .as_role(
            Role::Department,
            "mutation { updateSubject(input: {code: \"91350100M000100Y43\", industryCode: \"Q\"}) { userErrors { message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        update.body["data"]["updateSubject"]["userErrors"],
        json!([]),
        "{}",
        update.text
    );
    // Rated by the medical model now, and no longer listed under food and drugs.
    assert_eq!(listed("FOOD_DRUG").await, 0);
    assert_eq!(listed("MEDICAL").await, 1);
    let food = rating(&app, Role::Department, FOOD, "FOOD_DRUG").await;
    assert!(food["rating"].is_null(), "{food}");
    let medical = rating(&app, Role::Department, FOOD, "MEDICAL").await;
    assert_eq!(medical["rating"]["cause"], "SUBJECT", "{medical}");
}

both!(
    the_generator_makes_valid_data_from_a_seed_once,
    a_new_industry_moves_the_subject_between_industry_models,
    lists_of_ids_and_keys_are_read_by_index_and_writes_plan_afresh,
    every_write_moves_the_rating_at_once,
    serious_dishonesty_forces_d_until_removed,
    models_are_versioned_validated_and_activated,
    the_evaluation_run_rates_everyone_once,
    an_interrupted_run_resumes_without_repeating_and_two_workers_share_it,
    supervision_lists_by_level_and_samples_reproducibly,
    households_roll_up_to_credit_villages_and_townships,
);
