//! Demo data for a realistic district: the seeded organizations and about 200 subjects of every
//! kind across the townships of 柴桑区. Deterministic (a fixed seed) and idempotent: loading it
//! twice changes nothing.

pub mod bulk;
pub mod commitments;
pub mod records;

use entity::{organization, region};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait};

use crate::audit::Actor;
use crate::error::AppError;
use crate::state::AppState;
use crate::subjects::SubjectKind;
use crate::subjects::rules::{CreditCode, ResidentId};
use crate::subjects::service::{self, Registration, SubjectDraft};

/// The organizations of the demo district: code, name, kind.
pub const ORGANIZATIONS: &[(&str, &str, &str)] = &[
    ("MARKET_REGULATION", "柴桑区市场监督管理局", "DEPARTMENT"),
    ("TAXATION", "国家税务总局九江市柴桑区税务局", "DEPARTMENT"),
    (
        "HOUSING_CONSTRUCTION",
        "柴桑区住房和城乡建设局",
        "DEPARTMENT",
    ),
    (
        "HUMAN_RESOURCES",
        "柴桑区人力资源和社会保障局",
        "DEPARTMENT",
    ),
    (
        "ECOLOGY_ENVIRONMENT",
        "九江市柴桑区生态环境局",
        "DEPARTMENT",
    ),
    ("EMERGENCY_MANAGEMENT", "柴桑区应急管理局", "DEPARTMENT"),
    ("HEALTH", "柴桑区卫生健康委员会", "DEPARTMENT"),
    ("MEDICAL_SECURITY", "柴桑区医疗保障局", "DEPARTMENT"),
    ("CIVIL_AFFAIRS", "柴桑区民政局", "DEPARTMENT"),
    ("FINANCE", "柴桑区财政局", "DEPARTMENT"),
    ("TRANSPORT", "柴桑区交通运输局", "DEPARTMENT"),
    ("AGRICULTURE", "柴桑区农业农村局", "DEPARTMENT"),
    ("FIRE_RESCUE", "柴桑区消防救援大队", "DEPARTMENT"),
    (
        "PUBLIC_RESOURCES_TRADING",
        "柴桑区公共资源交易中心",
        "DEPARTMENT",
    ),
    ("EDUCATION_SPORTS", "柴桑区教育体育局", "DEPARTMENT"),
    (
        "APPROVAL_HALL",
        "柴桑区行政审批局政务服务大厅",
        "APPROVAL_HALL",
    ),
    ("JIUJIANG_BANK", "九江银行柴桑支行", "BANK"),
    ("RURAL_COMMERCIAL_BANK", "江西柴桑农村商业银行", "BANK"),
    ("CHAISANG_APP", "i柴桑 移动政务服务应用", "APP"),
    ("CATERING_ASSOCIATION", "柴桑区餐饮行业协会", "PARTNER"),
];

/// A small deterministic generator (SplitMix64), so the demo is the same on every machine.
pub(crate) struct Seeded(pub(crate) u64);

impl Seeded {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const USCC_BODY_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The GB 11714 check character of an 8-character organization code body.
fn org_code_check(body: &[u8]) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let value = |c: u8| -> u32 {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        }
    };
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(c, w)| value(*c) * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from(b'0' + n as u8),
    }
}

fn uscc(rng: &mut Seeded, category: &str, region: &str) -> Option<String> {
    let body: Vec<u8> = (0..8).map(|_| *rng.pick(USCC_BODY_CHARS)).collect();
    let check = org_code_check(&body);
    let text = format!("{category}{region}{}{check}", String::from_utf8(body).ok()?);
    CreditCode::with_check_character(&text).map(|c| c.as_str().to_owned())
}

fn resident_id(rng: &mut Seeded) -> Option<String> {
    let year = 1950 + rng.below(50);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let seq = rng.below(1000);
    let body = format!("360421{year:04}{month:02}{day:02}{seq:03}");
    ResidentId::with_check_character(&body).map(|id| id.expose().to_owned())
}

const TRADE_NAMES: &[&str] = &[
    "赣鄱",
    "柴桑",
    "庐山",
    "浔阳",
    "鄱湖",
    "长江",
    "江洲",
    "岷山",
    "马回岭",
    "港口",
    "瑞丰",
    "恒通",
    "华宇",
    "鑫源",
    "宏达",
    "金穗",
    "绿野",
    "德润",
    "永安",
    "新塘",
];
/// Business line, and the GB/T 4754 section it belongs to.
const BUSINESS_LINES: &[(&str, &str)] = &[
    ("食品", "C"),
    ("建筑工程", "E"),
    ("建材", "C"),
    ("物流", "G"),
    ("餐饮管理", "H"),
    ("医药", "F"),
    ("农业开发", "A"),
    ("环保科技", "N"),
    ("电子", "C"),
    ("纺织", "C"),
    ("水产养殖", "A"),
    ("茶业", "A"),
    ("养老服务", "Q"),
    ("商贸", "F"),
    ("房地产开发", "K"),
    ("旅游开发", "R"),
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "罗", "熊",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "志强", "桂兰", "海燕", "文华", "红梅", "国平", "小军", "丽萍", "春生", "金凤",
    "德明", "玉兰", "永福", "慧敏",
];
const SHOPS: &[(&str, &str)] = &[
    ("米粉店", "H"),
    ("小吃店", "H"),
    ("便利店", "F"),
    ("五金店", "F"),
    ("理发店", "O"),
    ("农资店", "F"),
    ("修车铺", "O"),
    ("诊所", "Q"),
];
const PRODUCE: &[&str] = &[
    "水稻",
    "蔬菜",
    "茶叶",
    "水产",
    "生猪",
    "柑橘",
    "油茶",
    "中药材",
];

/// How much the demo load added.
#[derive(Debug, Default)]
pub struct Loaded {
    pub organizations: usize,
    pub subjects: usize,
    pub records: usize,
    pub commitments: usize,
}

/// The demo subjects, always the same: organizations, persons and households across the
/// townships, and eight households in each village (for the rural credit roll-up).
pub fn subjects(townships: &[String], villages: &[String]) -> Vec<SubjectDraft> {
    let mut rng = Seeded(0x00C4_A15A_4E00_2026);
    let mut drafts = Vec::new();
    let region = |rng: &mut Seeded| rng.pick(townships).clone();
    let person_name = |rng: &mut Seeded| format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
    let mut push =
        |kind, code: Option<String>, name: String, region_code: String, industry: Option<&str>| {
            if let Some(code) = code {
                drafts.push(SubjectDraft {
                    kind,
                    code,
                    name,
                    region_code,
                    industry_code: industry.map(str::to_owned),
                    check_waiver_reason: None,
                });
            }
        };
    for _ in 0..90 {
        let (line, industry) = *rng.pick(BUSINESS_LINES);
        let name = format!("九江{}{}有限公司", rng.pick(TRADE_NAMES), line);
        let code = uscc(&mut rng, "91", "360404");
        let r = region(&mut rng);
        push(SubjectKind::Enterprise, code, name, r, Some(industry));
    }
    for _ in 0..40 {
        let (shop, industry) = *rng.pick(SHOPS);
        let name = format!("柴桑区{}记{}", rng.pick(SURNAMES), shop);
        let code = uscc(&mut rng, "92", "360404");
        let r = region(&mut rng);
        push(
            SubjectKind::IndividualBusiness,
            code,
            name,
            r,
            Some(industry),
        );
    }
    for _ in 0..12 {
        let name = format!(
            "九江市柴桑区{}{}种养专业合作社",
            rng.pick(TRADE_NAMES),
            rng.pick(PRODUCE)
        );
        let code = uscc(&mut rng, "93", "360404");
        let r = region(&mut rng);
        push(SubjectKind::FarmerCooperative, code, name, r, Some("A"));
    }
    for name in [
        "柴桑区个体劳动者协会",
        "柴桑区餐饮行业协会",
        "柴桑区建筑业协会",
        "柴桑区老年人体育协会",
        "柴桑区慈善会",
        "柴桑区志愿者协会",
        "柴桑区茶叶协会",
        "柴桑区养老服务协会",
    ] {
        let code = uscc(&mut rng, "51", "360404");
        let r = region(&mut rng);
        push(
            SubjectKind::SocialOrganization,
            code,
            name.to_owned(),
            r,
            Some("S"),
        );
    }
    for (name, industry) in [
        ("柴桑区人民医院", "Q"),
        ("柴桑区中医院", "Q"),
        ("柴桑区疾病预防控制中心", "Q"),
        ("柴桑区第一中学", "P"),
        ("柴桑区实验小学", "P"),
        ("柴桑区职业中专", "P"),
        ("柴桑区农业技术推广中心", "M"),
        ("柴桑区社会福利院", "Q"),
    ] {
        let code = uscc(&mut rng, "12", "360404");
        let r = region(&mut rng);
        push(
            SubjectKind::PublicInstitution,
            code,
            name.to_owned(),
            r,
            Some(industry),
        );
    }
    for name in [
        "九江市柴桑区人民政府沙河街道办事处",
        "九江市柴桑区港口街镇人民政府",
        "九江市柴桑区马回岭镇人民政府",
        "九江市柴桑区江洲镇人民政府",
        "九江市柴桑区城子镇人民政府",
        "九江市柴桑区新合镇人民政府",
        "九江市柴桑区永安乡人民政府",
        "九江市柴桑区涌泉乡人民政府",
    ] {
        let code = uscc(&mut rng, "11", "360404");
        let r = region(&mut rng);
        push(
            SubjectKind::GovernmentAgency,
            code,
            name.to_owned(),
            r,
            Some("S"),
        );
    }
    for _ in 0..20 {
        let name = person_name(&mut rng);
        let code = resident_id(&mut rng);
        let r = region(&mut rng);
        push(SubjectKind::NaturalPerson, code, name, r, None);
    }
    for _ in 0..14 {
        let name = format!("{}户", person_name(&mut rng));
        let code = resident_id(&mut rng);
        let r = region(&mut rng);
        push(SubjectKind::Household, code, name, r, Some("A"));
    }
    for village in villages {
        for _ in 0..8 {
            let name = format!("{}户", person_name(&mut rng));
            let code = resident_id(&mut rng);
            push(
                SubjectKind::Household,
                code,
                name,
                village.clone(),
                Some("A"),
            );
        }
    }
    drafts
}

/// Adds the demo organizations that are missing; answers how many were added.
pub async fn load_organizations(db: &impl ConnectionTrait) -> Result<usize, AppError> {
    let now = chrono::Utc::now();
    let rows = ORGANIZATIONS
        .iter()
        .map(|(code, name, kind)| organization::ActiveModel {
            code: Set((*code).to_owned()),
            name: Set((*name).to_owned()),
            kind: Set((*kind).to_owned()),
            uscc: Set((*kind == "DEPARTMENT").then(|| records::department_uscc(code))),
            created_at: Set(now),
            ..Default::default()
        });
    let before = organization::Entity::find().count(db).await?;
    organization::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([organization::Column::Code])
        .exec_without_returning(db)
        .await?;
    let after = organization::Entity::find().count(db).await?;
    Ok(after.saturating_sub(before) as usize)
}

/// Loads the demo organizations and subjects; safe to run any number of times.
pub async fn load(state: &AppState) -> Result<Loaded, AppError> {
    let organizations = load_organizations(&state.db).await?;
    let codes = |regions: Vec<region::Model>| regions.into_iter().map(|r| r.code).collect();
    let townships: Vec<String> =
        codes(crate::reference::regions(&state.db, None, Some("TOWNSHIP")).await?);
    if townships.is_empty() {
        return Err(AppError::internal("no townships in the reference data"));
    }
    let villages: Vec<String> =
        codes(crate::reference::regions(&state.db, None, Some("VILLAGE")).await?);
    let drafts = subjects(&townships, &villages);
    let outcomes = service::register(
        &state.db,
        &Actor::cli("demo-data"),
        &state.person_keys,
        &drafts,
    )
    .await?;
    let mut created = 0;
    for (draft, outcome) in drafts.iter().zip(&outcomes) {
        match outcome {
            Registration::Created(_) => created += 1,
            Registration::AlreadyKnown(_) => {}
            Registration::Refused(errors) => {
                return Err(AppError::internal(format!(
                    "demo subject {} refused: {errors:?}",
                    draft.name
                )));
            }
        }
    }
    let records = records::load(state).await?;
    let commitments = commitments::load(state).await?;
    Ok(Loaded {
        organizations,
        subjects: created,
        records,
        commitments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_subjects_are_valid_deterministic_and_cover_every_kind() {
        let townships = vec!["360404001000".to_owned(), "360404104000".to_owned()];
        let a = subjects(&townships, &["360404104206".to_owned()]);
        let b = subjects(&townships, &["360404104206".to_owned()]);
        assert!(a.len() >= 190, "{}", a.len());
        assert_eq!(
            a.iter().map(|d| d.code.clone()).collect::<Vec<_>>(),
            b.iter().map(|d| d.code.clone()).collect::<Vec<_>>()
        );
        for kind in SubjectKind::ALL {
            assert!(a.iter().any(|d| d.kind == kind), "{kind:?}");
        }
        let hasher = crate::subjects::rules::PersonKeyHasher::new("test");
        for d in &a {
            assert!(service::validate_draft(d, false, &hasher).is_ok(), "{d:?}");
        }
    }

    #[test]
    fn org_code_check_matches_a_known_code() {
        // MA1MRHG20 is the organization code inside 91320621MA1MRHG205 (REGULATIONS.md §1.1).
        assert_eq!(org_code_check(b"MA1MRHG2"), '0');
    }
}
