//! The one integration-test binary: every test starts the real server on port 0 with a fresh
//! database (a temporary SQLite file, or a PostgreSQL database created for the test and dropped
//! after it), mints real tokens and talks to it over HTTP.
//!
//! Every test runs twice, as `<module>::sqlite::<name>` and `<module>::postgres::<name>`. Without a
//! reachable PostgreSQL the PostgreSQL half is skipped and says so, unless `CI` or
//! `CREDIT_HUB_REQUIRE_POSTGRES` is set, in which case it fails.

mod helpers;

mod auth;
mod benefits;
mod commitments;
mod http;
mod lists;
mod ops;
mod ratings;
mod records;
mod subjects;
