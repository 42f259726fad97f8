//! Credit records (信用信息): submission in batches answered row by row, 双公示 timeliness in
//! working days, publicity periods by policy version, corrections and revocations with history,
//! what each caller may see, and the publicity report.

pub mod graphql;
pub mod loader;
pub mod report;
pub mod rules;
pub mod service;
pub mod visibility;
