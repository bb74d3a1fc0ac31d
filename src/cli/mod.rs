//! Command-line front end. Temporary minimal entry while modules land.
pub mod render;

pub fn run() -> i32 {
    0
}
