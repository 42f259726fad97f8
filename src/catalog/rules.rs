//! Catalog field specifications and the validation of a record's fields against them: a row may
//! name its fields by the national data-item codes (`CF_WSH`, `XK_JDRQ` …) or by their English
//! keys (`decisionNumber` …); amounts are in 万元, ID numbers are checked and kept masked.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{FieldError, UserErrorCode};
use crate::subjects::rules::{CreditCode, ResidentId};

/// The type of a field's value.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldKind {
    /// Free text, at most `maxLength` characters.
    Text,
    /// A date, `YYYY-MM-DD` (also `YYYY/MM/DD`, or with a time of day, which is dropped).
    Date,
    /// An amount in 万元 (ten thousand yuan), at most six decimals: 罚款2000元 is 0.2.
    AmountWan,
    /// One of `values`.
    Enum,
    /// One or more of `values`, separated by `;` `、` or `,`.
    MultiEnum,
    /// A unified social credit code (GB 32100), check character verified.
    Uscc,
    /// A resident ID number (GB 11643), verified and kept only masked.
    IdNumber,
}

/// What a field means to the record beyond its value.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldRole {
    /// The subject's code (USCC, or resident ID of a natural person).
    SubjectCode,
    /// The department's document number: the record's `sourceRef`.
    SourceRef,
    /// The decision date: the start of publicity and of the 7-working-day count.
    DecisionDate,
    /// The penalty types, which decide the severity.
    PenaltyTypes,
}

/// A condition under which a field becomes required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredWhen {
    /// The code of the field the condition reads.
    pub field: String,
    /// Required when that field's value (or one of its values) equals this.
    pub contains: String,
}

/// One field of a catalog item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSpec {
    /// The national data-item code, e.g. `CF_WSH`.
    pub code: String,
    /// The English key, e.g. `decisionNumber`.
    pub key: String,
    /// The Chinese name, e.g. 行政处罚决定书文号.
    pub name: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub required_when: Option<RequiredWhen>,
    #[serde(default)]
    pub max_length: Option<u32>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub role: Option<FieldRole>,
}

const DEFAULT_MAX_TEXT: usize = 2000;
/// 100 亿元: an amount above it is certainly a unit mistake (yuan sent as 万元).
const MAX_AMOUNT_WAN: f64 = 1_000_000.0;

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses the date forms national exports use.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%Y/%m/%d"))
        .ok()
        .filter(|_| s.len() == 10 || s[10..].starts_with([' ', 'T']))
}

fn split_values(s: &str) -> Vec<String> {
    s.split([';', '；', ',', '，', '、', '|'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks one value against its spec and returns the value to store.
fn check_value(spec: &FieldSpec, value: &Value) -> Result<Value, (UserErrorCode, String)> {
    let invalid = |m: String| Err((UserErrorCode::InvalidFormat, m));
    match spec.kind {
        FieldKind::Text => {
            let Some(text) = text_of(value) else {
                return invalid(format!("{} ({}) must be text", spec.code, spec.name));
            };
            let max = spec.max_length.map_or(DEFAULT_MAX_TEXT, |m| m as usize);
            let chars = text.chars().count();
            if chars > max {
                return Err((
                    UserErrorCode::TooLong,
                    format!(
                        "{} ({}) has {chars} characters; at most {max} are allowed",
                        spec.code, spec.name
                    ),
                ));
            }
            Ok(Value::String(text))
        }
        FieldKind::Date => match text_of(value).as_deref().and_then(parse_date) {
            Some(d) => Ok(Value::String(d.format("%Y-%m-%d").to_string())),
            None => invalid(format!(
                "{} ({}) must be a date, YYYY-MM-DD",
                spec.code, spec.name
            )),
        },
        FieldKind::AmountWan => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let Some(amount) = number.filter(|n| n.is_finite()) else {
                return invalid(format!(
                    "{} ({}) must be a number in 万元",
                    spec.code, spec.name
                ));
            };
            if amount < 0.0 {
                return invalid(format!("{} ({}) cannot be negative", spec.code, spec.name));
            }
            if amount >= MAX_AMOUNT_WAN {
                return invalid(format!(
                    "{} ({}) is in 万元 (ten thousand yuan): {amount} 万元 is more than 100亿元; was it sent in yuan?",
                    spec.code, spec.name
                ));
            }
            let scaled = amount * 1_000_000.0;
            if (scaled - scaled.round()).abs() > 1e-6 {
                return invalid(format!(
                    "{} ({}) has more than six decimals; amounts are in 万元, to the cent at most",
                    spec.code, spec.name
                ));
            }
            Ok(serde_json::json!(amount))
        }
        FieldKind::Enum => {
            let text = text_of(value).unwrap_or_default();
            if spec.values.contains(&text) {
                Ok(Value::String(text))
            } else {
                invalid(format!(
                    "{} ({}) must be one of: {}",
                    spec.code,
                    spec.name,
                    spec.values.join("、")
                ))
            }
        }
        FieldKind::MultiEnum => {
            let items = match value {
                Value::Array(a) => a.iter().filter_map(text_of).collect(),
                other => text_of(other).map(|t| split_values(&t)).unwrap_or_default(),
            };
            if items.is_empty() {
                return invalid(format!(
                    "{} ({}) needs at least one value",
                    spec.code, spec.name
                ));
            }
            if let Some(bad) = items.iter().find(|i| !spec.values.contains(i)) {
                return invalid(format!(
                    "{} ({}): \"{bad}\" is not one of {}",
                    spec.code,
                    spec.name,
                    spec.values.join("、")
                ));
            }
            Ok(Value::String(items.join(";")))
        }
        FieldKind::Uscc => match text_of(value).map(|t| CreditCode::parse(&t)) {
            Some(Ok(code)) => Ok(Value::String(code.as_str().to_owned())),
            Some(Err(e)) => Err((
                if matches!(
                    e,
                    crate::subjects::rules::CreditCodeError::CheckCharacter { .. }
                ) {
                    UserErrorCode::InvalidCheckCharacter
                } else {
                    UserErrorCode::InvalidFormat
                },
                format!("{} ({}): {e}", spec.code, spec.name),
            )),
            None => invalid(format!(
                "{} ({}) must be a unified social credit code",
                spec.code, spec.name
            )),
        },
        FieldKind::IdNumber => {
            let text = text_of(value).unwrap_or_default();
            // Already-masked numbers (as many exports carry them) are kept as they are.
            if text.len() == 18 && text.contains("****") {
                return Ok(Value::String(text));
            }
            match ResidentId::parse(&text) {
                Ok(id) => Ok(Value::String(id.masked())),
                Err(e) => Err((
                    if matches!(
                        e,
                        crate::subjects::rules::ResidentIdError::CheckCharacter { .. }
                    ) {
                        UserErrorCode::InvalidCheckCharacter
                    } else {
                        UserErrorCode::InvalidFormat
                    },
                    format!("{} ({}): {e}", spec.code, spec.name),
                )),
            }
        }
    }
}

/// A row's fields, validated and keyed by the national code; and the unmasked subject ID when a
/// field with the SUBJECT_CODE role held one (it is needed to find the subject, never stored).
#[derive(Debug, Clone, Default)]
pub struct ValidatedFields {
    pub values: Map<String, Value>,
    pub subject_code: Option<String>,
}

impl ValidatedFields {
    pub fn by_role(&self, specs: &[FieldSpec], role: FieldRole) -> Option<&Value> {
        specs
            .iter()
            .filter(|s| s.role == Some(role))
            .find_map(|s| self.values.get(&s.code))
    }
}

/// Validates a row's fields against an item's specs. Errors name the field as sent.
pub fn validate_fields(
    specs: &[FieldSpec],
    input: &Map<String, Value>,
) -> Result<ValidatedFields, Vec<FieldError>> {
    // A linear scan over a few dozen specs beats building a map for every row.
    let find = |name: &str| -> Option<usize> {
        specs
            .iter()
            .position(|s| s.code == name || s.key == name)
            .or_else(|| {
                let upper = name.to_ascii_uppercase();
                specs.iter().position(|s| s.code == upper)
            })
    };
    let mut errors = Vec::new();
    let mut sent: Vec<Option<(&str, &Value)>> = vec![None; specs.len()];
    for (name, value) in input {
        let Some(index) = find(name) else {
            errors.push(FieldError::new(
                &["fields", name],
                UserErrorCode::UnknownField,
                format!("{name} is not a field of this catalog item (see the item's fields in `catalog`)"),
            ));
            continue;
        };
        if value.is_null() || text_of(value).is_some_and(|t| t.is_empty()) {
            continue;
        }
        if let Some((first, _)) = sent[index] {
            errors.push(FieldError::new(
                &["fields", name],
                UserErrorCode::DuplicateInBatch,
                format!(
                    "{} is sent twice, as {first} and as {name}",
                    specs[index].code
                ),
            ));
            continue;
        }
        sent[index] = Some((name.as_str(), value));
    }
    let mut out = ValidatedFields::default();
    for (spec, sent) in specs.iter().zip(&sent) {
        let Some((sent_as, value)) = sent else {
            continue;
        };
        match check_value(spec, value) {
            Ok(v) => {
                if spec.role == Some(FieldRole::SubjectCode) {
                    out.subject_code = text_of(value);
                }
                out.values.insert(spec.code.clone(), v);
            }
            Err((code, message)) => {
                errors.push(FieldError::new(&["fields", sent_as], code, message))
            }
        }
    }
    for (spec, sent) in specs.iter().zip(&sent) {
        if sent.is_some() {
            continue;
        }
        let conditional = spec.required_when.as_ref().filter(|c| {
            out.values
                .get(&c.field)
                .and_then(text_of)
                .is_some_and(|v| split_values(&v).contains(&c.contains) || v == c.contains)
        });
        if spec.required || conditional.is_some() {
            let why = conditional.map_or(String::new(), |c| {
                format!(" when {} is {}", c.field, c.contains)
            });
            errors.push(FieldError::new(
                &["fields", &spec.code],
                UserErrorCode::Required,
                format!("{} ({}) is required{why}", spec.code, spec.name),
            ));
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Checks a set of specs when an admin saves an item: codes and keys unique, enums with values.
pub fn check_specs(specs: &[FieldSpec]) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, spec) in specs.iter().enumerate() {
        let index = i.to_string();
        if spec.code.trim().is_empty() || spec.key.trim().is_empty() || spec.name.trim().is_empty()
        {
            errors.push(FieldError::new(
                &["fields", &index],
                UserErrorCode::Required,
                "code, key and name are required",
            ));
        }
        for name in [&spec.code, &spec.key] {
            if let Some(first) = seen.insert(name.clone(), i) {
                errors.push(FieldError::new(
                    &["fields", &index],
                    UserErrorCode::DuplicateInBatch,
                    format!("{name} is already the code or key of field {first}"),
                ));
            }
        }
        if matches!(spec.kind, FieldKind::Enum | FieldKind::MultiEnum) && spec.values.is_empty() {
            errors.push(FieldError::new(
                &["fields", &index, "values"],
                UserErrorCode::Required,
                format!("{} is an enumeration and needs values", spec.code),
            ));
        }
    }
    for (i, spec) in specs.iter().enumerate() {
        if let Some(cond) = &spec.required_when
            && !specs.iter().any(|s| s.code == cond.field)
        {
            errors.push(FieldError::new(
                &["fields", &i.to_string(), "requiredWhen"],
                UserErrorCode::NotFound,
                format!(
                    "requiredWhen names {}, which is not a field of this item",
                    cond.field
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn specs() -> Vec<FieldSpec> {
        serde_json::from_value(json!([
            {"code": "CF_WSH", "key": "decisionNumber", "name": "行政处罚决定书文号", "kind": "TEXT", "required": true, "maxLength": 128, "role": "SOURCE_REF"},
            {"code": "CF_CFLB", "key": "penaltyTypes", "name": "处罚类别", "kind": "MULTI_ENUM", "required": true, "values": ["警告", "罚款", "吊销许可证件"], "role": "PENALTY_TYPES"},
            {"code": "CF_NR_FK", "key": "fineWan", "name": "罚款金额（万元）", "kind": "AMOUNT_WAN", "requiredWhen": {"field": "CF_CFLB", "contains": "罚款"}},
            {"code": "CF_JDRQ", "key": "decisionDate", "name": "处罚决定日期", "kind": "DATE", "required": true, "role": "DECISION_DATE"},
            {"code": "CF_XDR_ZJHM", "key": "idNumber", "name": "证件号码", "kind": "ID_NUMBER", "role": "SUBJECT_CODE"},
            {"code": "CF_CFJGDM", "key": "authorityCode", "name": "处罚机关统一社会信用代码", "kind": "USCC"}
        ]))
        .expect("specs")
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn national_codes_and_english_keys_are_both_accepted() {
        let by_code = validate_fields(&specs(), &map(json!({"CF_WSH": "柴市监罚〔2024〕12号", "CF_CFLB": "警告", "CF_JDRQ": "2024-03-15"})))
            .expect("valid");
        let by_key = validate_fields(&specs(), &map(json!({"decisionNumber": "柴市监罚〔2024〕12号", "penaltyTypes": ["警告"], "decisionDate": "2024/03/15 00:00:00"})))
            .expect("valid");
        assert_eq!(by_code.values, by_key.values);
    }

    #[test]
    fn every_rule_names_its_field() {
        let errors = validate_fields(
            &specs(),
            &map(json!({
                "decisionNumber": "x",
                "CF_WSH": "y",
                "CF_CFLB": "罚款;没收",
                "CF_JDRQ": "2024-02-30",
                "CF_XDR_ZJHM": "110105194912310021",
                "CF_CFJGDM": "91350100M000100Y4A",
                "NO_SUCH": 1
            })),
        )
        .expect_err("invalid");
        let fields: Vec<String> = errors.iter().map(|e| e.field.join(".")).collect();
        for expected in [
            "fields.NO_SUCH",
            "fields.decisionNumber",
            "fields.CF_CFLB",
            "fields.CF_JDRQ",
            "fields.CF_XDR_ZJHM",
            "fields.CF_CFJGDM",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }

    #[test]
    fn a_fine_needs_its_amount_in_wan() {
        let errors = validate_fields(
            &specs(),
            &map(json!({"CF_WSH": "a", "CF_CFLB": "罚款", "CF_JDRQ": "2024-03-15"})),
        )
        .expect_err("no amount");
        assert_eq!(errors[0].field, vec!["fields", "CF_NR_FK"]);
        assert!(errors[0].message.contains("when CF_CFLB is 罚款"));
        let errors = validate_fields(&specs(), &map(json!({"CF_WSH": "a", "CF_CFLB": "罚款", "CF_NR_FK": 2000000, "CF_JDRQ": "2024-03-15"})))
            .expect_err("yuan as wan");
        assert!(errors[0].message.contains("万元"));
        let ok = validate_fields(&specs(), &map(json!({"CF_WSH": "a", "CF_CFLB": "罚款", "CF_NR_FK": "0.2", "CF_JDRQ": "2024-03-15"})))
            .expect("valid");
        assert_eq!(ok.values["CF_NR_FK"], json!(0.2));
    }

    #[test]
    fn id_numbers_are_kept_masked() {
        let ok = validate_fields(&specs(), &map(json!({"CF_WSH": "a", "CF_CFLB": "警告", "CF_JDRQ": "2024-03-15", "CF_XDR_ZJHM": "11010519491231002X"})))
            .expect("valid");
        assert_eq!(ok.values["CF_XDR_ZJHM"], "1101**********002X");
        assert_eq!(ok.subject_code.as_deref(), Some("11010519491231002X"));
    }

    #[test]
    fn specs_are_checked_on_save() {
        let mut bad = specs();
        bad[1].values.clear();
        bad[2].key = "decisionNumber".into();
        bad[2].required_when = Some(RequiredWhen {
            field: "NOPE".into(),
            contains: "x".into(),
        });
        assert_eq!(check_specs(&bad).expect_err("bad").len(), 3);
        assert!(check_specs(&specs()).is_ok());
    }
}
