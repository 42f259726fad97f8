//! 信易+: eligibility follows grades, lists and records as every write leaves them (a revoked
//! record stops counting at once), each role asks only what it may, apps record uses once,
//! banks publish loan products and feed outcomes back into the credit record.

use credit_hub::auth::Role;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, days_ago, penalty, register, spawn_app, spawn_app_with};

const TOWN: &str = "360404104000";
const FOOD: &str = "91350100M000100Y43";
const PERSON: &str = "360404198001010012";
/// Valid, but never registered.
const STRANGER: &str = "91360404MA35XXY27N";

const ELIGIBILITY: &str = r#"query ($code: String!, $scenario: String!, $purpose: Purpose) {
  eligibility(code: $code, scenario: $scenario, purpose: $purpose) {
    code scenario registered eligible model grade gradeClass score evaluatedAt
    reasons { code met messageZh messageEn } } }"#;

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

async fn ask(
    app: &TestApp,
    role: Role,
    code: &str,
    scenario: &str,
    purpose: Option<&str>,
) -> Value {
    let answer = app
        .as_role(
            role,
            ELIGIBILITY,
            json!({"code": code, "scenario": scenario, "purpose": purpose}),
        )
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["eligibility"].clone()
}

/// Submits a serious penalty (a licence revoked) against FOOD, decided ten days ago.
async fn serious_penalty(app: &TestApp, source_ref: &str) {
    let submitted = app
        .as_role(
            Role::Department,
            "mutation ($r: [CreditRecordInput!]!) { submitCreditRecords(input: {records: $r}) { acceptedCount } }",
            json!({"r": [penalty(FOOD, source_ref, days_ago(10), "罚款;吊销许可证件")]}),
        )
        .await;
    assert_eq!(
        submitted.body["data"]["submitCreditRecords"]["acceptedCount"], 1,
        "{}",
        submitted.text
    );
}

fn unmet(answer: &Value) -> Vec<String> {
    answer["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|r| r["met"] == false)
                .filter_map(|r| r["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn eligibility_follows_every_write(backend: Backend) {
    let app = setup(backend).await;
    let hall = ask(&app, Role::ApprovalHall, FOOD, "XINYI_PI_RONGQUE", None).await;
    assert_eq!(hall["eligible"], true, "{hall}");
    assert_eq!(
        (hall["grade"].as_str(), hall["score"].as_i64()),
        (Some("A"), Some(1000))
    );
    assert!(
        hall["reasons"][0]["messageZh"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // A serious penalty: the loan product's "no serious record in 36 months" fails at once.
    serious_penalty(&app, "柴市监罚〔2026〕88号").await;
    let loan = ask(
        &app,
        Role::Bank,
        FOOD,
        "XINYI_DAI_JIUJIANG_BANK",
        Some("LOAN_APPLICATION"),
    )
    .await;
    assert_eq!(loan["eligible"], false, "{loan}");
    assert!(
        unmet(&loan).contains(&"NEGATIVE_RECORD".to_owned()),
        "{loan}"
    );

    // On the serious-dishonesty list: excluded (and grade D by the override).
    let listed = app
        .as_role(
            Role::Department,
            "mutation ($input: AddListEntryInput!) { addListEntry(input: $input) { entry { id } userErrors { message } } }",
            json!({"input": {"subjectCode": FOOD, "list": "SERIOUS_DISHONESTY", "reason": "食品安全严重违法", "legalBasis": "《市场监督管理严重违法失信名单管理办法》第九条", "decidedOn": days_ago(1).to_string()}}),
        )
        .await;
    let entry = listed.body["data"]["addListEntry"]["entry"]["id"].clone();
    assert!(entry.is_string(), "{}", listed.text);
    let hall = ask(&app, Role::ApprovalHall, FOOD, "XINYI_PI_RONGQUE", None).await;
    assert_eq!(hall["eligible"], false);
    assert_eq!(hall["grade"], "D", "{hall}");
    assert!(unmet(&hall).contains(&"EXCLUDED_LIST".to_owned()), "{hall}");

    // Off the list and the penalty revoked: eligible again, in the very next read.
    let removed = app
        .as_role(
            Role::Department,
            "mutation ($input: RemoveListEntryInput!) { removeListEntry(input: $input) { entry { status } } }",
            json!({"input": {"id": entry, "reason": "信用修复"}}),
        )
        .await;
    assert_eq!(
        removed.body["data"]["removeListEntry"]["entry"]["status"], "REMOVED",
        "{}",
        removed.text
    );
    let revoked = app
        .as_role(
            Role::Department,
            "mutation ($input: RevokeCreditRecordInput!) { revokeCreditRecord(input: $input) { record { status } userErrors { message } } }",
            json!({"input": {"sourceRef": "柴市监罚〔2026〕88号", "reason": "行政复议撤销"}}),
        )
        .await;
    assert!(revoked.body["errors"].is_null(), "{}", revoked.text);
    let loan = ask(
        &app,
        Role::Bank,
        FOOD,
        "XINYI_DAI_JIUJIANG_BANK",
        Some("LOAN_APPLICATION"),
    )
    .await;
    assert_eq!(loan["eligible"], true, "{loan}");

    // The stored state and a state computed afresh agree (the fallback for subjects no write
    // has touched since the state table came).
    app.db()
        .execute_unprepared("DELETE FROM credit_state")
        .await
        .expect("delete");
    let again = ask(
        &app,
        Role::Bank,
        FOOD,
        "XINYI_DAI_JIUJIANG_BANK",
        Some("LOAN_APPLICATION"),
    )
    .await;
    assert_eq!(again["reasons"], loan["reasons"]);

    // Every check is audited with its purpose, written in batches off the request path; a
    // flush (what a graceful stop does after its last request) writes every queued entry, so the
    // count is exact at once.
    app.state.read_audit.flush().await;
    let audited = app
        .count(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'eligibility' AND purpose = 'LOAN_APPLICATION'",
        )
        .await;
    assert_eq!(audited, 3);
}

async fn each_role_asks_only_what_it_may(backend: Backend) {
    let app = setup(backend).await;
    let code_of = |a: &crate::helpers::Answer| a.code().map(str::to_owned);
    let try_ask = |role: Option<Role>, scenario: &'static str, purpose: Option<&'static str>| {
        let app = &app;
        async move {
            let variables = json!({"code": FOOD, "scenario": scenario, "purpose": purpose});
            match role {
                Some(r) => app.as_role(r, ELIGIBILITY, variables).await,
                None => app.graphql(None, ELIGIBILITY, variables).await,
            }
        }
    };
    // An APP asks about its own organization's scenarios only.
    let a = try_ask(Some(Role::App), "XINYI_PI_RONGQUE", None).await;
    assert_eq!(code_of(&a).as_deref(), Some("FORBIDDEN"), "{}", a.text);
    let a = try_ask(Some(Role::App), "XINYI_ZU_DEPOSIT_WAIVER", None).await;
    assert_eq!(
        a.body["data"]["eligibility"]["eligible"], true,
        "{}",
        a.text
    );
    // A BANK about FINANCING only, naming its purpose.
    let a = try_ask(
        Some(Role::Bank),
        "XINYI_ZU_DEPOSIT_WAIVER",
        Some("LOAN_APPLICATION"),
    )
    .await;
    assert_eq!(code_of(&a).as_deref(), Some("FORBIDDEN"), "{}", a.text);
    let a = try_ask(Some(Role::Bank), "XINYI_DAI_JIUJIANG_BANK", None).await;
    assert_eq!(code_of(&a).as_deref(), Some("BAD_USER_INPUT"), "{}", a.text);
    let a = try_ask(Some(Role::Partner), "XINYI_PI_RONGQUE", None).await;
    assert_eq!(code_of(&a).as_deref(), Some("FORBIDDEN"), "{}", a.text);
    let a = try_ask(None, "XINYI_PI_RONGQUE", None).await;
    assert_eq!(
        code_of(&a).as_deref(),
        Some("UNAUTHENTICATED"),
        "{}",
        a.text
    );
    let a = try_ask(Some(Role::Admin), "NO_SUCH_SCENARIO", None).await;
    assert_eq!(code_of(&a).as_deref(), Some("NOT_FOUND"), "{}", a.text);

    // A person, by the library app: the code comes back masked; a kind the scenario is not for.
    let library = ask(&app, Role::App, PERSON, "XINYI_YUE_LIBRARY", None).await;
    assert_eq!(library["eligible"], true, "{library}");
    assert_eq!(library["code"], "3604**********0012");
    let company = ask(&app, Role::App, FOOD, "XINYI_YUE_LIBRARY", None).await;
    assert_eq!(unmet(&company), vec!["SUBJECT_KIND".to_owned()]);

    // In bulk, in the order asked; an unregistered code answers as such.
    let bulk = app
        .as_role(
            Role::ApprovalHall,
            r#"query ($codes: [String!]!) { eligibilities(codes: $codes, scenario: "XINYI_PI_RONGQUE") { code registered eligible reasons { code } } }"#,
            json!({"codes": [STRANGER, FOOD]}),
        )
        .await;
    let list = &bulk.body["data"]["eligibilities"];
    assert_eq!(list[0]["registered"], false, "{}", bulk.text);
    assert_eq!(list[0]["reasons"][0]["code"], "NOT_REGISTERED");
    assert_eq!(
        (list[1]["code"].as_str(), list[1]["eligible"].as_bool()),
        (Some(FOOD), Some(true))
    );

    // Subject.benefits: an APP sees its own organization's scenarios only.
    let benefits = app
        .as_role(
            Role::App,
            r#"query ($code: String!) { subject(code: $code) { benefits { scenario eligible } } }"#,
            json!({"code": FOOD}),
        )
        .await;
    let scenarios: Vec<&str> = benefits.body["data"]["subject"]["benefits"]
        .as_array()
        .map(|b| b.iter().filter_map(|e| e["scenario"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        scenarios,
        vec![
            "XINYI_XING_PARKING",
            "XINYI_YUE_LIBRARY",
            "XINYI_ZU_DEPOSIT_WAIVER"
        ],
        "{}",
        benefits.text
    );
    // The scenarios themselves are public.
    let public = app
        .graphql(
            None,
            "{ benefitScenarios(category: FINANCING) { code provider loan { amountMaxYuan termMonths } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        public.body["data"]["benefitScenarios"][0]["loan"]["termMonths"], 12,
        "{}",
        public.text
    );
}

const USE: &str = r#"mutation ($input: RecordBenefitUseInput!) { recordBenefitUse(input: $input) {
  replayed benefitUse { id scenario externalId grade } userErrors { field code message } } }"#;

const DEFINE: &str = r#"mutation ($input: DefineBenefitScenarioInput!) { defineBenefitScenario(input: $input) {
  scenario { code provider category loan { amountMinYuan rateNote } } userErrors { field code message } } }"#;

const OUTCOME: &str = r#"mutation ($input: RecordLoanOutcomeInput!) { recordLoanOutcome(input: $input) {
  replayed record { item severity department } userErrors { field code message } } }"#;

/// The codes of the loan products a bank sees the food company qualify for, sorted.
async fn products(app: &TestApp) -> Vec<String> {
    let a = app
        .as_role(
            Role::Bank,
            r#"query { loanProducts(code: "91350100M000100Y43", purpose: LOAN_APPLICATION) { scenario eligible } }"#,
            json!({}),
        )
        .await;
    let mut codes: Vec<String> = a.body["data"]["loanProducts"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|e| e["scenario"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes
}

async fn uses_products_and_loan_outcomes(backend: Backend) {
    let app = setup(backend).await;
    let use_of = |id: &str, code: &str, note: &str| json!({"input": {"externalId": id, "scenario": "XINYI_YUE_LIBRARY", "subjectCode": code, "note": note}});
    let first = app
        .as_role(Role::App, USE, use_of("LIB-1", PERSON, "办理免押借阅证"))
        .await;
    let p = &first.body["data"]["recordBenefitUse"];
    assert_eq!(p["replayed"], false, "{}", first.text);
    // Persons are not graded by the comprehensive model: the library's rule asks for no
    // dishonesty instead, and the use keeps no grade.
    assert!(p["benefitUse"]["grade"].is_null(), "{}", first.text);
    let again = app
        .as_role(Role::App, USE, use_of("LIB-1", PERSON, "办理免押借阅证"))
        .await;
    assert_eq!(again.body["data"]["recordBenefitUse"]["replayed"], true);
    let changed = app
        .as_role(Role::App, USE, use_of("LIB-1", PERSON, "另一次"))
        .await;
    assert_eq!(
        changed.body["data"]["recordBenefitUse"]["userErrors"][0]["code"], "CONFLICT",
        "{}",
        changed.text
    );
    let company = app
        .as_role(Role::App, USE, use_of("LIB-2", FOOD, "企业"))
        .await;
    assert_eq!(
        company.body["data"]["recordBenefitUse"]["userErrors"][0]["code"], "NOT_ELIGIBLE",
        "{}",
        company.text
    );
    let bank = app
        .as_role(Role::Bank, USE, use_of("LIB-3", PERSON, "x"))
        .await;
    assert_eq!(bank.code(), Some("FORBIDDEN"));
    // A second use by the same person: two uses, one subject.
    let again = app
        .as_role(Role::App, USE, use_of("LIB-4", PERSON, "续借"))
        .await;
    assert_eq!(
        again.body["data"]["recordBenefitUse"]["replayed"], false,
        "{}",
        again.text
    );
    let today = days_ago(0).to_string();
    let usage = app
        .as_role(
            Role::App,
            "query ($d: NaiveDate!) { benefitUsage(from: $d, to: $d) { scenario month uses subjects } }",
            json!({"d": today}),
        )
        .await;
    assert_eq!(
        usage.body["data"]["benefitUsage"],
        json!([{"scenario": "XINYI_YUE_LIBRARY", "month": &today[..7], "uses": 2, "subjects": 1}]),
        "{}",
        usage.text
    );

    // A bank publishes a loan product, its own and FINANCING only, with a rule that compiles.
    let product = |code: &str, category: &str, months: u32| {
        json!({"input": {"code": code, "name": "信易贷·科技贷", "category": category, "benefit": "纯信用",
          "rule": {"minGradeClass": "A", "noNegative": {"minSeverity": "GENERAL", "months": months}},
          "loan": {"amountMinYuan": 50000, "amountMaxYuan": 1000000, "termMonths": 24, "rateNote": "LPR"}}})
    };
    let made = app
        .as_role(
            Role::Bank,
            DEFINE,
            product("JJB_TECH_LOAN", "FINANCING", 12),
        )
        .await;
    let s = &made.body["data"]["defineBenefitScenario"]["scenario"];
    assert_eq!(s["provider"], "JIUJIANG_BANK", "{}", made.text);
    assert_eq!(s["loan"]["rateNote"], "LPR");
    let bad = app
        .as_role(Role::Bank, DEFINE, product("JJB_RENT", "RENTAL", 0))
        .await;
    let fields: Vec<String> = bad.body["data"]["defineBenefitScenario"]["userErrors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    e["field"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        fields,
        vec!["rule.noNegative.months", "loan", "category"],
        "{}",
        bad.text
    );

    assert_eq!(
        products(&app).await,
        vec!["JJB_TECH_LOAN", "XINYI_DAI_JIUJIANG_BANK"]
    );

    // 以贷促信: 120 days overdue is a SERIOUS record of the bank; no product qualifies then.
    let outcome = json!({"input": {"loanRef": "JJB-2026-001", "product": "XINYI_DAI_JIUJIANG_BANK",
      "subjectCode": FOOD, "outcome": "OVERDUE", "date": days_ago(2).to_string(), "amountYuan": 500000, "overdueDays": 120}});
    let o = app.as_role(Role::Bank, OUTCOME, outcome.clone()).await;
    let r = &o.body["data"]["recordLoanOutcome"];
    assert_eq!(r["record"]["item"], "LOAN_OVERDUE", "{}", o.text);
    assert_eq!(r["record"]["severity"], "SERIOUS");
    assert_eq!(r["record"]["department"], "JIUJIANG_BANK");
    let replay = app.as_role(Role::Bank, OUTCOME, outcome).await;
    assert_eq!(
        replay.body["data"]["recordLoanOutcome"]["replayed"], true,
        "{}",
        replay.text
    );
    assert_eq!(products(&app).await, Vec::<String>::new());
    let other_bank = app.token_for(Role::Bank, "RURAL_COMMERCIAL_BANK");
    let foreign = app
        .graphql(
            Some(&other_bank),
            OUTCOME,
            json!({"input": {"loanRef": "R-1", "product": "XINYI_DAI_JIUJIANG_BANK", "subjectCode": FOOD,
              "outcome": "GRANTED", "date": days_ago(2).to_string(), "amountYuan": 1000}}),
        )
        .await;
    assert_eq!(
        foreign.body["data"]["recordLoanOutcome"]["userErrors"][0]["field"],
        json!(["product"]),
        "{}",
        foreign.text
    );
}

async fn generated_subjects_have_the_state_the_hot_path_reads(backend: Backend) {
    use credit_hub::demo::bulk::{Plan, generate};
    let app = spawn_app(backend).await;
    let plan = Plan {
        subjects: 30,
        records_per_subject: 3,
        seed: 11,
    };
    generate(app.db(), plan, &["360404104000".to_owned()], |_, _| {})
        .await
        .expect("generate");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM credit_state").await,
        30
    );
    // The state of one subject with a negative record, as it was written, and then lost (as
    // for a subject registered before credit states existed): the evaluation writes it again.
    let negative = "SELECT MIN(subject_id) AS n FROM credit_record WHERE polarity = 'NEGATIVE'";
    let subject = app.count(negative).await;
    let facts = format!("SELECT facts FROM credit_state WHERE subject_id = {subject}");
    let written = app.text(&facts).await;
    assert!(written.contains('['), "{written}");
    app.db()
        .execute_unprepared("DELETE FROM credit_state WHERE subject_id % 3 = 0")
        .await
        .expect("delete");
    assert!(app.count("SELECT COUNT(*) AS n FROM credit_state").await < 30);
    let run = credit_hub::ratings::evaluation::start(
        app.db(),
        &credit_hub::audit::Actor::cli("test"),
        "PUBLIC_COMPREHENSIVE",
        None,
        10,
    )
    .await
    .expect("start")
    .expect("a run");
    credit_hub::ratings::evaluation::work(app.db(), run.id, 2, |_, _| {})
        .await
        .expect("work");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM credit_state").await,
        30
    );
    assert_eq!(app.text(&facts).await, written);
}

async fn the_hot_path_is_one_indexed_statement(backend: Backend) {
    use credit_hub::demo::bulk::{Plan, generate};
    let app = setup(backend).await;
    let db = app.db();
    let backend = db.get_database_backend();
    // Enough subjects, with statistics, that a scan is not the cheaper plan: PostgreSQL rightly
    // scans a table of two rows for a list of keys.
    let plan = Plan {
        subjects: 2000,
        records_per_subject: 0,
        seed: 5,
    };
    generate(db, plan, &[TOWN.to_owned()], |_, _| {})
        .await
        .expect("generate");
    if backend == sea_orm::DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await.expect("analyze");
    }
    let sql = credit_hub::benefits::state::read_sql(backend);
    // The keys as text: PostgreSQL reads an array literal into the statement's `$1::text[]`.
    let (explain, keys) = match backend {
        sea_orm::DbBackend::Postgres => {
            (format!("EXPLAIN {sql}"), format!("{{{FOOD},{STRANGER}}}"))
        }
        _ => (
            format!("EXPLAIN QUERY PLAN {sql}"),
            format!("[\"{FOOD}\",\"{STRANGER}\"]"),
        ),
    };
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            explain,
            [keys.into(), "PUBLIC_COMPREHENSIVE".into()],
        ))
        .await
        .expect("explain");
    let plan: Vec<String> = rows
        .iter()
        .map(|r| {
            r.try_get_by_index::<String>(0)
                .or_else(|_| r.try_get::<String>("", "detail"))
                .unwrap_or_default()
        })
        .collect();
    let text = plan.join("\n");
    // The subjects are found by key through the index, never by a scan of the table. (The
    // tables joined by subject id are nearly empty here, and PostgreSQL rightly scans those.)
    match backend {
        sea_orm::DbBackend::Postgres => assert!(
            !text.contains("Seq Scan on subject ")
                && plan
                    .iter()
                    .any(|line| line.contains("Index Scan") && line.contains(" on subject s ")),
            "{text}"
        ),
        _ => assert!(
            !text.contains("SCAN s ") && text.contains("SEARCH s USING INDEX"),
            "{text}"
        ),
    }
    // Every table is probed by its key, whatever the tables held when the plan was made: a
    // PostgreSQL session keeps its generic plan, and one made while the rating queue was empty
    // hashed the whole queue on every check once an upload had filled it (seen at 1,000,000
    // subjects: 0.19 ms → 55 ms a check with 200,000 queued). Here, as then, the queue and the
    // ratings are nearly empty and the planner would scan them without the hot path's settings.
    match backend {
        sea_orm::DbBackend::Postgres => {
            let txn = db.begin().await.expect("begin");
            txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
                .await
                .expect("generic plans");
            txn.execute_unprepared(credit_hub::benefits::state::postgres_settings_locally())
                .await
                .expect("the hot path's settings");
            txn.execute_unprepared(&format!("PREPARE hot_generic(text[], text) AS {sql}"))
                .await
                .expect("prepare");
            let rows = txn
                .query_all_raw(sea_orm::Statement::from_string(
                    backend,
                    format!("EXPLAIN EXECUTE hot_generic('{{{FOOD}}}', 'PUBLIC_COMPREHENSIVE')"),
                ))
                .await
                .expect("explain the generic plan");
            let lines: Vec<String> = rows
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap_or_default())
                .collect();
            let generic = lines.join("\n");
            txn.execute_unprepared("DEALLOCATE hot_generic")
                .await
                .expect("deallocate");
            txn.rollback().await.expect("rollback");
            for whole in ["Seq Scan", "Hash", "Merge", "Materialize"] {
                assert!(!generic.contains(whole), "{whole}:\n{generic}");
            }
            // Each table joined to the subject is read by an index condition on its id.
            for table in ["credit_state cs", "rating_queue q", "rating r"] {
                let at = lines
                    .iter()
                    .position(|l| {
                        l.ends_with(&format!(" on {table}")) || l.contains(&format!(" on {table} "))
                    })
                    .unwrap_or_else(|| panic!("{table} is not read:\n{generic}"));
                let condition = lines.get(at + 1).map(String::as_str).unwrap_or_default();
                assert!(
                    condition.contains("Index Cond:") && condition.contains("subject_id = s.id"),
                    "{table}:\n{generic}"
                );
            }
        }
        _ => {
            for alias in ["cs", "q", "r"] {
                let scan = format!("SCAN {alias}");
                assert!(
                    !plan
                        .iter()
                        .any(|l| *l == scan || l.starts_with(&format!("{scan} "))),
                    "{alias}:\n{text}"
                );
            }
        }
    }
}

/// Checks that arrive together are read together (`hot_path`: one statement for the keys the
/// readers found queued); each still gets its own answer, whatever the mix of codes (known,
/// unknown, repeated) and of scenarios rated by different models.
async fn checks_read_together_get_their_own_answers(backend: Backend) {
    use futures_util::future::join_all;
    let app = setup(backend).await;
    let pick = |a: &Value| {
        json!([
            a["code"],
            a["scenario"],
            a["registered"],
            a["eligible"],
            a["model"],
            a["grade"],
            a["score"]
        ])
    };
    let questions: Vec<(&str, &str)> = [FOOD, PERSON, STRANGER]
        .into_iter()
        .flat_map(|code| {
            ["XINYI_PI_RONGQUE", "XINYI_DAI_RURAL_HOUSEHOLD"].map(|scenario| (code, scenario))
        })
        .collect();
    let mut alone = Vec::new();
    for (code, scenario) in &questions {
        alone.push(pick(
            &ask(&app, Role::Admin, code, scenario, Some("LOAN_APPLICATION")).await,
        ));
    }
    assert_eq!(alone[0][2], true, "{}", alone[0]);
    assert_eq!(alone[4][2], false, "{}", alone[4]);
    assert_ne!(
        alone[0][4], alone[1][4],
        "two models: {} {}",
        alone[0], alone[1]
    );
    let together = join_all((0..60).map(|i| {
        let (code, scenario) = questions[i % questions.len()];
        let app = &app;
        async move { ask(app, Role::Admin, code, scenario, Some("LOAN_APPLICATION")).await }
    }))
    .await;
    for (i, answer) in together.iter().enumerate() {
        assert_eq!(pick(answer), alone[i % questions.len()], "check {i}");
    }
}

/// The hot path reads on connections of its own (`hot_path`): on PostgreSQL the HTTP worker
/// that executes a check reads it on its own connection ("credit-hub hot path, HTTP worker" in
/// `pg_stat_activity`), and the node's readers ("credit-hub hot path") open none. When the
/// server ends the worker's connection, the next check is answered all the same, on a new one.
async fn the_hot_path_replaces_connections_the_server_ended(backend: Backend) {
    use credit_hub::hot_path::{APPLICATION_NAME, WORKER_APPLICATION_NAME};
    let postgres = matches!(backend, Backend::Postgres { .. });
    let app = setup(backend).await;
    let before = ask(&app, Role::ApprovalHall, FOOD, "XINYI_PI_RONGQUE", None).await;
    assert_eq!(before["registered"], true, "{before}");
    if postgres {
        let named = |name: &str| {
            format!(
                "FROM pg_stat_activity WHERE datname = current_database() \
                 AND application_name = '{name}'"
            )
        };
        let hot = named(WORKER_APPLICATION_NAME);
        assert!(app.count(&format!("SELECT count(*) AS n {hot}")).await >= 1);
        let node_readers = named(APPLICATION_NAME);
        assert_eq!(
            app.count(&format!("SELECT count(*) AS n {node_readers}"))
                .await,
            0,
            "checks over HTTP are read by the worker's reader, not the node's"
        );
        let ended = app
            .count(&format!(
                "SELECT count(pg_terminate_backend(pid)) AS n {hot}"
            ))
            .await;
        assert!(ended >= 1);
        for _ in 0..50 {
            if app.count(&format!("SELECT count(*) AS n {hot}")).await == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    for _ in 0..3 {
        let after = ask(&app, Role::ApprovalHall, FOOD, "XINYI_PI_RONGQUE", None).await;
        assert_eq!(after["eligible"], before["eligible"], "{after}");
        assert_eq!(after["grade"], before["grade"], "{after}");
    }
}

async fn a_record_past_its_publicity_stops_counting(backend: Backend) {
    let app = setup(backend).await;
    let define = app
        .as_role(
            Role::Admin,
            DEFINE,
            json!({"input": {"code": "TEST_NO_GENERAL_36", "name": "测试：三年内无一般失信", "category": "OTHER",
              "benefit": "测试", "rule": {"noNegative": {"minSeverity": "GENERAL", "months": 36}}}}),
        )
        .await;
    assert!(
        define.body["data"]["defineBenefitScenario"]["scenario"].is_object(),
        "{}",
        define.text
    );
    let submit =
        |number: &str, days: i64| json!({"r": [penalty(FOOD, number, days_ago(days), "罚款")]});
    let query = "mutation ($r: [CreditRecordInput!]!) { submitCreditRecords(input: {records: $r}) { acceptedCount results { record { severity publicUntil } } } }";
    // GENERAL, decided 400 days ago: its publicity (at most a year) has ended.
    let old = app
        .as_role(Role::Department, query, submit("柴市监罚〔2025〕7号", 400))
        .await;
    let record = &old.body["data"]["submitCreditRecords"]["results"][0]["record"];
    assert_eq!(record["severity"], "GENERAL", "{}", old.text);
    let until = record["publicUntil"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(until < days_ago(0).to_string(), "{}", old.text);
    let answer = ask(&app, Role::Admin, FOOD, "TEST_NO_GENERAL_36", None).await;
    assert_eq!(answer["eligible"], true, "{answer}");
    // A recent one counts.
    app.as_role(Role::Department, query, submit("柴市监罚〔2026〕9号", 30))
        .await;
    let answer = ask(&app, Role::Admin, FOOD, "TEST_NO_GENERAL_36", None).await;
    assert_eq!(
        unmet(&answer),
        vec!["NEGATIVE_RECORD".to_owned()],
        "{answer}"
    );
}

/// Submitted records wait in the rating queue before their ratings are stored; meanwhile every
/// read decides from the records themselves, never from the stored rating they have outdated.
async fn queued_subjects_are_decided_from_their_records(backend: Backend) {
    // The worker would wait an hour: the subject stays queued until the test works it off.
    let app = spawn_app_with(backend, |s| s.rating_delay_ms = 3_600_000).await;
    register(
        &app,
        json!([{"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"}]),
    )
    .await;
    serious_penalty(&app, "柴市监罚〔2026〕66号").await;
    let stored_score = || async {
        app.db()
            .query_one_raw(sea_orm::Statement::from_string(
                app.db().get_database_backend(),
                "SELECT score FROM rating WHERE model_code = 'PUBLIC_COMPREHENSIVE'",
            ))
            .await
            .expect("query")
            .and_then(|row| row.try_get::<i32>("", "score").ok())
    };
    assert_eq!(stored_score().await, Some(1000), "not stored yet");
    assert_eq!(
        credit_hub::ratings::queue::pending(app.db()).await.ok(),
        Some(1)
    );

    let decide = || async {
        let hall = ask(&app, Role::ApprovalHall, FOOD, "XINYI_PI_RONGQUE", None).await;
        let loan = ask(
            &app,
            Role::Bank,
            FOOD,
            "XINYI_DAI_JIUJIANG_BANK",
            Some("LOAN_APPLICATION"),
        )
        .await;
        (hall, loan)
    };
    let (hall, loan) = decide().await;
    assert_eq!(
        (hall["grade"].as_str(), hall["score"].as_i64()),
        (Some("B"), Some(850)),
        "{hall}"
    );
    assert_eq!(loan["eligible"], false, "{loan}");
    assert!(
        unmet(&loan).contains(&"NEGATIVE_RECORD".to_owned()),
        "{loan}"
    );
    let rating_now = || async {
        let answer = app
            .as_role(
                Role::Bank,
                "query ($code: String!) { subject(code: $code) { rating { score cause computedOnRead } } }",
                json!({"code": FOOD}),
            )
            .await;
        assert!(answer.body["errors"].is_null(), "{}", answer.text);
        answer.body["data"]["subject"]["rating"].clone()
    };
    assert_eq!(
        rating_now().await,
        json!({"score": 850, "cause": "RECORD", "computedOnRead": true})
    );

    // Worked off: stored, out of the queue, and every answer the same.
    credit_hub::ratings::queue::rate_all(app.db())
        .await
        .expect("rate the queue");
    assert_eq!(stored_score().await, Some(850));
    assert_eq!(
        credit_hub::ratings::queue::pending(app.db()).await.ok(),
        Some(0)
    );
    let (hall_after, loan_after) = decide().await;
    assert_eq!(
        (
            &hall_after["grade"],
            &hall_after["score"],
            &hall_after["eligible"]
        ),
        (&hall["grade"], &hall["score"], &hall["eligible"])
    );
    assert_eq!(loan_after["reasons"], loan["reasons"]);
    assert_eq!(
        rating_now().await,
        json!({"score": 850, "cause": "RECORD", "computedOnRead": false})
    );
}

/// The audit of checks survives connections the server ended, and a graceful stop writes the
/// audit of every check answered before it. On PostgreSQL: the timed batch of the second
/// checks meets only ended connections (CI once lost such a batch: the writer wrote through the
/// shared pool, which hands out a connection idle under 30 s unpinged, and both its tries took
/// an ended one); the third checks' entries are written by the stop's flush, after the HTTP
/// workers, whose runtimes owned the pool connections they opened, have gone.
async fn a_graceful_stop_writes_the_audit_of_the_last_checks(backend: Backend) {
    use futures_util::future::join_all;
    let app = &setup(backend).await;
    let check = || {
        ask(
            app,
            Role::Bank,
            FOOD,
            "XINYI_DAI_JIUJIANG_BANK",
            Some("LOAN_APPLICATION"),
        )
    };
    // Checks and pool reads at once, so that the workers open connections the pool had not.
    join_all((0..20).map(|i| async move {
        if i % 2 == 0 {
            check().await;
        } else {
            let listed = app
                .as_role(
                    Role::Admin,
                    "{ subjects(first: 5) { totalCount } }",
                    json!({}),
                )
                .await;
            assert!(listed.body["errors"].is_null(), "{}", listed.text);
        }
    }))
    .await;
    // A connection of the test's own (one: a second in its pool would be ended with the
    // node's), which ends every other one of the database: on PostgreSQL the server ends each
    // connection of the node (on SQLite there is nothing to end). Whatever the pools hold
    // then, the writer must not depend on it.
    let one = credit_hub::config::Settings {
        db_max_connections: 1,
        ..app.settings.clone()
    };
    let db = credit_hub::db::connect(&one).await.expect("connect");
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let writers = crate::helpers::count_in(
            &db,
            "SELECT COUNT(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'credit-hub read audit'",
        )
        .await;
        assert_eq!(writers, 1, "the writer's one connection, named");
    }
    let end_the_nodes_connections = || async {
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .await
            .expect("end the node's connections");
        }
    };
    end_the_nodes_connections().await;
    join_all((0..10).map(|_| check())).await;
    // Past the writer's interval: these checks' entries went in a timed batch.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    join_all((0..10).map(|_| check())).await;
    end_the_nodes_connections().await;
    app.stop().await;
    // The writer goes on after the stop: an entry queued now (as by a check the stop waited
    // for) is written too.
    let late = credit_hub::audit::AuditEntry {
        purpose: Some("LOAN_APPLICATION".to_owned()),
        ..credit_hub::audit::AuditEntry::new("eligibility", None)
    };
    app.state
        .read_audit
        .record(app.db(), &credit_hub::audit::Actor::cli("test"), vec![late])
        .await
        .expect("queued");
    app.state.read_audit.flush().await;
    let audited = crate::helpers::count_in(
        &db,
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'eligibility' AND purpose = 'LOAN_APPLICATION'",
    )
    .await;
    assert_eq!(audited, 10 + 10 + 10 + 1);
}

both!(
    a_graceful_stop_writes_the_audit_of_the_last_checks,
    eligibility_follows_every_write,
    each_role_asks_only_what_it_may,
    uses_products_and_loan_outcomes,
    generated_subjects_have_the_state_the_hot_path_reads,
    the_hot_path_is_one_indexed_statement,
    checks_read_together_get_their_own_answers,
    the_hot_path_replaces_connections_the_server_ended,
    a_record_past_its_publicity_stops_counting,
    queued_subjects_are_decided_from_their_records,
);
