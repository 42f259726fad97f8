//! The tables of credit-hub as sea-orm entities, one file per table.
//!
//! Only persistence lives here: no GraphQL and no HTTP. The service maps these rows to its own
//! API types, so a table can change without the contract changing with it.

pub mod api_client;
pub mod audit_log;
pub mod industry;
pub mod instance_secret;
pub mod organization;
pub mod region;
pub mod subject;
