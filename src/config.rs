//! One `Settings` struct, layered: defaults → TOML file → environment → command-line flags.

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Development generates what it lacks (and says so loudly); production refuses to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The one signing algorithm the service accepts (RFC 8725: one algorithm per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
    ES256,
}

/// Every setting of the service. Field names are the TOML keys; the environment variable is
/// `CREDIT_HUB_` + the name in upper case (and `DATABASE_URL` for `database_url`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub mode: Mode,
    pub database_url: String,
    pub bind: String,
    /// HTTP worker threads, each executing the GraphQL requests it reads; default: one per core
    /// on SQLite, one per two cores on PostgreSQL (whose own processes need the other half).
    pub workers: Option<usize>,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `credit_hub=debug,info`; `RUST_LOG` overrides it.
    pub log_level: String,

    pub jwt_algorithm: JwtAlgorithm,
    /// HS256 secret (at least 32 bytes). Development generates and stores one when unset.
    pub jwt_secret: Option<String>,
    /// PEM public key for RS256/ES256 (tokens from an external identity provider).
    pub jwt_public_key_file: Option<PathBuf>,
    /// PEM private key for RS256/ES256, needed only to mint tokens here.
    pub jwt_private_key_file: Option<PathBuf>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub token_ttl_seconds: u64,
    /// Allowed clock skew when checking exp and nbf.
    pub jwt_leeway_seconds: u64,
    /// Key of the HMAC that turns resident IDs into look-up keys. Development generates one.
    pub id_hash_key: Option<String>,

    pub body_limit_bytes: usize,
    pub max_query_bytes: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
    pub max_batch: usize,
    pub execution_timeout_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    /// How long the answer to an `Idempotency-Key` is kept for replays (at least 24).
    pub idempotency_key_hours: u64,
    /// SQLite page cache per pooled connection, in MiB: with `db_max_connections` of them, the
    /// most a server holds (measured at 1,000,000 subjects: 10 × 8 MiB took the server's peak
    /// RSS to 159 MB).
    pub sqlite_cache_mb: u32,
    /// SQLite memory map, in MiB (0 = off). Mapped pages count in the process's RSS.
    pub sqlite_mmap_mb: u64,
    /// How long, in milliseconds, after the last submitted record of a subject its ratings are
    /// re-computed and stored (`ratings::queue`): the batches of an upload are rated together,
    /// each subject once, when the upload pauses. Reads never wait: until then they compute the
    /// subject's ratings from its records.
    pub rating_delay_ms: u64,
    /// The longest, in milliseconds, a subject's ratings wait after its first submitted record
    /// still to be rated, however long an upload goes on.
    pub rating_max_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            database_url: "sqlite://credit-hub.db?mode=rwc".into(),
            bind: "127.0.0.1:8080".into(),
            workers: None,
            db_max_connections: 10,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_secret: None,
            jwt_public_key_file: None,
            jwt_private_key_file: None,
            jwt_issuer: "credit-hub".into(),
            jwt_audience: "credit-hub".into(),
            token_ttl_seconds: 3600,
            jwt_leeway_seconds: 30,
            id_hash_key: None,
            body_limit_bytes: 4 * 1024 * 1024,
            max_query_bytes: 64 * 1024,
            max_depth: 15,
            max_complexity: 5000,
            max_aliases: 50,
            max_directives: 10,
            max_batch: 10,
            execution_timeout_seconds: 30,
            shutdown_timeout_seconds: 30,
            idempotency_key_hours: 24,
            sqlite_cache_mb: 4,
            sqlite_mmap_mb: 0,
            rating_delay_ms: 2000,
            rating_max_delay_ms: 30_000,
        }
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the TOML file (the given one, or `credit-hub.toml` if present), then the
    /// environment. Flags are applied by the caller afterwards.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid(format!(
                        "the configuration file {} does not exist",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("credit-hub.toml")),
        }
        figment = figment
            // CREDIT_HUB_TEST_* and CREDIT_HUB_REQUIRE_* steer the test suite, not the service.
            .merge(
                Env::prefixed("CREDIT_HUB_")
                    .ignore(&["CONFIG"])
                    .filter(|key| {
                        let key = key.as_str().to_ascii_uppercase();
                        !key.starts_with("TEST_") && !key.starts_with("REQUIRE_")
                    }),
            )
            .merge(Env::raw().only(&["DATABASE_URL"]));
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.check()?;
        Ok(settings)
    }

    /// Rules that hold whatever the source of the values.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if let Some(secret) = &self.jwt_secret
            && secret.len() < 32
        {
            return invalid("jwt_secret (CREDIT_HUB_JWT_SECRET) must be at least 32 bytes");
        }
        if self.jwt_algorithm != JwtAlgorithm::HS256 && self.jwt_public_key_file.is_none() {
            return invalid(
                "jwt_algorithm RS256/ES256 needs jwt_public_key_file (CREDIT_HUB_JWT_PUBLIC_KEY_FILE)",
            );
        }
        if self.mode == Mode::Production {
            if self.jwt_algorithm == JwtAlgorithm::HS256 && self.jwt_secret.is_none() {
                return invalid(
                    "production mode refuses to start without a JWT secret: set CREDIT_HUB_JWT_SECRET \
                     (at least 32 random bytes) or jwt_secret in the configuration file",
                );
            }
            if self.id_hash_key.as_deref().is_none_or(|k| k.len() < 32) {
                return invalid(
                    "production mode refuses to start without an ID hash key: set CREDIT_HUB_ID_HASH_KEY \
                     (at least 32 random bytes); it must never change once subjects are registered",
                );
            }
        }
        if self.idempotency_key_hours < 24 {
            return invalid("idempotency_key_hours must be at least 24 (DESIGN.md: kept ≥ 24 h)");
        }
        if self.max_batch == 0 || self.db_max_connections == 0 {
            return invalid("max_batch and db_max_connections must be at least 1");
        }
        Ok(())
    }

    /// The SQLite memory a bulk command (generating or evaluating a whole district) works
    /// best with, unless set higher: a 64 MiB cache and an 8 GiB memory map.
    pub fn for_bulk_work(mut self) -> Self {
        self.sqlite_cache_mb = self.sqlite_cache_mb.max(64);
        self.sqlite_mmap_mb = self.sqlite_mmap_mb.max(8192);
        self
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let s = Settings::default();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.mode, Mode::Development);
        assert!(
            s.jwt_secret.is_none(),
            "no secret may be a constant in the code"
        );
        assert!(s.check().is_ok());
    }

    #[test]
    fn production_needs_its_secrets() {
        let mut s = Settings {
            mode: Mode::Production,
            ..Settings::default()
        };
        let err = s.check().expect_err("no secret");
        assert!(err.to_string().contains("CREDIT_HUB_JWT_SECRET"));
        s.jwt_secret = Some("x".repeat(40));
        assert!(
            s.check()
                .expect_err("no id key")
                .to_string()
                .contains("CREDIT_HUB_ID_HASH_KEY")
        );
        s.id_hash_key = Some("y".repeat(40));
        assert!(s.check().is_ok());
        s.jwt_secret = Some("short".into());
        assert!(s.check().is_err());
    }
}
