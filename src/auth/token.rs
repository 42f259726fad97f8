//! Bearer tokens: JWTs signed with one algorithm per key (RFC 8725), with `exp`, `nbf`, `iss`,
//! `aud` and `sub` required and checked. Minting is for `credit-hub token` and `/oauth/token`.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    errors::ErrorKind,
};
use serde::{Deserialize, Serialize};

use super::{Principal, Role};
use crate::config::{JwtAlgorithm, Settings};

/// The claims of a credit-hub token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The client id.
    pub sub: String,
    /// The organization code.
    pub org: String,
    pub role: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
}

/// The claims as they arrive: optional, so that a missing one is named rather than reported as
/// a malformed token (jsonwebtoken checks the required ones itself).
#[derive(Debug, Deserialize)]
struct IncomingClaims {
    sub: Option<String>,
    org: Option<String>,
    role: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Required and checked by jsonwebtoken; read here to know how long a verified token is kept.
    exp: Option<f64>,
}

/// Tokens kept verified at most; a full cache starts over.
const VERIFIED: usize = 4096;

/// Tokens that verified, by their text, with their principal and `exp`. An app or a bank sends
/// the same token with every request for its lifetime (an hour by default), and verifying it
/// again each time was 5 % of the server's CPU on the eligibility benchmark with HS256 (perf:
/// base64 and JSON decoding and the HMAC); an RS256 or ES256 signature costs more. Only a token
/// that verified is kept, and only while its `exp` (with the leeway) has not passed: after that
/// it is verified again, and refused with the usual message. The text of a kept token is the
/// whole signed token, so a token that differs in any byte is verified on its own.
#[derive(Default)]
struct Verified(Mutex<HashMap<Box<str>, (Principal, u64)>>);

impl Verified {
    fn get(&self, token: &str, leeway: u64) -> Option<Principal> {
        let kept = self.0.lock().ok()?;
        let (principal, exp) = kept.get(token)?;
        (jsonwebtoken::get_current_timestamp() < exp.saturating_add(leeway))
            .then(|| principal.clone())
    }

    fn keep(&self, token: &str, principal: &Principal, exp: u64) {
        if let Ok(mut kept) = self.0.lock() {
            if kept.len() >= VERIFIED {
                kept.clear();
            }
            kept.insert(token.into(), (principal.clone(), exp));
        }
    }
}

/// Why a bearer token was refused; the message is safe to return to the caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TokenRejected(pub String);

/// The keys and rules of token verification (and, where a private key is known, of minting).
pub struct TokenKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_seconds: u64,
    verified: Verified,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn read_key(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))
}

impl TokenKeys {
    /// Builds the keys from the settings; `hs256_secret` is the configured or generated secret.
    pub fn from_settings(settings: &Settings, hs256_secret: Option<&str>) -> Result<Self, String> {
        let (algorithm, decoding, encoding) = match settings.jwt_algorithm {
            JwtAlgorithm::HS256 => {
                let secret = hs256_secret.ok_or("HS256 needs a secret")?;
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                    Some(EncodingKey::from_secret(secret.as_bytes())),
                )
            }
            JwtAlgorithm::RS256 | JwtAlgorithm::ES256 => {
                let rsa = settings.jwt_algorithm == JwtAlgorithm::RS256;
                let public_path = settings
                    .jwt_public_key_file
                    .as_deref()
                    .ok_or("RS256/ES256 need jwt_public_key_file")?;
                let public = read_key(public_path)?;
                let decoding = if rsa {
                    DecodingKey::from_rsa_pem(&public)
                } else {
                    DecodingKey::from_ec_pem(&public)
                }
                .map_err(|e| {
                    format!("{} is not a usable public key: {e}", public_path.display())
                })?;
                let encoding = match settings.jwt_private_key_file.as_deref() {
                    None => None,
                    Some(path) => {
                        let private = read_key(path)?;
                        Some(
                            if rsa {
                                EncodingKey::from_rsa_pem(&private)
                            } else {
                                EncodingKey::from_ec_pem(&private)
                            }
                            .map_err(|e| {
                                format!("{} is not a usable private key: {e}", path.display())
                            })?,
                        )
                    }
                };
                let alg = if rsa {
                    Algorithm::RS256
                } else {
                    Algorithm::ES256
                };
                (alg, decoding, encoding)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = settings.jwt_leeway_seconds;
        Ok(Self {
            algorithm,
            decoding,
            encoding,
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            ttl_seconds: settings.token_ttl_seconds,
            verified: Verified::default(),
        })
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    /// Signs a token for a principal, valid from now for the configured lifetime.
    pub fn mint(&self, principal: &Principal, ttl_seconds: Option<u64>) -> Result<String, String> {
        let encoding = self.encoding.as_ref().ok_or(
            "this service has no private key to sign tokens with (set jwt_private_key_file)",
        )?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: principal.client_id.clone(),
            org: principal.organization.clone(),
            role: principal.role.as_str().to_owned(),
            scopes: principal.scopes.clone(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + ttl_seconds.unwrap_or(self.ttl_seconds),
            jti: uuid::Uuid::now_v7().to_string(),
        };
        let mut header = Header::new(self.algorithm);
        header.typ = Some("JWT".into());
        encode(&header, &claims, encoding).map_err(|e| format!("cannot sign the token: {e}"))
    }

    /// Verifies a bearer token and returns its principal, or a message that says what is wrong.
    pub fn verify(&self, token: &str) -> Result<Principal, TokenRejected> {
        if let Some(principal) = self.verified.get(token, self.validation.leeway) {
            return Ok(principal);
        }
        let reject = |m: String| Err(TokenRejected(m));
        let header = match decode_header(token) {
            Ok(h) => h,
            Err(_) => {
                return reject(format!(
                    "the bearer token is not a well-formed JWT, or its header names an algorithm \
                     this service never accepts (such as \"none\"); it accepts {:?} only",
                    self.algorithm
                ));
            }
        };
        if header.alg != self.algorithm {
            return reject(format!(
                "the token is signed with {:?}, but this service accepts {:?} only",
                header.alg, self.algorithm
            ));
        }
        let data = match decode::<IncomingClaims>(token, &self.decoding, &self.validation) {
            Ok(d) => d,
            Err(e) => {
                let message = match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired; get a new one".into(),
                    ErrorKind::ImmatureSignature => {
                        "the token is not valid yet: its nbf (not before) is in the future".into()
                    }
                    ErrorKind::InvalidSignature => {
                        "the token's signature does not verify with this service's key".into()
                    }
                    ErrorKind::InvalidAudience => format!(
                        "the token's audience (aud) is not this service; expected \"{}\"",
                        self.audience
                    ),
                    ErrorKind::InvalidIssuer => format!(
                        "the token's issuer (iss) is not accepted; expected \"{}\"",
                        self.issuer
                    ),
                    ErrorKind::MissingRequiredClaim(c) => {
                        format!("the token lacks the required claim \"{c}\"")
                    }
                    ErrorKind::InvalidClaimFormat(c) => {
                        format!("the token's claim \"{c}\" has the wrong type")
                    }
                    ErrorKind::InvalidAlgorithm => format!(
                        "the token's algorithm is not accepted; this service accepts {:?} only",
                        self.algorithm
                    ),
                    ErrorKind::Base64(_) => "the bearer token is not a well-formed JWT: one of \
                                             its three parts is not unpadded base64url"
                        .into(),
                    _ => "the bearer token is not a valid credit-hub token (its claims are \
                          missing or malformed)"
                        .into(),
                };
                return reject(message);
            }
        };
        let claims = data.claims;
        let (Some(sub), Some(org), Some(role)) = (claims.sub, claims.org, claims.role) else {
            return reject(
                "the token lacks a required claim: sub, org and role must all be present".into(),
            );
        };
        let Some(role) = Role::parse(&role) else {
            return reject(format!(
                "the token's role \"{role}\" is not one of ADMIN, DEPARTMENT, APPROVAL_HALL, BANK, APP, PARTNER"
            ));
        };
        if sub.is_empty() || org.is_empty() {
            return reject("the token's sub and org claims must not be empty".into());
        }
        let principal = Principal {
            client_id: sub,
            organization: org,
            role,
            scopes: claims.scopes,
        };
        if let Some(exp) = claims.exp.filter(|e| e.is_finite() && *e >= 0.0) {
            // Whole seconds, rounded down: kept a fraction of a second less, never more.
            self.verified.keep(token, &principal, exp as u64);
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_settings(
            &Settings::default(),
            Some("unit-test-secret-unit-test-secret-01"),
        )
        .expect("keys")
    }

    fn principal() -> Principal {
        Principal {
            client_id: "bank-client".into(),
            organization: "JJ_BANK".into(),
            role: Role::Bank,
            scopes: vec!["eligibility".into()],
        }
    }

    fn kept_exp(keys: &TokenKeys, token: &str) -> Option<u64> {
        keys.verified
            .0
            .lock()
            .expect("lock")
            .get(token)
            .map(|(_, exp)| *exp)
    }

    #[test]
    fn a_verified_token_is_kept_until_its_exp_and_then_verified_again() {
        let keys = keys();
        let token = keys.mint(&principal(), Some(3600)).expect("mint");
        assert_eq!(keys.verify(&token).expect("verifies"), principal());
        let exp = kept_exp(&keys, &token).expect("kept once verified");
        assert!(exp > jsonwebtoken::get_current_timestamp() + 3000);
        assert_eq!(keys.verify(&token).expect("kept"), principal());

        // Past its exp (and the leeway), a kept entry is not used: the token is verified again,
        // which keeps it anew with its own exp.
        keys.verified
            .0
            .lock()
            .expect("lock")
            .get_mut(token.as_str())
            .expect("kept")
            .1 = 1;
        assert_eq!(keys.verify(&token).expect("verifies again"), principal());
        assert_eq!(kept_exp(&keys, &token), Some(exp));
    }

    #[test]
    fn only_the_exact_text_of_a_kept_token_skips_verification() {
        let keys = keys();
        let token = keys.mint(&principal(), None).expect("mint");
        keys.verify(&token).expect("verifies");
        // The same token with its signature's first character changed: all six of its bits are
        // signature (the last character's lowest two are padding, see below).
        let at = token.rfind('.').expect("three parts") + 1;
        let first = &token[at..=at];
        let forged = format!(
            "{}{}{}",
            &token[..at],
            if first == "A" { "B" } else { "A" },
            &token[at + 1..]
        );
        let refused = keys
            .verify(&forged)
            .expect_err("a changed signature is refused");
        assert!(refused.0.contains("signature does not verify"), "{refused}");
        assert!(kept_exp(&keys, &forged).is_none());
    }

    #[test]
    fn a_signature_that_is_not_canonical_base64url_is_refused_as_malformed() {
        let keys = keys();
        let token = keys.mint(&principal(), None).expect("mint");
        keys.verify(&token).expect("verifies");
        // An HS256 signature is 32 bytes, 43 characters: the last one carries 4 bits and two
        // zero bits of padding. Setting a padding bit changes the text, not the bytes, and the
        // decoder refuses such text. This was a flaky case of the test above (1 run in 16).
        const BASE64URL: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut forged = token.clone();
        let last = forged.pop().expect("not empty");
        let index = BASE64URL
            .iter()
            .position(|&c| char::from(c) == last)
            .expect("base64url");
        assert_eq!(
            index % 4,
            0,
            "the padding bits of a canonical signature are zero"
        );
        forged.push(char::from(BASE64URL[index + 1]));
        let refused = keys.verify(&forged).expect_err("not canonical");
        assert!(refused.0.contains("not unpadded base64url"), "{refused}");
        assert!(kept_exp(&keys, &forged).is_none());
    }

    #[test]
    fn a_refused_token_is_not_kept() {
        let keys = keys();
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "bank-client".into(),
            org: "JJ_BANK".into(),
            role: "BANK".into(),
            scopes: Vec::new(),
            iss: keys.issuer.clone(),
            aud: keys.audience.clone(),
            iat: now - 7200,
            nbf: now - 7200,
            exp: now - 3600,
            jti: "expired".into(),
        };
        let encoding = keys.encoding.as_ref().expect("HS256 signs");
        let token = encode(&Header::new(keys.algorithm), &claims, encoding).expect("sign");
        for _ in 0..2 {
            let refused = keys.verify(&token).expect_err("expired");
            assert!(refused.0.contains("expired"), "{refused}");
        }
        assert!(kept_exp(&keys, &token).is_none());
    }
}
