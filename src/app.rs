//! `Application`: the wiring the binary and the tests share. `build` connects, migrates,
//! resolves secrets and binds (port 0 works); `run_until_stopped` serves until a signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};

use crate::auth::{secrets, token::TokenKeys};
use crate::config::{Mode, Settings};
use crate::graphql;
use crate::hot_path::HotPath;
use crate::http::{self, request_id};
use crate::state::AppState;
use crate::subjects::rules::PersonKeyHasher;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(String),
    #[error("cannot migrate the database: {0}")]
    Migration(String),
    #[error("{0}")]
    Secrets(String),
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("{0}")]
    Demo(String),
}

/// Connects, migrates and resolves the secrets: everything but HTTP.
pub async fn prepare_state(settings: Settings) -> Result<AppState, StartError> {
    let db = crate::db::connect(&settings)
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;
    crate::db::migrate(&db)
        .await
        .map_err(|e| StartError::Migration(e.to_string()))?;
    let resolved = secrets::resolve(&db, &settings)
        .await
        .map_err(|e| StartError::Secrets(format!("cannot resolve the secrets: {e:?}")))?;
    if settings.mode == Mode::Development && settings.jwt_secret.is_none() {
        tracing::warn!(
            "DEVELOPMENT MODE: tokens are signed with a generated secret stored in the database; \
             production mode needs CREDIT_HUB_JWT_SECRET"
        );
    }
    let tokens = TokenKeys::from_settings(&settings, resolved.jwt_secret.as_deref())
        .map_err(StartError::Secrets)?;
    let audit_db = if settings.is_sqlite() {
        db.clone()
    } else {
        crate::db::connect_audit_writer(&settings)
            .await
            .map_err(|e| StartError::Database(e.to_string()))?
    };
    Ok(AppState {
        commitments: crate::writer::Batcher::start(
            db.clone(),
            "commitments",
            crate::commitments::service::insert_batch,
        ),
        benefit_uses: crate::writer::Batcher::start(
            db.clone(),
            "benefit_uses",
            crate::benefits::service::insert_use_batch,
        ),
        read_audit: crate::audit::reads::ReadAudit::start(audit_db),
        rating_queue: crate::ratings::queue::RatingQueue::start(
            db.clone(),
            Duration::from_millis(settings.rating_delay_ms),
            Duration::from_millis(settings.rating_max_delay_ms),
        ),
        idempotency: crate::writer::Batcher::start(
            db.clone(),
            "idempotency_keys",
            crate::idempotency::run_steps,
        ),
        organizations: Arc::default(),
        scenarios: Arc::default(),
        runtime: tokio::runtime::Handle::current(),
        hot_path: HotPath::start(
            &db,
            crate::hot_path::readers(db.get_database_backend())
                .min(settings.db_max_connections as usize),
            settings.sqlite_cache_mb,
        )
        .map(Arc::new),
        db,
        person_keys: Arc::new(PersonKeyHasher::new(&resolved.id_hash_key)),
        tokens: Arc::new(tokens),
        settings: Arc::new(settings),
    })
}

/// A bound, ready server.
/// Forgets the answers kept for `Idempotency-Key` replays once their time is up, hourly.
fn spawn_idempotency_purge(db: sea_orm::DatabaseConnection) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match crate::idempotency::purge(&db, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(forgotten = n, "expired idempotency keys purged"),
                Err(e) => tracing::warn!(error = %e, "purging expired idempotency keys failed"),
            }
        }
    });
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Prepares the state and binds the listener; `load_demo` loads the demo data first.
    pub async fn build(settings: Settings, load_demo: bool) -> Result<Self, StartError> {
        let state = prepare_state(settings).await?;
        if load_demo {
            let loaded = crate::demo::load(&state)
                .await
                .map_err(|e| StartError::Demo(format!("cannot load the demo data: {e:?}")))?;
            tracing::info!(
                organizations = loaded.organizations,
                subjects = loaded.subjects,
                records = loaded.records,
                commitments = loaded.commitments,
                "demo data loaded"
            );
        }
        // Evaluation runs a stopped node left unfinished go on here (safe on several nodes).
        let unfinished = crate::ratings::evaluation::unfinished(&state.db)
            .await
            .map_err(|e| StartError::Database(e.detail()))?;
        for run in unfinished {
            tracing::info!(run = run.id, model = %run.model_code, done = run.done, "resuming evaluation run");
            crate::ratings::evaluation::spawn(&state.runtime, state.db.clone(), run.id);
        }
        spawn_idempotency_purge(state.db.clone());
        Self::with_state(state)
    }

    /// Binds a server around prepared state.
    pub fn with_state(state: AppState) -> Result<Self, StartError> {
        http::metrics::install();
        let bind = state.settings.bind.clone();
        let listener = TcpListener::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind.clone(), e))?
            .port();
        let schemas = web::Data::new(graphql::build(&state));
        let data = web::Data::new(state.clone());
        let settings = state.settings.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(request_id::middleware))
                .app_data(data.clone())
                .app_data(schemas.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .configure(http::routes)
        })
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .client_request_timeout(Duration::from_secs(30));
        // Executions run on the HTTP worker that read them (`http::graphql::execute`). On
        // PostgreSQL half as many workers as cores, each with the hot path's connection of its
        // own: the database's processes need the other half. Measured on 2 cores (eligibility,
        // 32 connections): one worker 13,584 checks/s at 44 µs of the server's CPU each, two
        // 12,459 at 60 µs (and p99 at a fixed 2,500/s 1.99 against 2.42 ms). On SQLite the
        // reading is the worker's own CPU: one per core.
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let workers = if state.settings.is_sqlite() {
            cores
        } else {
            (cores / 2).max(1)
        };
        server = server.workers(settings.workers.unwrap_or(workers));
        let server = server
            .listen(listener)
            .map_err(|e| StartError::Bind(bind, e))?
            .run();
        tracing::info!(
            port,
            mode = ?settings.mode,
            database = if settings.is_sqlite() { "sqlite" } else { "postgres" },
            "credit-hub listening; GraphiQL at http://{}/graphiql",
            state.settings.bind.replace(":0", &format!(":{port}"))
        );
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests (graceful shutdown) and
    /// writes the audit entries of the last reads.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.state.read_audit.flush().await;
        served
    }

    /// A handle that stops the server as a signal would (`stop(true)`: gracefully).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}
