//! The dataset generator behind `credit-hub demo-data --subjects N --records-per-subject K`:
//! organizations and their records from a deterministic seed, written with bulk statements
//! (SQLite: one prepared 500-row INSERT reused; PostgreSQL: COPY), fast enough for 1,000,000
//! subjects and 10,000,000 records, with each subject's credit state (the facts eligibility
//! reads). It writes no ratings: run `credit-hub evaluate` after it.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, Utc};
use entity::subject;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement, TransactionTrait, Value,
};

use super::Seeded;
use crate::calendar;
use crate::catalog::{self, CatalogItem, Polarity};
use crate::error::AppError;
use crate::records::rules::{Severity, timeliness};
use crate::records::service::{Derived, china_today, derive, policies};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub subjects: u64,
    pub records_per_subject: u32,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Generated {
    pub subjects: u64,
    pub records: u64,
}

/// Subjects per batch: one transaction (SQLite) or one COPY (PostgreSQL) each.
const BATCH: u64 = 5_000;
const SERIES: &[u8] = b"ABCDEFGHJKLMNPQRTUWXY";

/// ((kind, USCC category code), per mille).
const KINDS: &[((&str, &str), u64)] = &[
    (("ENTERPRISE", "91"), 750),
    (("INDIVIDUAL_BUSINESS", "92"), 200),
    (("FARMER_COOPERATIVE", "93"), 30),
    (("SOCIAL_ORGANIZATION", "51"), 20),
];
const INDUSTRIES: &[&str] = &[
    "C", "C", "C", "F", "F", "F", "F", "E", "E", "H", "H", "A", "A", "I", "L", "M", "G", "K", "O",
    "Q", "R", "N", "B", "D",
];
/// (item code, per mille).
const ITEMS: &[(&str, u64)] = &[
    ("ADMIN_LICENSE", 450),
    ("ADMIN_PENALTY", 300),
    ("TAX_ARREARS", 50),
    ("TAX_CREDIT_A", 50),
    ("HONOR_AWARD", 50),
    ("SOCIAL_SECURITY_ARREARS", 50),
    ("COMMITMENT_BREACH", 50),
];
const DEPARTMENTS: &[&str] = &[
    "MARKET_REGULATION",
    "TAXATION",
    "HOUSING_CONSTRUCTION",
    "HUMAN_RESOURCES",
    "ECOLOGY_ENVIRONMENT",
    "EMERGENCY_MANAGEMENT",
    "HEALTH",
    "TRANSPORT",
    "AGRICULTURE",
    "FIRE_RESCUE",
];

fn weighted<'a, T>(rng: &mut Seeded, table: &'a [(T, u64)]) -> &'a T {
    let total: u64 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.next() % total.max(1);
    for (item, weight) in table {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    &table[0].0
}

/// The generated USCC of subject `n` of a series: `<category>360404<series><7 digits of n>`,
/// with both check characters. Distinct for every n below 10,000,000 and every series.
fn code(category: &str, series: u8, n: u64) -> String {
    let mut body = Vec::with_capacity(8);
    body.push(series);
    body.extend(format!("{:07}", n % 10_000_000).bytes());
    let check = super::org_code_check(&body);
    let text = format!("{category}360404{}{check}", String::from_utf8_lossy(&body));
    crate::subjects::rules::CreditCode::with_check_character(&text)
        .map(|c| c.as_str().to_owned())
        .unwrap_or(text)
}

struct NewSubject {
    kind: &'static str,
    code: String,
    name: String,
    region: String,
    industry: &'static str,
}

fn subject_of(rng: &mut Seeded, series: u8, n: u64, townships: &[String]) -> NewSubject {
    let (kind, category) = *weighted(rng, KINDS);
    let trade = super::TRADE_NAMES[rng.below(super::TRADE_NAMES.len())];
    let name = match kind {
        "INDIVIDUAL_BUSINESS" => format!("柴桑区{trade}{n}号个体工商户"),
        "FARMER_COOPERATIVE" => format!("九江市柴桑区{trade}{n}号农民专业合作社"),
        "SOCIAL_ORGANIZATION" => format!("柴桑区{trade}{n}号协会"),
        _ => format!("九江{trade}{n}号有限公司"),
    };
    NewSubject {
        kind,
        code: code(category, series, n),
        name,
        region: townships[rng.below(townships.len())].clone(),
        industry: INDUSTRIES[rng.below(INDUSTRIES.len())],
    }
}

/// One generated record, in the column order of [`RECORD_COLUMNS`].
struct NewRecord {
    values: [Value; 26],
}

const RECORD_COLUMNS: &str = "subject_id, catalog_item_id, catalog_version, item_code, category, \
    polarity, disclosure, department, source_ref, severity, decision_date, reported_at, \
    reported_on, working_days, late, calendar_complete, published, public_until, \
    repairable_from, policy_version, status, fields, content_hash, revision, created_at, \
    updated_at";

/// Everything the generator reads once.
struct Context {
    items: HashMap<String, CatalogItem>,
    policies: Vec<crate::records::rules::PublicityPolicy>,
    calendar: crate::calendar::rules::WorkCalendar,
    today: NaiveDate,
}

fn record_of(
    rng: &mut Seeded,
    ctx: &Context,
    series: u8,
    subject_id: i64,
    n: u64,
    k: u32,
) -> Option<NewRecord> {
    let code = *weighted(rng, ITEMS);
    let item = ctx.items.get(code)?;
    let department = match item.providers.first() {
        Some(p) if p != "PLATFORM" => p.clone(),
        _ => DEPARTMENTS[rng.below(DEPARTMENTS.len())].to_owned(),
    };
    let decided = ctx.today - Duration::days(1 + rng.below(1000) as i64);
    let reported = decided + Duration::days(1 + rng.below(12) as i64);
    let severity = match (item.category, item.polarity) {
        (catalog::RecordCategory::Penalty, _) => Some(match rng.below(100) {
            0..=24 => Severity::Minor,
            25..=84 => Severity::General,
            _ => Severity::Serious,
        }),
        (_, Polarity::Negative) => Some(Severity::General),
        _ => None,
    };
    let Derived {
        severity,
        published,
        public_until,
        repairable_from,
        policy_version,
    } = derive(item, severity, decided, &ctx.policies);
    let (working_days, late, complete) = if item.category.is_double_publicity() {
        let t = timeliness(&ctx.calendar, decided, reported, 7);
        (
            Some(t.working_days.days as i32),
            Some(t.late),
            Some(t.working_days.calendar_complete),
        )
    } else {
        (None, None, None)
    };
    let source_ref = format!("GEN-{}-{n}-{k}", char::from(series));
    let fields = format!("{{\"sourceRef\":\"{source_ref}\",\"generated\":true}}");
    let hash = crate::digest::sha256_hex(source_ref.as_bytes());
    let at = reported
        .and_hms_opt(9, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    Some(NewRecord {
        values: [
            subject_id.into(),
            item.id.into(),
            item.version.into(),
            item.code.clone().into(),
            item.category.as_str().into(),
            item.polarity.as_str().into(),
            item.disclosure.as_str().into(),
            department.into(),
            source_ref.into(),
            severity.map(|s| s.as_str().to_owned()).into(),
            decided.into(),
            at.into(),
            reported.into(),
            working_days.into(),
            late.into(),
            complete.into(),
            published.into(),
            public_until.into(),
            repairable_from.into(),
            policy_version.into(),
            "ACTIVE".into(),
            fields.into(),
            hash.into(),
            1i32.into(),
            at.into(),
            at.into(),
        ],
    })
}

/// Generates the plan's subjects and records. Refuses a seed whose data is already there.
pub async fn generate(
    db: &DatabaseConnection,
    plan: Plan,
    townships: &[String],
    mut progress: impl FnMut(u64, u64),
) -> Result<Generated, AppError> {
    if townships.is_empty() {
        return Err(AppError::internal("no townships in the reference data"));
    }
    let series = SERIES[(plan.seed % SERIES.len() as u64) as usize];
    let first = code(KINDS[0].0.1, series, 0);
    let taken = subject::Entity::find()
        .filter(subject::Column::LookupKey.like(format!("__360404{}%", char::from(series))))
        .one(db)
        .await?;
    if taken.is_some() {
        return Err(AppError::bad_input(
            "seed",
            format!(
                "subjects of seed {} (codes like {first}) are already loaded; choose another --seed",
                plan.seed
            ),
        ));
    }
    let codes: Vec<String> = ITEMS.iter().map(|(c, _)| (*c).to_owned()).collect();
    let ctx = Context {
        items: catalog::service::by_codes(db, &codes).await?,
        policies: policies(db).await?,
        calendar: calendar::service::load(db).await?,
        today: china_today(),
    };
    let mut rng = Seeded(plan.seed ^ 0x5EED_0000_C4ED_2026);
    let mut done = Generated::default();
    let mut n = 0u64;
    while n < plan.subjects {
        let count = BATCH.min(plan.subjects - n);
        let subjects: Vec<NewSubject> = (n..n + count)
            .map(|i| subject_of(&mut rng, series, i, townships))
            .collect();
        let ids = insert_subjects(db, &subjects).await?;
        let mut records = Vec::with_capacity(count as usize * plan.records_per_subject as usize);
        for (offset, subject) in subjects.iter().enumerate() {
            let Some(id) = ids.get(&subject.code) else {
                continue;
            };
            for k in 0..plan.records_per_subject {
                if let Some(r) = record_of(&mut rng, &ctx, series, *id, n + offset as u64, k) {
                    records.push(r);
                }
            }
        }
        done.records += insert_records(db, &records).await?;
        // The credit states every write keeps, so that eligibility reads them at once and the
        // evaluation has only ratings to write.
        let made: Vec<i64> = ids.values().copied().collect();
        let txn = crate::db::begin_write(db).await?;
        let facts = crate::ratings::service::facts_in_range(&txn, &made).await?;
        crate::benefits::state::store(&txn, &facts).await?;
        txn.commit().await?;
        done.subjects += ids.len() as u64;
        n += count;
        progress(n, plan.subjects);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        // What a bulk load ends with: the planner's statistics, and the visibility map and hint
        // bits set once here rather than written by the first evaluation's reads.
        db.execute_unprepared("VACUUM (ANALYZE) subject, credit_record")
            .await?;
    }
    Ok(done)
}

/// Inserts subjects and answers their ids by code.
async fn insert_subjects(
    db: &DatabaseConnection,
    subjects: &[NewSubject],
) -> Result<HashMap<String, i64>, AppError> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let mut ids = HashMap::with_capacity(subjects.len());
    let txn = db.begin().await?;
    // 13 columns: 1000 rows stay under SQLite's parameter limit.
    for chunk in subjects.chunks(1000) {
        let mut sql = String::from(
            "INSERT INTO subject (kind, lookup_key, display_code, name, region_code, \
             industry_code, registering_authority, organization_category, registration_region, \
             check_waiver_reason, registered_by, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 13);
        for (i, s) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..13 {
                if c > 0 {
                    sql.push(',');
                }
                match backend {
                    DbBackend::Postgres => {
                        let _ = write!(sql, "${}", values.len() + c + 1);
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
            values.extend([
                s.kind.into(),
                s.code.clone().into(),
                s.code.clone().into(),
                s.name.clone().into(),
                s.region.clone().into(),
                Some(s.industry.to_owned()).into(),
                Some(s.code[..1].to_owned()).into(),
                Some(s.code[..2].to_owned()).into(),
                Some(s.code[2..8].to_owned()).into(),
                Option::<String>::None.into(),
                "DEMO".into(),
                now.into(),
                now.into(),
            ]);
        }
        sql.push_str(" RETURNING id, lookup_key");
        for row in txn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            ids.insert(row.try_get("", "lookup_key")?, row.try_get("", "id")?);
        }
    }
    txn.commit().await?;
    Ok(ids)
}

/// Inserts records: COPY on PostgreSQL, a prepared multi-row INSERT on SQLite.
async fn insert_records(db: &DatabaseConnection, records: &[NewRecord]) -> Result<u64, AppError> {
    if records.is_empty() {
        return Ok(0);
    }
    if db.get_database_backend() == DbBackend::Postgres {
        return copy_records(db, records).await;
    }
    const ROWS: usize = 500;
    let placeholders = |rows: usize| {
        let row = format!("({})", vec!["?"; 26].join(","));
        vec![row; rows].join(",")
    };
    let full = format!(
        "INSERT INTO credit_record ({RECORD_COLUMNS}) VALUES {}",
        placeholders(ROWS)
    );
    let txn = db.begin().await?;
    for chunk in records.chunks(ROWS) {
        let sql = if chunk.len() == ROWS {
            full.clone()
        } else {
            format!(
                "INSERT INTO credit_record ({RECORD_COLUMNS}) VALUES {}",
                placeholders(chunk.len())
            )
        };
        let values: Vec<Value> = chunk.iter().flat_map(|r| r.values.clone()).collect();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(records.len() as u64)
}

/// COPY's text format for one value.
fn copy_text(value: &Value, out: &mut String) {
    fn escaped(s: &str, out: &mut String) {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
    match value {
        Value::BigInt(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        Value::Int(Some(v)) => {
            let _ = write!(out, "{v}");
        }
        Value::Bool(Some(v)) => out.push(if *v { 't' } else { 'f' }),
        Value::String(Some(s)) => escaped(s, out),
        Value::ChronoDate(Some(d)) => {
            let _ = write!(out, "{d}");
        }
        Value::ChronoDateTimeUtc(Some(t)) => {
            let _ = write!(out, "{}", t.to_rfc3339());
        }
        _ => out.push_str("\\N"),
    }
}

async fn copy_records(db: &DatabaseConnection, records: &[NewRecord]) -> Result<u64, AppError> {
    let pool = db.get_postgres_connection_pool();
    let mut conn = pool.acquire().await.map_err(AppError::internal)?;
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY credit_record ({RECORD_COLUMNS}) FROM STDIN WITH (FORMAT text)"
        ))
        .await
        .map_err(AppError::internal)?;
    let mut buffer = String::with_capacity(1 << 20);
    for r in records {
        for (i, v) in r.values.iter().enumerate() {
            if i > 0 {
                buffer.push('\t');
            }
            copy_text(v, &mut buffer);
        }
        buffer.push('\n');
        if buffer.len() > (1 << 20) {
            copy.send(buffer.as_bytes())
                .await
                .map_err(AppError::internal)?;
            buffer.clear();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes())
            .await
            .map_err(AppError::internal)?;
    }
    let rows = copy.finish().await.map_err(AppError::internal)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in [0u64, 1, 9, 10, 999_999, 1_000_000, 9_999_999] {
            for category in ["91", "92", "93", "51"] {
                let c = code(category, b'A', n);
                assert!(
                    crate::subjects::rules::CreditCode::parse(&c).is_ok(),
                    "{c} is a valid USCC"
                );
                assert!(seen.insert(c));
            }
        }
        assert_ne!(code("91", b'A', 5), code("91", b'B', 5));
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = String::new();
        copy_text(&Value::String(Some("a\tb\\c\nd".into())), &mut out);
        copy_text(&Value::String(None), &mut out);
        assert_eq!(out, "a\\tb\\\\c\\nd\\N");
    }
}
