//! The answers' schemas shared beyond one route: a premium and its skip reason (the premium
//! routes, the premium table, the error body), a premium stream's events, and a history answer
//! (the history route and the writer of its JSON).

pub mod history;
pub mod premium;
pub mod stream;
