//! What the benchmarks share: a fresh database per run, on SQLite and on PostgreSQL, chosen by
//! the command line (`-- sqlite`, `-- postgres`, or both when none is named).

use std::future::Future;

use credit_hub::auth::{Principal, Role};
use credit_hub::config::Settings;
use credit_hub::state::AppState;
use sea_orm::{ConnectionTrait, Database};

/// The state of a benchmark's service on `database_url`, migrated, with the demo organizations,
/// with the server's settings (`bulk`: with those of the bulk commands, `demo-data --subjects`
/// and `evaluate`).
pub async fn prepare(database_url: String, bulk: bool) -> AppState {
    let mut settings = Settings {
        database_url,
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("benchmark-secret-benchmark-secret-0123".into()),
        id_hash_key: Some("benchmark-id-key-benchmark-id-key-0123".into()),
        log_level: "warn".into(),
        ..Settings::default()
    };
    if bulk {
        settings = settings.for_bulk_work();
    }
    let state = credit_hub::app::prepare_state(settings)
        .await
        .expect("prepare");
    credit_hub::demo::load_organizations(&state.db)
        .await
        .expect("organizations");
    state
}

/// Starts the HTTP server on a free port and answers its GraphQL URL.
pub fn serve(state: &AppState) -> String {
    let app = credit_hub::Application::with_state(state.clone()).expect("bind");
    let url = format!("http://127.0.0.1:{}/graphql", app.port());
    tokio::spawn(app.run_until_stopped());
    url
}

/// A real token for a client of `org` with `role`'s default scopes.
pub fn token(state: &AppState, role: Role, org: &str, client_id: &str) -> String {
    state
        .tokens
        .mint(
            &Principal {
                client_id: client_id.into(),
                organization: org.into(),
                role,
                scopes: role
                    .default_scopes()
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
            },
            None,
        )
        .expect("token")
}

/// Calls `run(name, database_url)` for each database the command line asks for, each on a
/// database made for it and removed after: a temporary SQLite file, or a PostgreSQL database
/// created beside CREDIT_HUB_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
pub async fn on_each_database<F, Fut>(prefix: &str, run: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    if wants("sqlite") {
        let path = std::env::temp_dir().join(format!(
            "credit-hub-{prefix}-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        run("sqlite", format!("sqlite://{}?mode=rwc", path.display())).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    if wants("postgres") {
        let admin_url = std::env::var("CREDIT_HUB_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("credit_hub_{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url.as_str())
            .await
            .expect("PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create");
        let (url, query) = admin_url
            .split_once('?')
            .unwrap_or((admin_url.as_str(), ""));
        let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        run("postgres", format!("{base}/{name}{query}")).await;
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}
