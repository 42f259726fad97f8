//! Credit evaluation (信用评价) and tiered supervision (分级分类监管): evaluation models as
//! versioned data, ratings that every write keeps current and that explain every point, the
//! annual batch evaluation, reproducible inspection samples, and the rural credit roll-up.

pub mod evaluation;
pub mod graphql;
pub mod loader;
pub mod queue;
pub mod rules;
pub mod rural;
pub mod service;
pub mod supervision;
