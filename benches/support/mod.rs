//! What the benchmarks share: a fresh database per run, on SQLite and on PostgreSQL, chosen by
//! the command line (`-- sqlite`, `-- postgres`, or both when none is named).

use std::future::Future;

use sea_orm::{ConnectionTrait, Database};

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
