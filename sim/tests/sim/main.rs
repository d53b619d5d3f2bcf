//! The simulator over real HTTP, one module per concern: `shapes` (every path's fields and
//! types), `price_model` (seeded paths and the premium), `faults`, `pins` (pinned prices and
//! books, stats, health), `universe` (the realistic listing set and its ground truth), `books`
//! (order books and funding); `support` is what they all start from.

// A test binary sees every dependency of the library; it uses only some of them.
#![allow(unused_crate_dependencies)]

mod books;
mod faults;
mod pins;
mod price_model;
mod shapes;
mod support;
mod universe;
