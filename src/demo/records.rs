//! A year of licenses and penalties from the district's departments (some late, a few refused),
//! a few list entries, and declared decision counts for the last three months.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use entity::{credit_record, decision_count, organization, subject};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::{Map, json};

use super::Seeded;
use crate::audit::Actor;
use crate::auth::{Principal, Role};
use crate::calendar;
use crate::error::AppError;
use crate::lists::{ListKind, service as lists};
use crate::records::service::{self as records, RecordRow, RowOutcome, china_today};
use crate::state::AppState;
use crate::subjects::rules::CreditCode;

/// Departments that decide penalties, with a violation, a legal basis and their types.
const PENALTIES: &[(&str, &str, &str, &str)] = &[
    (
        "MARKET_REGULATION",
        "销售过期食品",
        "《中华人民共和国食品安全法》第一百二十四条",
        "罚款;没收违法所得",
    ),
    (
        "MARKET_REGULATION",
        "未按规定公示年度报告",
        "《企业信息公示暂行条例》第十八条",
        "警告",
    ),
    (
        "ECOLOGY_ENVIRONMENT",
        "超标排放水污染物",
        "《中华人民共和国水污染防治法》第八十三条",
        "罚款",
    ),
    (
        "EMERGENCY_MANAGEMENT",
        "未按规定开展安全生产教育培训",
        "《中华人民共和国安全生产法》第九十七条",
        "罚款",
    ),
    (
        "EMERGENCY_MANAGEMENT",
        "存在重大事故隐患拒不整改",
        "《中华人民共和国安全生产法》第一百零二条",
        "责令停产停业;罚款",
    ),
    (
        "TRANSPORT",
        "超限运输",
        "《公路安全保护条例》第六十四条",
        "罚款",
    ),
    (
        "FIRE_RESCUE",
        "消防设施未保持完好有效",
        "《中华人民共和国消防法》第六十条",
        "罚款",
    ),
    (
        "HEALTH",
        "未取得卫生许可证从事公共场所经营",
        "《公共场所卫生管理条例》第十四条",
        "警告;罚款",
    ),
    (
        "HOUSING_CONSTRUCTION",
        "未取得施工许可证擅自施工",
        "《建筑工程施工许可管理办法》第十二条",
        "罚款",
    ),
    (
        "TAXATION",
        "未按期办理纳税申报",
        "《中华人民共和国税收征收管理法》第六十二条",
        "罚款",
    ),
    (
        "MEDICAL_SECURITY",
        "违规使用医保基金",
        "《医疗保障基金使用监督管理条例》第三十八条",
        "罚款;吊销许可证件",
    ),
    (
        "AGRICULTURE",
        "经营假劣农药",
        "《农药管理条例》第五十五条",
        "罚款;没收违法所得",
    ),
];

/// Departments that grant licenses, with the license.
const LICENSES: &[(&str, &str, &str)] = &[
    ("MARKET_REGULATION", "食品经营许可证", "核准"),
    ("HEALTH", "公共场所卫生许可证", "普通"),
    ("HOUSING_CONSTRUCTION", "建筑工程施工许可证", "普通"),
    ("TRANSPORT", "道路运输经营许可证", "普通"),
    ("ECOLOGY_ENVIRONMENT", "排污许可证", "普通"),
    ("AGRICULTURE", "农药经营许可证", "普通"),
    ("CIVIL_AFFAIRS", "养老机构备案", "登记"),
    (
        "FIRE_RESCUE",
        "公众聚集场所投入使用营业前消防安全检查合格证",
        "核准",
    ),
    ("EDUCATION_SPORTS", "民办学校办学许可证", "普通"),
];

/// A valid USCC for a department (category 11, the district's region), from its code.
pub fn department_uscc(code: &str) -> String {
    let mut rng = Seeded(
        code.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let chars: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let body: String = (0..9).map(|_| char::from(*rng.pick(chars))).collect();
    CreditCode::with_check_character(&format!("11360404{body}"))
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn actor_for(department: &str) -> Actor {
    Actor {
        request_id: Some("cli:demo-data".into()),
        principal: Some(Principal {
            client_id: "cli:demo-data".into(),
            organization: department.to_owned(),
            role: Role::Department,
            scopes: vec!["subjects:write".into()],
        }),
    }
}

fn instant(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    // Mid-morning in China is early morning UTC.
    date.and_hms_opt(hour, 30, 0)
        .map(|t| t.and_utc() - Duration::hours(8))
        .unwrap_or_else(Utc::now)
}

/// Loads the demo records once: a second run finds them and does nothing.
pub async fn load(state: &AppState) -> Result<usize, AppError> {
    if credit_record::Entity::find().count(&state.db).await? > 0 {
        return Ok(0);
    }
    let organizations = organization::Entity::find().all(&state.db).await?;
    let name_of = |code: &str| {
        organizations
            .iter()
            .find(|o| o.code == code)
            .map_or_else(|| code.to_owned(), |o| o.name.clone())
    };
    let enterprises: Vec<subject::Model> = subject::Entity::find()
        .filter(subject::Column::Kind.is_in([
            "ENTERPRISE",
            "INDIVIDUAL_BUSINESS",
            "FARMER_COOPERATIVE",
        ]))
        .order_by_asc(subject::Column::Id)
        .all(&state.db)
        .await?;
    if enterprises.is_empty() {
        return Ok(0);
    }
    let calendar = calendar::service::load(&state.db).await?;
    let today = china_today();
    let mut rng = Seeded(0x5EED_2026_0003);
    let mut batches: std::collections::BTreeMap<String, Vec<RecordRow>> = Default::default();

    for n in 0..520u32 {
        let days_ago = i64::from(1 + rng.below(365) as u32);
        let decided = today - Duration::days(days_ago);
        let subject = rng.pick(&enterprises).clone();
        // Most reports arrive within 7 working days; about one in eight is late.
        let delay = if rng.below(8) == 0 {
            8 + rng.below(10) as u32
        } else {
            1 + rng.below(7) as u32
        };
        let reported = calendar.nth_working_day_after(decided, delay).min(today);
        let reported_at = instant(reported, 10);
        let legal_rep = "张建国";
        if n % 3 == 0 {
            let (department, license, category) = *rng.pick(LICENSES);
            let authority = name_of(department);
            let uscc = department_uscc(department);
            let mut fields = Map::new();
            for (k, v) in [
                ("XK_XDR_MC", json!(subject.name)),
                ("XK_XDR_LB", json!("法人及非法人组织")),
                ("XK_XDR_SHXYM", json!(subject.display_code)),
                ("XK_FRDB", json!(legal_rep)),
                ("XK_XKWS", json!(format!("{license}准予许可决定书"))),
                (
                    "XK_WSH",
                    json!(format!(
                        "柴{}许〔{}〕{}号",
                        &department[..2],
                        decided.format("%Y"),
                        1000 + n
                    )),
                ),
                ("XK_XKLB", json!(category)),
                ("XK_XKZS", json!(license)),
                ("XK_XKBH", json!(format!("JY3604{:08}", n))),
                ("XK_NR", json!(format!("准予{}", license))),
                ("XK_JDRQ", json!(decided.to_string())),
                ("XK_YXQZ", json!(decided.to_string())),
                (
                    "XK_YXQZI",
                    json!((decided + Duration::days(5 * 365)).to_string()),
                ),
                ("XK_XKJG", json!(authority)),
                ("XK_XKJGDM", json!(uscc)),
                ("XK_LYDW", json!(authority)),
                ("XK_LYDWDM", json!(uscc)),
            ] {
                fields.insert(k.to_owned(), v);
            }
            batches
                .entry(department.to_owned())
                .or_default()
                .push(RecordRow {
                    item: "ADMIN_LICENSE".into(),
                    fields,
                    reported_at: Some(reported_at),
                    ..Default::default()
                });
        } else {
            let (department, violation, basis, types) = *rng.pick(PENALTIES);
            let authority = name_of(department);
            let uscc = department_uscc(department);
            let fine = (1 + rng.below(50)) as f64 * 0.1;
            let mut fields = Map::new();
            for (k, v) in [
                ("CF_XDR_MC", json!(subject.name)),
                ("CF_XDR_LB", json!("法人及非法人组织")),
                ("CF_XDR_SHXYM", json!(subject.display_code)),
                ("CF_FRDB", json!(legal_rep)),
                (
                    "CF_WSH",
                    json!(format!(
                        "柴{}罚〔{}〕{}号",
                        &department[..2],
                        decided.format("%Y"),
                        2000 + n
                    )),
                ),
                ("CF_WFXW", json!(violation)),
                (
                    "CF_SY",
                    json!(format!("经查，当事人{violation}，事实清楚，证据确凿。")),
                ),
                ("CF_YJ", json!(basis)),
                ("CF_CFLB", json!(types)),
                (
                    "CF_NR",
                    json!(format!(
                        "{}，罚款{}元",
                        types.replace(';', "、"),
                        (fine * 10000.0).round()
                    )),
                ),
                ("CF_JDRQ", json!(decided.to_string())),
                ("CF_CFJG", json!(authority)),
                ("CF_CFJGDM", json!(uscc)),
                ("CF_SJLY", json!(authority)),
                ("CF_SJLYDM", json!(uscc)),
            ] {
                fields.insert(k.to_owned(), v);
            }
            if types.contains("罚款") {
                fields.insert("CF_NR_FK".into(), json!((fine * 100.0).round() / 100.0));
            }
            if types.contains("没收违法所得") {
                fields.insert("CF_NR_WFFF".into(), json!(0.05));
            }
            if types.contains("吊销许可证件") {
                fields.insert("CF_NR_ZKDX".into(), json!("医疗机构执业许可证"));
            }
            // About one row in twenty comes with a mistake and is refused (and kept).
            if rng.below(20) == 0 {
                fields.remove("CF_SY");
                fields.insert("CF_CFJGDM".into(), json!("11360404MB0000000X"));
            }
            batches
                .entry(department.to_owned())
                .or_default()
                .push(RecordRow {
                    item: "ADMIN_PENALTY".into(),
                    fields,
                    reported_at: Some(reported_at),
                    ..Default::default()
                });
        }
    }

    let mut accepted = 0;
    for (department, rows) in &batches {
        let outcomes = records::submit(
            &state.db,
            &actor_for(department),
            &state.person_keys,
            &state.rating_queue,
            rows,
        )
        .await?;
        accepted += outcomes
            .iter()
            .filter(|o| matches!(o, RowOutcome::Accepted(_)))
            .count();
    }
    // The demo starts with every rating stored, so that its supervision lists show them at once.
    crate::ratings::queue::rate_all(&state.db).await?;

    // A few list entries.
    let lists_to_add = [
        (
            0usize,
            ListKind::Red,
            "TAXATION",
            "纳税信用A级纳税人",
            "《纳税信用管理办法（试行）》",
        ),
        (
            1,
            ListKind::Red,
            "TAXATION",
            "纳税信用A级纳税人",
            "《纳税信用管理办法（试行）》",
        ),
        (
            2,
            ListKind::Red,
            "MARKET_REGULATION",
            "守合同重信用企业",
            "江西省守合同重信用企业公示办法",
        ),
        (
            3,
            ListKind::SeriousDishonesty,
            "MARKET_REGULATION",
            "食品安全严重违法生产经营者",
            "《市场监督管理严重违法失信名单管理办法》第九条",
        ),
        (
            4,
            ListKind::SeriousDishonesty,
            "EMERGENCY_MANAGEMENT",
            "安全生产严重失信主体",
            "《安全生产严重失信主体名单管理办法》第五条",
        ),
        (
            5,
            ListKind::KeyAttention,
            "MARKET_REGULATION",
            "一年内受到三次以上行政处罚",
            "柴桑区社会信用体系建设工作方案",
        ),
    ];
    for (index, list, department, reason, basis) in lists_to_add {
        let Some(subject) = enterprises.get(index * 7) else {
            continue;
        };
        let _ = lists::add(
            &state.db,
            &actor_for(department),
            lists::NewEntry {
                subject_id: subject.id,
                list,
                reason: reason.into(),
                legal_basis: basis.into(),
                decided_on: today - Duration::days(30 + index as i64 * 20),
                until: None,
            },
        )
        .await?;
    }

    // Declared decision counts for the last three months: what was received plus a few missing.
    let mut month = today;
    let now = Utc::now();
    for _ in 0..3 {
        month = month - Duration::days(i64::from(month.day()));
        let label = month.format("%Y-%m").to_string();
        for department in batches.keys() {
            for category in ["LICENSE", "PENALTY"] {
                let received = credit_record::Entity::find()
                    .filter(credit_record::Column::Department.eq(department.as_str()))
                    .filter(credit_record::Column::Category.eq(category))
                    .filter(
                        credit_record::Column::DecisionDate
                            .between(month.with_day0(0).unwrap_or(month), month),
                    )
                    .count(&state.db)
                    .await?;
                let declared = received + rng.below(3) as u64;
                decision_count::Entity::insert(decision_count::ActiveModel {
                    department: Set(department.clone()),
                    month: Set(label.clone()),
                    category: Set(category.to_owned()),
                    count: Set(declared as i32),
                    declared_by: Set(Some("cli:demo-data".into())),
                    declared_at: Set(now),
                    ..Default::default()
                })
                .on_conflict(
                    OnConflict::columns([
                        decision_count::Column::Department,
                        decision_count::Column::Month,
                        decision_count::Column::Category,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&state.db)
                .await?;
            }
        }
    }
    Ok(accepted)
}
