//! The tables of credit-hub as sea-orm entities, one file per table.
//!
//! Only persistence lives here: no GraphQL and no HTTP. The service maps these rows to its own
//! API types, so a table can change without the contract changing with it.

pub mod api_client;
pub mod audit_log;
pub mod benefit_scenario;
pub mod benefit_use;
pub mod calendar_day;
pub mod calendar_year;
pub mod catalog_item;
pub mod commitment;
pub mod credit_record;
pub mod credit_record_revision;
pub mod credit_state;
pub mod decision_count;
pub mod evaluation_chunk;
pub mod evaluation_model;
pub mod evaluation_run;
pub mod idempotency_key;
pub mod industry;
pub mod instance_secret;
pub mod list_entry;
pub mod organization;
pub mod publicity_policy;
pub mod rating;
pub mod rating_history;
pub mod refused_record;
pub mod region;
pub mod rural_credit_policy;
pub mod subject;
