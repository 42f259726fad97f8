//! Prometheus metrics: requests, latency, errors by code, and the database pool.

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (several apps in one test process share it).
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new().set_buckets_for_metric(
            Matcher::Full("credit_hub_http_request_duration_seconds".into()),
            &[
                0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        );
        match builder.and_then(|b| b.install_recorder()) {
            Ok(handle) => {
                keep_up(handle.clone());
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        }
    });
}

/// How often the histograms' recorded samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the histograms' samples into their buckets every [`UPKEEP_EVERY`], on a thread of its
/// own. The recorder keeps every sample (8 bytes each) until an upkeep or a scrape of /metrics
/// folds them: a node nobody scrapes would otherwise grow by 8 bytes a request, some 1.7 GB a
/// day at 2,500 checks/s.
fn keep_up(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms are folded only when /metrics is read");
    }
}

/// Counts an error answered to a client, by its code.
pub fn count_error(code: &str) {
    metrics::counter!("credit_hub_errors_total", "code" => code.to_owned()).increment(1);
}

/// Records one HTTP request.
pub fn record_request(method: &str, route: &str, status: u16, seconds: f64) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("credit_hub_http_requests_total", &labels).increment(1);
    metrics::histogram!(
        "credit_hub_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(seconds);
}

fn record_pool(state: &AppState) {
    let (size, idle) = if state.settings.is_sqlite() {
        let pool = state.db.get_sqlite_connection_pool();
        (pool.size(), pool.num_idle())
    } else {
        let pool = state.db.get_postgres_connection_pool();
        (pool.size(), pool.num_idle())
    };
    metrics::gauge!("credit_hub_db_pool_connections", "state" => "open").set(f64::from(size));
    metrics::gauge!("credit_hub_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("credit_hub_db_pool_max_connections")
        .set(f64::from(state.settings.db_max_connections));
}

pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    record_pool(&state);
    match HANDLE.get().and_then(Option::as_ref) {
        Some(handle) => {
            handle.run_upkeep();
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4")
                .body(handle.render())
        }
        None => HttpResponse::ServiceUnavailable().body("metrics recorder not installed"),
    }
}
