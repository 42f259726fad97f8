//! Credit records: the catalog, submission row by row, 双公示 timeliness across holidays,
//! publicity periods, visibility per role and per date, corrections, revocations, the report.

use chrono::{Duration, NaiveDate};
use credit_hub::auth::{Principal, Role};
use credit_hub::records::service::{RecordRow, china_today};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{AUTHORITY, Backend, TestApp, callers, days_ago, penalty, spawn_app};

const TOWN: &str = "360404104000";
const FOOD: &str = "91350100M000100Y43";
const BUILDER: &str = "91320621MA1MRHG205";
const AGENCY: &str = "11230500001755309F";
const PERSON: &str = "11010519491231002X";

async fn seed_subjects(app: &TestApp) {
    let answer = app
        .as_role(
            Role::Admin,
            "mutation ($s: [SubjectInput!]!) { registerSubjects(input: {subjects: $s}) { refusedCount userErrors { message } } }",
            json!({ "s": [
                {"kind": "ENTERPRISE", "code": FOOD, "name": "九江甲食品有限公司", "regionCode": TOWN, "industryCode": "C"},
                {"kind": "ENTERPRISE", "code": BUILDER, "name": "九江乙建筑有限公司", "regionCode": TOWN, "industryCode": "E"},
                {"kind": "GOVERNMENT_AGENCY", "code": AGENCY, "name": "某镇人民政府", "regionCode": TOWN, "industryCode": "S"},
                {"kind": "NATURAL_PERSON", "code": PERSON, "name": "张三", "regionCode": TOWN},
            ] }),
        )
        .await;
    assert_eq!(
        answer.body["data"]["registerSubjects"]["refusedCount"], 0,
        "{}",
        answer.text
    );
}

const SUBMIT: &str = r#"mutation ($records: [CreditRecordInput!]!) {
  submitCreditRecords(input: {records: $records}) {
    acceptedCount duplicateCount refusedCount lateCount
    results { index status record { id severity publicUntil repairableFrom workingDays late published status sourceRef fields }
              userErrors { field code message } }
  }
}"#;

async fn submit(app: &TestApp, role: Role, records: Value) -> Value {
    let answer = app
        .as_role(role, SUBMIT, json!({ "records": records }))
        .await;
    assert!(answer.body["errors"].is_null(), "{}", answer.text);
    answer.body["data"]["submitCreditRecords"].clone()
}

async fn a_mixed_batch_is_answered_row_by_row_and_twice_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let decided = days_ago(3);
    let by_keys = json!({"item": "admin_penalty", "fields": {
        "subjectName": "九江乙建筑有限公司", "subjectCategory": "法人及非法人组织", "subjectUscc": BUILDER,
        "legalRepresentative": "李四", "decisionNumber": "柴市监罚〔2026〕2号", "violationType": "无证施工",
        "violationFacts": "经查……", "legalBasis": "《建筑法》第六十四条", "penaltyTypes": ["警告"],
        "penaltyContent": "警告", "decisionDate": decided.to_string(), "authority": "柴桑区市场监督管理局",
        "authorityUscc": AUTHORITY, "dataSource": "柴桑区市场监督管理局", "dataSourceUscc": AUTHORITY
    }});
    let mut missing_facts = penalty(FOOD, "柴市监罚〔2026〕3号", decided, "罚款");
    missing_facts["fields"]
        .as_object_mut()
        .expect("object")
        .remove("CF_SY");
    let mut yuan = penalty(FOOD, "柴市监罚〔2026〕4号", decided, "罚款");
    yuan["fields"]["CF_NR_FK"] = json!(2000000);
    let mut mismatch = penalty(FOOD, "柴市监罚〔2026〕5号", decided, "罚款");
    mismatch["sourceRef"] = json!("another number");
    let rows = json!([
        penalty(FOOD, "柴市监罚〔2026〕1号", decided, "罚款"),
        by_keys,
        {"item": "NO_SUCH_ITEM", "fields": {}},
        {"item": "TAX_ARREARS", "subjectCode": FOOD, "severity": "GENERAL", "fields": {"NR": "欠税", "WSH": "税1", "JDRQ": decided.to_string()}},
        missing_facts,
        yuan,
        penalty("91350200776049653A", "柴市监罚〔2026〕6号", decided, "罚款"),
        penalty(FOOD, "柴市监罚〔2026〕7号", china_today() + Duration::days(3), "罚款"),
        mismatch,
        penalty(FOOD, "柴市监罚〔2026〕1号", decided, "罚款"),
    ]);
    let payload = submit(&app, Role::Department, rows.clone()).await;
    let results = payload["results"].as_array().expect("results");
    let status = |i: usize| results[i]["status"].as_str().unwrap_or_default().to_owned();
    let error = |i: usize| results[i]["userErrors"][0].clone();
    assert_eq!(status(0), "ACCEPTED", "{}", results[0]);
    assert_eq!(status(1), "ACCEPTED", "{}", results[1]);
    assert_eq!(results[1]["record"]["severity"], "MINOR");
    assert_eq!(
        results[1]["record"]["published"], false,
        "minor penalties are never public"
    );
    for (i, field, code) in [
        (2, "item", "UNKNOWN_CATALOG_ITEM"),
        (3, "item", "NOT_A_PROVIDER"),
        (4, "fields.CF_SY", "REQUIRED"),
        (5, "fields.CF_NR_FK", "INVALID_FORMAT"),
        (6, "subjectCode", "SUBJECT_NOT_REGISTERED"),
        (7, "decisionDate", "INVALID_DATE"),
        (8, "sourceRef", "MISMATCH"),
        (9, "sourceRef", "DUPLICATE_IN_BATCH"),
    ] {
        assert_eq!(status(i), "REFUSED", "row {i}: {}", results[i]);
        let e = error(i);
        let path = e["field"]
            .as_array()
            .expect("path")
            .iter()
            .skip(2)
            .map(|p| p.as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(".");
        assert_eq!(path, field, "row {i}: {e}");
        assert_eq!(e["field"][0], "records");
        assert_eq!(e["field"][1], i.to_string());
        assert_eq!(e["code"], code, "row {i}: {e}");
    }
    assert!(
        error(5)["message"]
            .as_str()
            .unwrap_or_default()
            .contains("万元")
    );
    assert_eq!(payload["acceptedCount"], 2);
    assert_eq!(payload["refusedCount"], 8);
    // Nothing is lost: refused rows are kept with their reasons.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM refused_record").await,
        8
    );

    // The same batch again: the accepted rows are duplicates, nothing new is stored.
    let again = submit(&app, Role::Department, rows).await;
    assert_eq!(again["acceptedCount"], 0);
    // Row 9 repeats row 0, which is now stored: it too is a duplicate.
    assert_eq!(again["duplicateCount"], 3);
    assert_eq!(
        again["results"][0]["record"]["id"],
        results[0]["record"]["id"]
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM credit_record").await,
        2
    );

    // A changed row under a known sourceRef is refused: it needs a correction.
    let mut changed = penalty(FOOD, "柴市监罚〔2026〕1号", decided, "罚款");
    changed["fields"]["CF_NR_FK"] = json!(0.3);
    let conflict = submit(&app, Role::Department, json!([changed])).await;
    assert_eq!(conflict["results"][0]["userErrors"][0]["code"], "CONFLICT");
    assert!(
        conflict["results"][0]["userErrors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("correctCreditRecord")
    );
    // Another department may use the same document number for its own record.
    let other = app.token_for(Role::Department, "ECOLOGY_ENVIRONMENT");
    let answer = app
        .graphql(
            Some(&other),
            SUBMIT,
            json!({ "records": [penalty(FOOD, "柴市监罚〔2026〕1号", decided, "罚款")] }),
        )
        .await;
    assert_eq!(
        answer.body["data"]["submitCreditRecords"]["acceptedCount"], 1,
        "{}",
        answer.text
    );
}

async fn lateness_counts_working_days_across_national_day_2023(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let q = "query ($from: NaiveDate!, $to: NaiveDate!) { workingDays(from: $from, to: $to, deadline: 7) { workingDays deadlineDate calendarComplete } }";
    let seventh = app
        .graphql(None, q, json!({"from": "2023-09-28", "to": "2023-10-13"}))
        .await;
    assert_eq!(
        seventh.body["data"]["workingDays"],
        json!({"workingDays": 7, "deadlineDate": "2023-10-13", "calendarComplete": true}),
        "{}",
        seventh.text
    );
    let eighth = app
        .graphql(None, q, json!({"from": "2023-09-28", "to": "2023-10-16"}))
        .await;
    assert_eq!(eighth.body["data"]["workingDays"]["workingDays"], 8);
    let makeup = app
        .graphql(None, q, json!({"from": "2023-09-28", "to": "2023-10-07"}))
        .await;
    assert_eq!(
        makeup.body["data"]["workingDays"]["workingDays"], 1,
        "the make-up Saturday is a working day"
    );

    // The same edge through submission: reports received on the 7th and on the 8th working day.
    let decided = NaiveDate::from_ymd_opt(2023, 9, 28).expect("date");
    let received = |d: &str| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .expect("date")
            .and_hms_opt(2, 0, 0)
            .expect("time")
            .and_utc()
    };
    let row = |number: &str, at: &str| RecordRow {
        item: "ADMIN_PENALTY".into(),
        fields: penalty(FOOD, number, decided, "罚款")["fields"]
            .as_object()
            .cloned()
            .expect("fields"),
        reported_at: Some(received(at)),
        ..Default::default()
    };
    let actor = credit_hub::audit::Actor {
        request_id: Some("test".into()),
        principal: Some(Principal {
            client_id: "test".into(),
            organization: "MARKET_REGULATION".into(),
            role: Role::Department,
            scopes: vec!["subjects:write".into()],
        }),
    };
    credit_hub::records::service::submit(
        app.db(),
        &actor,
        &app.state.person_keys,
        &app.state.rating_queue,
        &[
            row("第7个工作日", "2023-10-13"),
            row("第8个工作日", "2023-10-16"),
        ],
    )
    .await
    .expect("submit");
    let records = app
        .as_role(
            Role::Admin,
            &format!("{{ subject(code: \"{FOOD}\") {{ records(category: PENALTY) {{ edges {{ node {{ sourceRef workingDays late calendarComplete }} }} }} }} }}"),
            json!({}),
        )
        .await;
    let edges = records.body["data"]["subject"]["records"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by_ref = |r: &str| {
        edges
            .iter()
            .find(|e| e["node"]["sourceRef"] == r)
            .map(|e| e["node"].clone())
            .unwrap_or_default()
    };
    assert_eq!(by_ref("第7个工作日")["workingDays"], 7, "{}", records.text);
    assert_eq!(by_ref("第7个工作日")["late"], false);
    assert_eq!(by_ref("第8个工作日")["workingDays"], 8);
    assert_eq!(by_ref("第8个工作日")["late"], true);
    assert_eq!(by_ref("第8个工作日")["calendarComplete"], true);

    // A year without calendar data counts weekends only and says so.
    let fallback = app
        .graphql(None, q, json!({"from": "2030-09-28", "to": "2030-10-10"}))
        .await;
    assert_eq!(
        fallback.body["data"]["workingDays"]["calendarComplete"],
        false
    );
    // Loading that year's notice changes the count.
    let load = app
        .as_role(
            Role::Admin,
            "mutation ($csv: String!) { loadCalendar(input: {csv: $csv, source: \"test notice\"}) { daysLoaded years userErrors { message } } }",
            json!({ "csv": "date,kind,holiday\n2030-10-01,HOLIDAY,国庆节\n2030-10-02,HOLIDAY,国庆节\n2030-10-03,HOLIDAY,国庆节\n2030-10-04,HOLIDAY,国庆节\n2030-10-07,HOLIDAY,国庆节\n2030-09-29,WORKDAY,国庆节\n" }),
        )
        .await;
    assert_eq!(
        load.body["data"]["loadCalendar"]["years"],
        json!([2030]),
        "{}",
        load.text
    );
    let loaded = app
        .graphql(None, q, json!({"from": "2030-09-28", "to": "2030-10-10"}))
        .await;
    assert_eq!(loaded.body["data"]["workingDays"]["calendarComplete"], true);
    assert_eq!(
        loaded.body["data"]["workingDays"]["workingDays"], 5,
        "{}",
        loaded.text
    );
    let bad = app
        .as_role(
            Role::Admin,
            "mutation { loadCalendar(input: {csv: \"2030-13-01,HOLIDAY,x\", source: \"s\"}) { userErrors { field code message } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        bad.body["data"]["loadCalendar"]["userErrors"][0]["code"],
        "INVALID_FORMAT"
    );
}

async fn publicity_periods_follow_the_gravest_type(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let decided = days_ago(10);
    let payload = submit(
        &app,
        Role::Department,
        json!([
            penalty(FOOD, "一般", decided, "罚款"),
            penalty(FOOD, "严重", decided, "罚款;吊销许可证件"),
            {"item": "ADMIN_PENALTY", "severity": "GENERAL", "fields": penalty(FOOD, "降级", decided, "罚款;吊销许可证件")["fields"]},
        ]),
    )
    .await;
    let general = &payload["results"][0]["record"];
    let serious = &payload["results"][1]["record"];
    let add = |months: u32| {
        decided
            .checked_add_months(chrono::Months::new(months))
            .expect("date")
    };
    assert_eq!(general["severity"], "GENERAL");
    assert_eq!(
        general["publicUntil"],
        (add(12) - Duration::days(1)).to_string()
    );
    assert_eq!(general["repairableFrom"], add(3).to_string());
    assert_eq!(serious["severity"], "SERIOUS", "{payload}");
    assert_eq!(
        serious["publicUntil"],
        (add(36) - Duration::days(1)).to_string()
    );
    assert_eq!(serious["repairableFrom"], add(12).to_string());
    // A serious type cannot be declared GENERAL.
    assert_eq!(payload["results"][2]["userErrors"][0]["code"], "MISMATCH");
}

async fn visibility_per_role_and_per_date(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    submit(
        &app,
        Role::Department,
        json!([
            penalty(FOOD, "公开中", days_ago(30), "罚款"),
            penalty(FOOD, "已过期", days_ago(400), "罚款"),
            penalty(FOOD, "轻微", days_ago(5), "警告"),
            penalty(FOOD, "将撤销", days_ago(5), "罚款"),
        ]),
    )
    .await;
    let hr = app.token_for(Role::Department, "HUMAN_RESOURCES");
    let answer = app
        .graphql(Some(&hr), SUBMIT, json!({"records": [{"item": "SOCIAL_SECURITY_ARREARS", "subjectCode": FOOD, "severity": "GENERAL", "fields": {"NR": "欠缴社保三个月", "WSH": "人社欠1", "JDRQ": days_ago(5).to_string(), "JE": 1.2}}]}))
        .await;
    assert_eq!(
        answer.body["data"]["submitCreditRecords"]["acceptedCount"], 1,
        "{}",
        answer.text
    );
    let housing = app.token_for(Role::Department, "HOUSING_CONSTRUCTION");
    let answer = app
        .graphql(Some(&housing), SUBMIT, json!({"records": [{"item": "UTILITY_ARREARS", "subjectCode": FOOD, "severity": "GENERAL", "fields": {"NR": "欠缴水费", "WSH": "水欠1", "JDRQ": days_ago(5).to_string()}}]}))
        .await;
    assert_eq!(
        answer.body["data"]["submitCreditRecords"]["acceptedCount"], 1,
        "{}",
        answer.text
    );
    let revoke = app
        .as_role(Role::Department, "mutation { revokeCreditRecord(input: {sourceRef: \"将撤销\", reason: \"复议撤销\"}) { record { status revision history { action reason } } userErrors { message } } }", json!({}))
        .await;
    assert_eq!(
        revoke.body["data"]["revokeCreditRecord"]["record"]["status"], "REVOKED",
        "{}",
        revoke.text
    );
    assert_eq!(
        revoke.body["data"]["revokeCreditRecord"]["record"]["history"][0]["reason"],
        "复议撤销"
    );

    let query = format!(
        "{{ subject(code: \"{FOOD}\") {{ records(first: 50) {{ totalCount edges {{ node {{ sourceRef status isPublic }} }} }} }} }}"
    );
    let seen = |answer: &crate::helpers::Answer| -> Vec<String> {
        let mut refs: Vec<String> = answer.body["data"]["subject"]["records"]["edges"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| {
                        e["node"]["sourceRef"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        refs.sort();
        refs
    };
    let sorted = |refs: &[&str]| {
        let mut v: Vec<String> = refs.iter().map(|s| (*s).to_owned()).collect();
        v.sort();
        v
    };
    let anonymous = app.graphql(None, &query, json!({})).await;
    assert_eq!(seen(&anonymous), sorted(&["公开中"]), "{}", anonymous.text);
    for role in [Role::Bank, Role::App, Role::Partner] {
        let answer = app.as_role(role, &query, json!({})).await;
        assert_eq!(seen(&answer), sorted(&["公开中"]), "{role:?}");
    }
    // An approval hall also sees government-shared and expired or minor records, not AUTHORIZED ones.
    let hall = app.as_role(Role::ApprovalHall, &query, json!({})).await;
    assert_eq!(
        seen(&hall),
        sorted(&["公开中", "已过期", "轻微", "人社欠1"]),
        "{}",
        hall.text
    );
    // The providing department sees all of its own, revoked included.
    let own = app.as_role(Role::Department, &query, json!({})).await;
    assert_eq!(
        seen(&own),
        sorted(&["公开中", "已过期", "轻微", "将撤销", "人社欠1"])
    );
    let housing_view = app.graphql(Some(&housing), &query, json!({})).await;
    assert!(seen(&housing_view).contains(&"水欠1".to_owned()));
    let admin = app.as_role(Role::Admin, &query, json!({})).await;
    assert_eq!(seen(&admin).len(), 6);
    // The expired record says so, by date.
    let expired = app
        .as_role(Role::Admin, &format!("{{ subject(code: \"{FOOD}\") {{ records(status: EXPIRED) {{ edges {{ node {{ sourceRef status }} }} }} }} }}"), json!({}))
        .await;
    assert_eq!(seen(&expired), sorted(&["已过期"]));

    // The credit report groups what the caller may see, and masks ID numbers.
    let report = app
        .graphql(None, &format!("{{ subject(code: \"{FOOD}\") {{ creditReport {{ subjectCode sections {{ category categoryName records {{ sourceRef }} }} }} }} }}"), json!({}))
        .await;
    let sections = &report.body["data"]["subject"]["creditReport"]["sections"];
    assert_eq!(
        sections.as_array().map(Vec::len),
        Some(1),
        "{}",
        report.text
    );
    assert_eq!(sections[0]["category"], "PENALTY");
}

async fn corrections_keep_history_and_recompute(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let payload = submit(
        &app,
        Role::Department,
        json!([penalty(FOOD, "待更正", days_ago(20), "罚款")]),
    )
    .await;
    let id = payload["results"][0]["record"]["id"].clone();
    let mut fields = penalty(FOOD, "待更正", days_ago(20), "罚款;吊销许可证件")["fields"].clone();
    fields["CF_NR"] = json!("罚款2000元，吊销食品经营许可证");
    let correct = "mutation ($input: CorrectCreditRecordInput!) { correctCreditRecord(input: $input) { record { severity revision publicUntil fields history { revision action reason fields } } userErrors { field code message } } }";
    let answer = app
        .as_role(
            Role::Department,
            correct,
            json!({"input": {"id": id, "reason": "处罚类别录入遗漏", "fields": fields}}),
        )
        .await;
    let record = &answer.body["data"]["correctCreditRecord"]["record"];
    assert_eq!(record["severity"], "SERIOUS", "{}", answer.text);
    assert_eq!(record["revision"], 2);
    assert_eq!(record["history"][0]["action"], "CORRECTED");
    assert_eq!(record["history"][0]["fields"]["CF_CFLB"], "罚款");
    // Another department cannot correct it; a correction needs a reason.
    let other = app.token_for(Role::Department, "TRANSPORT");
    let answer = app
        .graphql(
            Some(&other),
            correct,
            json!({"input": {"id": id, "reason": "x"}}),
        )
        .await;
    assert_eq!(
        answer.body["data"]["correctCreditRecord"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let answer = app
        .as_role(
            Role::Department,
            correct,
            json!({"input": {"id": id, "reason": " "}}),
        )
        .await;
    assert_eq!(
        answer.body["data"]["correctCreditRecord"]["userErrors"][0]["field"],
        json!(["reason"])
    );
}

async fn the_publicity_report_counts_late_refused_and_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    // Decided today: reported on time.
    let today = china_today();
    submit(
        &app,
        Role::Department,
        json!([
            penalty(FOOD, "R1", today, "罚款"),
            penalty(FOOD, "R2", today, "罚款"),
            penalty(FOOD, "R3", days_ago(40), "罚款"),
            {"item": "ADMIN_PENALTY", "fields": {"CF_WSH": "bad"}},
        ]),
    )
    .await;
    let month = today.format("%Y-%m").to_string();
    let declare = app
        .as_role(Role::Department, "mutation ($m: String!) { declareDecisionCounts(input: {month: $m, licenses: 0, penalties: 5}) { department month userErrors { message } } }", json!({"m": month}))
        .await;
    assert_eq!(
        declare.body["data"]["declareDecisionCounts"]["department"], "MARKET_REGULATION",
        "{}",
        declare.text
    );
    let report = "query ($date: NaiveDate!, $period: ReportPeriod!) { publicityReport(period: $period, date: $date) { start end calendarComplete notes
        departments { department submitted late refused declared received missing lateRate errorRate missingRate }
        total { submitted late refused declared missing } } }";
    let answer = app
        .as_role(
            Role::Admin,
            report,
            json!({"date": today.to_string(), "period": "MONTH"}),
        )
        .await;
    let data = &answer.body["data"]["publicityReport"];
    let market = data["departments"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r["department"] == "MARKET_REGULATION"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(market["submitted"], 3, "{}", answer.text);
    assert_eq!(market["late"], 1);
    assert_eq!(market["refused"], 1);
    assert_eq!(market["declared"], 5);
    // R3 was decided 40 days ago, so this month received two of the five declared decisions.
    let received_this_month = if days_ago(40).format("%Y-%m").to_string() == month {
        3
    } else {
        2
    };
    assert_eq!(market["received"], received_this_month);
    assert_eq!(market["missing"], 5 - received_this_month);
    assert!((market["lateRate"].as_f64().unwrap_or_default() - 1.0 / 3.0).abs() < 1e-9);
    assert!((market["errorRate"].as_f64().unwrap_or_default() - 0.25).abs() < 1e-9);
    assert!(data["total"]["submitted"].as_u64().unwrap_or_default() >= 3);
    let week = app
        .as_role(
            Role::Admin,
            report,
            json!({"date": today.to_string(), "period": "WEEK"}),
        )
        .await;
    assert!(
        week.body["data"]["publicityReport"]["notes"][0]
            .as_str()
            .unwrap_or_default()
            .contains("per month")
    );
    // A department sees only its own row; other roles are refused.
    let own = app
        .as_role(
            Role::Department,
            report,
            json!({"date": today.to_string(), "period": "QUARTER"}),
        )
        .await;
    assert_eq!(
        own.body["data"]["publicityReport"]["departments"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for role in [Role::Bank, Role::App, Role::ApprovalHall] {
        let answer = app
            .as_role(
                role,
                report,
                json!({"date": today.to_string(), "period": "MONTH"}),
            )
            .await;
        assert_eq!(answer.code(), Some("FORBIDDEN"));
    }
}

async fn catalog_edits_never_rewrite_accepted_records(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let catalog = app
        .graphql(
            None,
            "{ catalog { code category doublePublicity fields { code key kind required } } }",
            json!({}),
        )
        .await;
    let items = catalog.body["data"]["catalog"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let categories: std::collections::BTreeSet<String> = items
        .iter()
        .map(|i| i["category"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        categories.len(),
        18,
        "every category is in the default catalog: {categories:?}"
    );
    let penalty_item = items
        .iter()
        .find(|i| i["code"] == "ADMIN_PENALTY")
        .cloned()
        .unwrap_or_default();
    assert!(
        penalty_item["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["code"] == "CF_NR_FK"))
    );

    submit(&app, Role::Admin, json!([{"item": "HONOR_AWARD", "subjectCode": FOOD, "fields": {"NR": "诚信示范企业", "WSH": "荣1", "JDRQ": days_ago(3).to_string()}}])).await;
    let define = "mutation ($input: DefineCatalogItemInput!) { defineCatalogItem(input: $input) { item { code version disclosure category } userErrors { field code message } } }";
    let answer = app
        .as_role(Role::Admin, define, json!({"input": {"code": "HONOR_AWARD", "name": "表彰奖励信息", "category": "OTHER", "polarity": "POSITIVE", "disclosure": "GOVERNMENT", "fields": [
            {"code": "NR", "key": "content", "name": "荣誉名称", "kind": "TEXT", "required": true},
            {"code": "WSH", "key": "documentNumber", "name": "文号", "kind": "TEXT", "required": true, "role": "SOURCE_REF"},
            {"code": "JDRQ", "key": "decisionDate", "name": "日期", "kind": "DATE", "required": true, "role": "DECISION_DATE"}
        ]}}))
        .await;
    assert_eq!(
        answer.body["data"]["defineCatalogItem"]["item"]["version"], 2,
        "{}",
        answer.text
    );
    let record = app
        .graphql(None, &format!("{{ subject(code: \"{FOOD}\") {{ records(category: HONOR) {{ edges {{ node {{ category disclosure catalogVersion }} }} }} }} }}"), json!({}))
        .await;
    let node = &record.body["data"]["subject"]["records"]["edges"][0]["node"];
    assert_eq!(node["category"], "HONOR", "{}", record.text);
    assert_eq!(node["disclosure"], "PUBLIC");
    assert_eq!(node["catalogVersion"], 1);
    // Specs are checked on save; only admins define items.
    let bad = app
        .as_role(Role::Admin, define, json!({"input": {"code": "BAD ITEM", "name": "", "category": "OTHER", "polarity": "NEGATIVE", "disclosure": "PUBLIC", "fields": [
            {"code": "A", "key": "a", "name": "a", "kind": "ENUM"}
        ]}}))
        .await;
    let errors = bad.body["data"]["defineCatalogItem"]["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errors.len(), 3, "{}", bad.text);
    let refused = app.as_role(Role::Department, define, json!({"input": {"code": "X", "name": "x", "category": "OTHER", "polarity": "NEGATIVE", "disclosure": "PUBLIC", "fields": []}})).await;
    assert_eq!(refused.code(), Some("FORBIDDEN"));
}

async fn government_integrity_records_on_agencies(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let finance = app.token_for(Role::Department, "FINANCE");
    let answer = app
        .graphql(Some(&finance), SUBMIT, json!({"records": [{"item": "GOV_ARREARS_TO_ENTERPRISES", "subjectCode": AGENCY, "severity": "GENERAL",
            "fields": {"NR": "拖欠民营企业工程款", "WSH": "财清欠1", "JDRQ": days_ago(15).to_string(), "JE": 35.5, "ZQR": "九江乙建筑有限公司"}}]}))
        .await;
    assert_eq!(
        answer.body["data"]["submitCreditRecords"]["acceptedCount"], 1,
        "{}",
        answer.text
    );
    let public = app
        .graphql(None, &format!("{{ subject(code: \"{AGENCY}\") {{ kind records(category: GOVERNMENT_INTEGRITY) {{ totalCount edges {{ node {{ item fields }} }} }} }} }}"), json!({}))
        .await;
    assert_eq!(public.body["data"]["subject"]["kind"], "GOVERNMENT_AGENCY");
    assert_eq!(
        public.body["data"]["subject"]["records"]["totalCount"], 1,
        "{}",
        public.text
    );
    assert_eq!(
        public.body["data"]["subject"]["records"]["edges"][0]["node"]["fields"]["JE"],
        35.5
    );
}

async fn every_role_against_the_record_operations(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let submit_query = format!(
        "mutation {{ submitCreditRecords(input: {{records: [{{item: \"HONOR_AWARD\", subjectCode: \"{FOOD}\", fields: {{NR: \"x\", WSH: \"r\", JDRQ: \"2024-01-02\"}}}}]}}) {{ refusedCount }} }}"
    );
    let operations: [(&str, String, &[Role], bool); 5] = [
        ("submitCreditRecords", submit_query, &[Role::Admin, Role::Department], false),
        ("declareDecisionCounts", "mutation { declareDecisionCounts(input: {month: \"2024-01\", licenses: 1, penalties: 1, department: \"TRANSPORT\"}) { month } }".into(), &[Role::Admin, Role::Department], false),
        ("loadCalendar", "mutation { loadCalendar(input: {csv: \"2031-01-01,HOLIDAY,元旦\", source: \"t\"}) { daysLoaded } }".into(), &[Role::Admin], false),
        ("catalog", "{ catalog { code } }".into(), &Role::ALL, true),
        ("lists", "{ lists(list: RED) { totalCount } }".into(), &Role::ALL, true),
    ];
    for caller in callers() {
        for (name, query, allowed, anonymous_ok) in &operations {
            let answer = match caller {
                Some(role) => app.as_role(role, query, json!({})).await,
                None => app.graphql(None, query, json!({})).await,
            };
            let may = caller.map_or(*anonymous_ok, |r| allowed.contains(&r));
            if may {
                assert!(
                    answer.body["errors"].is_null(),
                    "{caller:?} {name}: {}",
                    answer.text
                );
            } else {
                assert!(
                    matches!(answer.code(), Some("FORBIDDEN" | "UNAUTHENTICATED")),
                    "{caller:?} {name}: {}",
                    answer.text
                );
            }
        }
    }
}

async fn a_persons_penalty_finds_the_person_and_keeps_the_id_masked(backend: Backend) {
    let app = spawn_app(backend).await;
    seed_subjects(&app).await;
    let mut row = penalty(FOOD, "自然人罚1", days_ago(4), "罚款");
    let fields = row["fields"].as_object_mut().expect("object");
    fields.remove("CF_XDR_SHXYM");
    fields.remove("CF_FRDB");
    fields.insert("CF_XDR_MC".into(), json!("张三"));
    fields.insert("CF_XDR_LB".into(), json!("自然人"));
    fields.insert("CF_XDR_ZJLX".into(), json!("身份证"));
    fields.insert("CF_XDR_ZJHM".into(), json!(PERSON.to_lowercase()));
    let payload = submit(&app, Role::Department, json!([row])).await;
    let record = &payload["results"][0]["record"];
    assert_eq!(payload["acceptedCount"], 1, "{payload}");
    assert_eq!(record["fields"]["CF_XDR_ZJHM"], "1101**********002X");
    let clear = app
        .count("SELECT COUNT(*) AS n FROM credit_record WHERE fields LIKE '%19491231%'")
        .await;
    assert_eq!(clear, 0, "the resident ID is never stored in the clear");
    // The record is public, and node(id) fetches it as the caller may see it.
    let id = record["id"].clone();
    let node = app
        .graphql(
            None,
            "query ($id: ID!) { node(id: $id) { ... on CreditRecord { sourceRef isPublic } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        node.body["data"]["node"]["sourceRef"], "自然人罚1",
        "{}",
        node.text
    );
    // The person's report, read by a department, shows the masked ID and is audited.
    let report = app
        .as_role(
            Role::ApprovalHall,
            &format!("{{ subject(code: \"{PERSON}\") {{ code creditReport {{ subjectCode sections {{ records {{ fields }} }} }} }} }}"),
            json!({}),
        )
        .await;
    let subject = &report.body["data"]["subject"];
    assert_eq!(
        subject["creditReport"]["subjectCode"], "1101**********002X",
        "{}",
        report.text
    );
    assert_eq!(
        subject["creditReport"]["sections"][0]["records"][0]["fields"]["CF_XDR_ZJHM"],
        "1101**********002X"
    );
    let audited = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'readCreditReport' AND organization_code = 'APPROVAL_HALL'")
        .await;
    assert_eq!(audited, 1);
}

both!(
    a_persons_penalty_finds_the_person_and_keeps_the_id_masked,
    a_mixed_batch_is_answered_row_by_row_and_twice_is_idempotent,
    lateness_counts_working_days_across_national_day_2023,
    publicity_periods_follow_the_gravest_type,
    visibility_per_role_and_per_date,
    corrections_keep_history_and_recompute,
    the_publicity_report_counts_late_refused_and_missing,
    catalog_edits_never_rewrite_accepted_records,
    government_integrity_records_on_agencies,
    every_role_against_the_record_operations,
);
