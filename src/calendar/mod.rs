//! The working-day calendar: weekends, official holidays and make-up working days as data,
//! loaded from the State Council notices (`credit-hub calendar import FILE`, or `loadCalendar`).

pub mod graphql;
pub mod rules;
pub mod service;
