//! credit-hub: the GraphQL backend of a county public credit information platform
//! (公共信用信息平台). One folder per capability; `app` wires them into a server that the binary
//! and the tests share.

pub mod app;
pub mod audit;
pub mod auth;
pub mod benefits;
pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod commitments;
pub mod config;
pub mod db;
pub mod demo;
pub mod digest;
pub mod error;
pub mod graphql;
pub mod hot_path;
pub mod http;
pub mod idempotency;
pub mod lists;
pub mod ratings;
pub mod records;
pub mod reference;
pub mod state;
pub mod subjects;
pub mod telemetry;
pub mod writer;

pub use app::Application;
pub use config::Settings;
