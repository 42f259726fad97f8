//! Identifiers of credit subjects as validated domain types: the unified social credit code
//! (GB 32100-2015) and the resident identity number (GB 11643-1999). A value of either type
//! cannot hold an invalid code; parsing says exactly what is wrong.

use std::fmt;

/// The 31 characters of GB 32100, in order of their value.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17: 3^(i−1) mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Weights of positions 1–17 of a resident ID: 2^(18−i) mod 11.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_ID_CHECK: &[u8; 11] = b"10X98765432";

/// Why a string is not a valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditCodeError {
    /// Not 18 characters long.
    Length(usize),
    /// A character outside `0-9 A-H J-N P-R T U W-Y` at this 1-based position.
    Character { position: usize, found: char },
    /// Positions 3–8 (the registering authority's region code) must be digits.
    RegionNotDigits,
    /// The check character is wrong.
    CheckCharacter { expected: char, found: char },
}

impl fmt::Display for CreditCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(
                f,
                "a unified social credit code has 18 characters, this one has {n}"
            ),
            Self::Character { position, found } => write!(
                f,
                "character {position} ('{found}') is not allowed in a unified social credit code \
                 (allowed: 0-9 and A-H J-N P-R T U W-Y; I, O, Z, S and V never occur)"
            ),
            Self::RegionNotDigits => write!(
                f,
                "positions 3-8 of a unified social credit code are the region code and must be digits"
            ),
            Self::CheckCharacter { expected, found } => write!(
                f,
                "the check character (position 18) is '{found}' but GB 32100 gives '{expected}' \
                 for the first 17 characters"
            ),
        }
    }
}

/// A unified social credit code (统一社会信用代码), normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// The GB 32100 check character for the first 17 characters (already validated).
fn uscc_check_character(body: &[u8]) -> Option<char> {
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let index = (31 - sum % 31) % 31;
    USCC_CHARSET.get(index as usize).map(|&b| char::from(b))
}

impl CreditCode {
    /// Parses and fully validates a code: length, character set, region digits, check character.
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let code = Self::parse_format(input)?;
        let bytes = code.0.as_bytes();
        let expected = uscc_check_character(&bytes[..17]).unwrap_or('?');
        let found = char::from(bytes[17]);
        if expected != found {
            return Err(CreditCodeError::CheckCharacter { expected, found });
        }
        Ok(code)
    }

    /// Validates everything but the check character: for the early real codes that fail it,
    /// which an ADMIN may register with an explicit waiver.
    pub fn parse_format(input: &str) -> Result<Self, CreditCodeError> {
        let upper = input.trim().to_ascii_uppercase();
        let count = upper.chars().count();
        if count != 18 {
            return Err(CreditCodeError::Length(count));
        }
        for (i, c) in upper.chars().enumerate() {
            if !c.is_ascii() || uscc_value(c as u8).is_none() {
                return Err(CreditCodeError::Character {
                    position: i + 1,
                    found: c,
                });
            }
        }
        if !upper.as_bytes()[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CreditCodeError::RegionNotDigits);
        }
        Ok(Self(upper))
    }

    /// Completes 17 valid characters with their check character (for generated data).
    pub fn with_check_character(body17: &str) -> Option<Self> {
        let upper = body17.to_ascii_uppercase();
        if upper.len() != 17 {
            return None;
        }
        let check = uscc_check_character(upper.as_bytes())?;
        Self::parse(&format!("{upper}{check}")).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position 1: the registering authority (登记管理部门代码).
    pub fn registering_authority(&self) -> char {
        char::from(self.0.as_bytes()[0])
    }

    /// Positions 1–2: the organization category (机构类别代码).
    pub fn organization_category(&self) -> &str {
        &self.0[..2]
    }

    /// Positions 3–8: the region code of the registering authority (GB/T 2260).
    pub fn registration_region(&self) -> &str {
        &self.0[2..8]
    }

    /// Positions 9–17: the organization code (主体标识码).
    pub fn organization_code(&self) -> &str {
        &self.0[8..17]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a registering authority (USCC position 1), REGULATIONS.md §1.1.
pub fn registering_authority_name(code: char) -> Option<&'static str> {
    Some(match code {
        '1' => "机构编制",
        '2' => "外交",
        '3' => "司法行政",
        '4' => "文化",
        '5' => "民政",
        '6' => "旅游",
        '7' => "宗教",
        '8' => "工会",
        '9' => "工商（市场监管）",
        'A' => "中央军委改革和编制办公室",
        'N' => "农业（农村集体经济组织）",
        'Y' => "其他",
        _ => return None,
    })
}

/// The name of an organization category (USCC positions 1–2), REGULATIONS.md §1.1.
pub fn organization_category_name(category: &str) -> Option<&'static str> {
    Some(match category {
        "11" => "机关",
        "12" => "事业单位",
        "13" => "中央编办直接管理机构编制的群众团体",
        "19" | "29" | "39" | "49" | "59" | "69" | "79" | "89" | "A9" | "N9" => "其他",
        "21" => "外国常驻新闻机构",
        "31" => "律师执业机构",
        "32" => "公证处",
        "33" => "基层法律服务所",
        "34" => "司法鉴定机构",
        "35" => "仲裁委员会",
        "41" => "外国在华文化中心",
        "51" => "社会团体",
        "52" => "民办非企业单位",
        "53" => "基金会",
        "61" => "外国旅游部门常驻代表机构",
        "62" => "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "71" => "宗教活动场所",
        "72" => "宗教院校",
        "81" => "基层工会",
        "91" => "企业",
        "92" => "个体工商户",
        "93" => "农民专业合作社",
        "A1" => "军队事业单位",
        "N1" => "组级集体经济组织",
        "N2" => "村级集体经济组织",
        "N3" => "乡镇级集体经济组织",
        "Y1" => "其他",
        _ => return None,
    })
}

/// Why a string is not a valid resident identity number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResidentIdError {
    /// Neither 18 nor (legacy) 15 characters.
    Length(usize),
    /// Only digits, and `X` as the last of 18, are allowed.
    Character { position: usize, found: char },
    /// Positions 7–14 (or 7–12 of a legacy number) are not a real date.
    BirthDate,
    /// The check character is wrong.
    CheckCharacter { expected: char, found: char },
}

impl fmt::Display for ResidentIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(
                f,
                "a resident ID number has 18 characters (or 15 for a legacy number), this one has {n}"
            ),
            Self::Character { position, found } => write!(
                f,
                "character {position} ('{found}') is not allowed in a resident ID number \
                 (digits only, and X as the last character)"
            ),
            Self::BirthDate => write!(
                f,
                "the birth date in the resident ID number is not a real date"
            ),
            Self::CheckCharacter { expected, found } => write!(
                f,
                "the check character (position 18) is '{found}' but GB 11643 gives '{expected}' \
                 for the first 17 digits"
            ),
        }
    }
}

/// A resident identity number (居民身份证号码), always the 18-character form, upper-case `X`.
/// It never leaves the process in the clear: store `keyed hash`, show [`ResidentId::masked`].
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentId(String);

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

fn resident_id_check(body: &[u8]) -> char {
    let sum: u32 = body
        .iter()
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(RESIDENT_ID_CHECK[(sum % 11) as usize])
}

fn is_real_date(yyyymmdd: &str) -> bool {
    chrono::NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d").is_ok()
}

impl ResidentId {
    /// Parses an 18-character number (lower-case `x` accepted) or upgrades a legacy 15-digit one.
    pub fn parse(input: &str) -> Result<Self, ResidentIdError> {
        let upper = input.trim().to_ascii_uppercase();
        let count = upper.chars().count();
        match count {
            18 => {}
            15 => {
                if let Some((i, c)) = upper.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
                    return Err(ResidentIdError::Character {
                        position: i + 1,
                        found: c,
                    });
                }
                let body = format!("{}19{}", &upper[..6], &upper[6..]);
                if !is_real_date(&body[6..14]) {
                    return Err(ResidentIdError::BirthDate);
                }
                let check = resident_id_check(body.as_bytes());
                return Ok(Self(format!("{body}{check}")));
            }
            n => return Err(ResidentIdError::Length(n)),
        }
        for (i, c) in upper.chars().enumerate() {
            let ok = c.is_ascii_digit() || (i == 17 && c == 'X');
            if !ok {
                return Err(ResidentIdError::Character {
                    position: i + 1,
                    found: c,
                });
            }
        }
        if !is_real_date(&upper[6..14]) {
            return Err(ResidentIdError::BirthDate);
        }
        let expected = resident_id_check(&upper.as_bytes()[..17]);
        let found = char::from(upper.as_bytes()[17]);
        if expected != found {
            return Err(ResidentIdError::CheckCharacter { expected, found });
        }
        Ok(Self(upper))
    }

    /// Completes 17 digits with their check character (for generated data).
    pub fn with_check_character(body17: &str) -> Option<Self> {
        if body17.len() != 17 || !body17.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let check = resident_id_check(body17.as_bytes());
        Self::parse(&format!("{body17}{check}")).ok()
    }

    /// The number for hashing only; never log or return it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The form that may be shown: first four and last four characters, ten stars between.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

/// Turns resident IDs into look-up keys: HMAC-SHA256 under the installation's key, so the ID is
/// never stored and the key cannot be recomputed without the key.
pub struct PersonKeyHasher {
    key: Vec<u8>,
}

impl PersonKeyHasher {
    pub fn new(key: &str) -> Self {
        Self {
            key: key.as_bytes().to_vec(),
        }
    }

    /// The look-up key of a natural person (`tag` "P") or a household ("H") with this ID.
    pub fn key(&self, tag: &str, id: &ResidentId) -> String {
        use hmac::{Hmac, Mac};
        type HmacSha256 = Hmac<sha2::Sha256>;
        // HMAC accepts keys of any length, so this cannot fail; fall back to an empty MAC input
        // rather than panic if it ever did.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(tag.as_bytes());
        mac.update(b":");
        mac.update(id.expose().as_bytes());
        let bytes = mac.finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<(String, bool)> {
        // Copies of ../shared/fixtures, kept in the repo so a fresh clone tests on its own.
        let path = format!(
            "{}/src/subjects/testdata/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.split(',');
                let code = parts.next().unwrap_or_default().to_owned();
                let valid = parts.next() == Some("true");
                (code, valid)
            })
            .collect()
    }

    #[test]
    fn uscc_vectors_from_the_fixture() {
        let vectors = fixture("uscc-vectors.csv");
        assert!(vectors.len() >= 15);
        for (code, valid) in vectors {
            assert_eq!(CreditCode::parse(&code).is_ok(), valid, "{code}");
        }
    }

    #[test]
    fn resident_id_vectors_from_the_fixture() {
        let vectors = fixture("resident-id-vectors.csv");
        assert!(vectors.len() >= 5);
        for (id, valid) in vectors {
            assert_eq!(ResidentId::parse(&id).is_ok(), valid, "{id}");
        }
    }

    #[test]
    fn uscc_errors_say_what_is_wrong() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y4A"),
            Err(CreditCodeError::CheckCharacter {
                expected: '3',
                found: 'A'
            })
        );
        assert_eq!(
            CreditCode::parse("91350100I000100Y43"),
            Err(CreditCodeError::Character {
                position: 9,
                found: 'I'
            })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(CreditCodeError::Length(17))
        );
        assert_eq!(
            CreditCode::parse("9135A100M000100Y43"),
            Err(CreditCodeError::RegionNotDigits)
        );
        // The special-cased real code of REGULATIONS.md §1.1 fails the check but has a valid format.
        assert!(CreditCode::parse("91350203M0001QAY9B").is_err());
        assert!(CreditCode::parse_format("91350203M0001QAY9B").is_ok());
    }

    #[test]
    fn person_keys_are_keyed_and_tagged() {
        let id = ResidentId::parse("11010519491231002X").expect("valid");
        let a = PersonKeyHasher::new("key-one");
        let b = PersonKeyHasher::new("key-two");
        assert_eq!(a.key("P", &id).len(), 64);
        assert_eq!(a.key("P", &id), a.key("P", &id));
        assert_ne!(a.key("P", &id), b.key("P", &id));
        assert_ne!(a.key("P", &id), a.key("H", &id));
        assert!(!a.key("P", &id).contains("1949"));
    }

    #[test]
    fn uscc_parts() {
        let code = CreditCode::parse("91320621MA1MRHG205").expect("valid");
        assert_eq!(code.registering_authority(), '9');
        assert_eq!(code.organization_category(), "91");
        assert_eq!(code.registration_region(), "320621");
        assert_eq!(code.organization_code(), "MA1MRHG20");
        assert_eq!(organization_category_name("91"), Some("企业"));
        assert_eq!(registering_authority_name('9'), Some("工商（市场监管）"));
    }

    #[test]
    fn resident_id_masking_and_legacy_upgrade() {
        let id = ResidentId::parse("11010519491231002x").expect("valid");
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.masked(), "1101**********002X");
        assert!(!format!("{id:?}").contains("19491231"));
        // 15-digit legacy number: "19" inserted, check character computed.
        let legacy = ResidentId::parse("110105491231002").expect("valid legacy");
        assert_eq!(legacy.expose(), "11010519491231002X");
        assert_eq!(
            ResidentId::parse("110105194913310021"),
            Err(ResidentIdError::BirthDate)
        );
    }

    fn uscc_char() -> impl Strategy<Value = char> {
        (0usize..31).prop_map(|i| char::from(USCC_CHARSET[i]))
    }

    fn uscc_body() -> impl Strategy<Value = String> {
        (
            uscc_char(),
            uscc_char(),
            proptest::collection::vec(0u8..10, 6),
            proptest::collection::vec(uscc_char(), 9),
        )
            .prop_map(|(a, b, region, rest)| {
                let mut s = String::new();
                s.push(a);
                s.push(b);
                s.extend(region.iter().map(|d| char::from(b'0' + d)));
                s.extend(rest);
                s
            })
    }

    proptest! {
        #[test]
        fn every_completed_uscc_is_valid(body in uscc_body()) {
            let code = CreditCode::with_check_character(&body).expect("completes");
            prop_assert!(CreditCode::parse(code.as_str()).is_ok());
            prop_assert!(CreditCode::parse(&code.as_str().to_ascii_lowercase()).is_ok());
        }

        #[test]
        fn changing_one_character_breaks_the_uscc_check(body in uscc_body(), pos in 0usize..18, delta in 1usize..31) {
            let code = CreditCode::with_check_character(&body).expect("completes");
            let mut bytes = code.as_str().as_bytes().to_vec();
            let old = USCC_CHARSET.iter().position(|&c| c == bytes[pos]).expect("in charset");
            bytes[pos] = USCC_CHARSET[(old + delta) % 31];
            let changed = String::from_utf8(bytes).expect("ascii");
            // A single substitution always changes the weighted sum mod 31 (31 is prime and no
            // weight is a multiple of it), so the check fails, unless the region lost its digits.
            prop_assert!(CreditCode::parse(&changed).is_err());
        }

        #[test]
        fn every_completed_resident_id_is_valid(
            area in 110000u32..659999, days in 0i64..40000, seq in 0u32..1000
        ) {
            let birth = chrono::NaiveDate::from_ymd_opt(1920, 1, 1).expect("date")
                + chrono::Duration::days(days);
            let body = format!("{area:06}{}{seq:03}", birth.format("%Y%m%d"));
            let id = ResidentId::with_check_character(&body).expect("completes");
            prop_assert!(ResidentId::parse(id.expose()).is_ok());
            prop_assert_eq!(id.masked().len(), 18);
            prop_assert!(id.masked().contains("**********"));
        }

        #[test]
        fn changing_one_digit_breaks_the_resident_id_check(
            days in 0i64..40000, seq in 0u32..1000, pos in 0usize..17, delta in 1u8..10
        ) {
            let birth = chrono::NaiveDate::from_ymd_opt(1920, 1, 1).expect("date")
                + chrono::Duration::days(days);
            let body = format!("360404{}{seq:03}", birth.format("%Y%m%d"));
            let id = ResidentId::with_check_character(&body).expect("completes");
            let mut bytes = id.expose().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(ResidentId::parse(&changed).is_err());
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,30}") {
            let _ = CreditCode::parse(&s);
            let _ = ResidentId::parse(&s);
        }
    }
}
