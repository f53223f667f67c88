//! Interdict's decision engine: everything that decides, with no I/O.
//!
//! (Crate docs are completed as the modules land.)

pub mod behaviour;
pub mod decision;
pub mod event;
pub mod lists;
pub mod number;
pub mod text;
