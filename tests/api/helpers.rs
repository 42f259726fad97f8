//! `spawn_app` and what tests need around it: tokens per role, GraphQL calls, database access.

use std::io::Write;
use std::sync::Arc;

use credit_hub::auth::{Principal, Role, token::TokenKeys};
use credit_hub::config::{Mode, Settings};
use credit_hub::state::AppState;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

fn postgres_admin_url() -> String {
    std::env::var("CREDIT_HUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

static POSTGRES: OnceCell<bool> = OnceCell::const_new();

/// The PostgreSQL backend, or `None` (after saying so, once, on the terminal) when PostgreSQL
/// cannot be reached on a developer's machine. CI never skips: it fails instead.
pub async fn postgres() -> Option<Backend> {
    let url = postgres_admin_url();
    let reachable = *POSTGRES
        .get_or_init(|| async {
            let mut options = sea_orm::ConnectOptions::new(postgres_admin_url());
            options
                .connect_timeout(std::time::Duration::from_secs(3))
                .acquire_timeout(std::time::Duration::from_secs(3))
                .sqlx_logging(false);
            let ok = match Database::connect(options).await {
                Ok(db) => db.execute_unprepared("SELECT 1").await.is_ok(),
                Err(_) => false,
            };
            if !ok {
                // Straight to the terminal: libtest would swallow eprintln! of a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** PostgreSQL is not reachable at {}: the PostgreSQL half of the tests is SKIPPED. \
                     Start PostgreSQL or set CREDIT_HUB_TEST_POSTGRES_URL. CI never skips it. ***\n",
                    postgres_admin_url()
                );
            }
            ok
        })
        .await;
    let required = std::env::var_os("CI").is_some()
        || std::env::var_os("CREDIT_HUB_REQUIRE_POSTGRES").is_some();
    if !reachable && required {
        panic!("PostgreSQL is required (CI) but not reachable at {url}");
    }
    reachable.then_some(Backend::Postgres { admin_url: url })
}

/// Declares tests that run on both databases: `both!(name_a, name_b)` turns
/// `async fn name_a(backend: Backend)` into `sqlite::name_a` and `postgres::name_a`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::postgres().await {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// Removes what a test made when it ends: the SQLite file, or the PostgreSQL database.
pub struct Cleanup {
    sqlite_path: Option<std::path::PathBuf>,
    postgres: Option<(String, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = &self.sqlite_path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs inside the test's runtime: do the async work on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(db) = Database::connect(&admin_url).await {
                            let _ = db
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A running server and the means to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub keys: Arc<TokenKeys>,
    pub settings: Settings,
    /// Stops the server as a signal would.
    pub server: actix_web::dev::ServerHandle,
    /// The served server, until [`TestApp::stop`] awaits it.
    served: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    _cleanup: Cleanup,
}

impl TestApp {
    /// Stops the server gracefully, as SIGTERM would, and waits until it has done what it does
    /// after its last request.
    pub async fn stop(&self) {
        self.server.stop(true).await;
        let served = self.served.lock().ok().and_then(|mut s| s.take());
        if let Some(served) = served {
            served
                .await
                .expect("the server's task")
                .expect("the server served");
        }
    }
}

/// The organization each role's test tokens belong to (seeded by the demo organizations).
pub fn org_of(role: Role) -> &'static str {
    match role {
        Role::Admin => "PLATFORM",
        Role::Department => "MARKET_REGULATION",
        Role::ApprovalHall => "APPROVAL_HALL",
        Role::Bank => "JIUJIANG_BANK",
        Role::App => "CHAISANG_APP",
        Role::Partner => "CATERING_ASSOCIATION",
    }
}

fn random_text() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Settings for a test app on a backend; `tweak` may change them before the app starts.
pub async fn test_settings(backend: &Backend) -> (Settings, Cleanup) {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        workers: Some(1),
        db_max_connections: 5,
        // Re-rate submitted records' subjects as soon as the worker is woken.
        rating_delay_ms: 0,
        jwt_secret: Some(format!("{}{}", random_text(), random_text())),
        id_hash_key: Some(format!("{}{}", random_text(), random_text())),
        ..Settings::default()
    };
    let cleanup = match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("credit-hub-test-{}.db", random_text()));
            settings.database_url = format!("sqlite://{}?mode=rwc", path.display());
            Cleanup {
                sqlite_path: Some(path),
                postgres: None,
            }
        }
        Backend::Postgres { admin_url } => {
            let name = format!("credit_hub_test_{}", random_text());
            let admin = Database::connect(admin_url.as_str())
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or_else(|| admin_url.clone());
            settings.database_url = format!("{base}/{name}");
            Cleanup {
                sqlite_path: None,
                postgres: Some((admin_url.clone(), name)),
            }
        }
    };
    (settings, cleanup)
}

/// Starts the real server on a fresh database with the demo organizations.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the real server after `tweak` has adjusted the settings.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        credit_hub::telemetry::init(credit_hub::config::LogFormat::Text, "info");
    }
    let (mut settings, cleanup) = test_settings(&backend).await;
    tweak(&mut settings);
    let state = credit_hub::app::prepare_state(settings.clone())
        .await
        .expect("prepare the app");
    credit_hub::demo::load_organizations(&state.db)
        .await
        .expect("load the demo organizations");
    let app = credit_hub::Application::with_state(state.clone()).expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    let served = tokio::spawn(app.run_until_stopped());
    TestApp {
        server,
        served: std::sync::Mutex::new(Some(served)),
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        keys: state.tokens.clone(),
        state,
        settings,
        _cleanup: cleanup,
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `errors[0].extensions.code`.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
    }
}

pub async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A real token for a role, signed with the app's key.
    pub fn token(&self, role: Role) -> String {
        self.token_for(role, org_of(role))
    }

    pub fn token_for(&self, role: Role, org: &str) -> String {
        let principal = Principal {
            client_id: format!("test-{}", role.as_str().to_lowercase()),
            organization: org.to_owned(),
            role,
            scopes: role
                .default_scopes()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        self.keys.mint(&principal, None).expect("mint")
    }

    /// GETs a path and reads the answer.
    pub async fn get(&self, path: &str) -> Answer {
        read(self.client.get(self.url(path)).send().await.expect("send")).await
    }

    /// GETs /graphql with these query-string parameters, with a token when given.
    pub async fn get_graphql(&self, params: &[(&str, &str)], token: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url("/graphql")).query(params);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request.send().await.expect("send")).await
    }

    /// POSTs a GraphQL request, with a token when given.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Answer {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request.send().await.expect("request")).await
    }

    /// POSTs as a role.
    pub async fn as_role(&self, role: Role, query: &str, variables: Value) -> Answer {
        let token = self.token(role);
        self.graphql(Some(&token), query, variables).await
    }

    /// The database the app runs on, for assertions the API cannot make.
    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// The first row a raw SQL statement answers.
    async fn first_row(&self, sql: &str) -> sea_orm::QueryResult {
        first_row_in(self.db(), sql).await
    }

    /// Counts rows with a raw SQL statement that returns one integer column named `n`.
    /// Waits until the node's worker has stored the ratings of the records submitted so far
    /// (`ratings::queue`), for the reads that list stored ratings.
    pub async fn ratings_stored(&self) {
        for _ in 0..500 {
            let pending = credit_hub::ratings::queue::pending(&self.state.db)
                .await
                .expect("count the rating queue");
            if pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the rating queue was not worked off within 5 s");
    }

    pub async fn count(&self, sql: &str) -> i64 {
        count_in(self.db(), sql).await
    }

    /// The first column of the first row a query answers, as text.
    pub async fn text(&self, sql: &str) -> String {
        let row = self.first_row(sql).await;
        row.try_get_by_index::<String>(0).expect("text")
    }
}

/// The first row a raw SQL statement answers on `db`.
async fn first_row_in(db: &DatabaseConnection, sql: &str) -> sea_orm::QueryResult {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect("query")
    .expect("row")
}

/// [`TestApp::count`] on another connection than the node's pool (one that outlives a stop).
pub async fn count_in(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = first_row_in(db, sql).await;
    row.try_get::<i64>("", "n").expect("n")
}

/// Every role, and anonymous as `None`.
pub fn callers() -> Vec<Option<Role>> {
    let mut all: Vec<Option<Role>> = Role::ALL.into_iter().map(Some).collect();
    all.push(None);
    all
}

/// Settings in production mode with the secrets a production start needs.
pub fn production(settings: &mut Settings) {
    settings.mode = Mode::Production;
}

/// A valid USCC standing for the deciding authority in test penalties.
pub const AUTHORITY: &str = "12100000400009880K";

/// A penalty row keyed by the national CF_* codes.
pub fn penalty(code: &str, number: &str, decided: chrono::NaiveDate, types: &str) -> Value {
    let mut fields = json!({
        "CF_XDR_MC": "九江甲食品有限公司",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": code,
        "CF_FRDB": "张建国",
        "CF_WSH": number,
        "CF_WFXW": "销售过期食品",
        "CF_SY": "经查，当事人销售超过保质期的食品。",
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
        "CF_CFLB": types,
        "CF_NR": "罚款2000元",
        "CF_JDRQ": decided.to_string(),
        "CF_CFJG": "柴桑区市场监督管理局",
        "CF_CFJGDM": AUTHORITY,
        "CF_SJLY": "柴桑区市场监督管理局",
        "CF_SJLYDM": AUTHORITY,
    });
    if types.contains("罚款") {
        fields["CF_NR_FK"] = json!(0.2);
    }
    if types.contains("吊销许可证件") {
        fields["CF_NR_ZKDX"] = json!("食品经营许可证 JY13604040001");
    }
    json!({ "item": "ADMIN_PENALTY", "fields": fields })
}

/// A date `n` days before today in China.
pub fn days_ago(n: i64) -> chrono::NaiveDate {
    credit_hub::records::service::china_today() - chrono::Duration::days(n)
}

/// Registers subjects as the admin; every one must be accepted.
pub async fn register(app: &TestApp, subjects: Value) {
    let answer = app
        .as_role(
            credit_hub::auth::Role::Admin,
            "mutation ($s: [SubjectInput!]!) { registerSubjects(input: {subjects: $s}) { refusedCount userErrors { field message } } }",
            json!({ "s": subjects }),
        )
        .await;
    assert_eq!(
        answer.body["data"]["registerSubjects"]["refusedCount"], 0,
        "{}",
        answer.text
    );
}
