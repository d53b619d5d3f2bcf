//! venues
