// TEMPORARY while src/lint lands (restored from /tmp/cli_mod.rs.real).
mod args;
mod input;
pub mod render;
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}
impl Failure {
    pub fn usage(message: String) -> Self {
        Failure { message, code: 2 }
    }
}
pub fn run() -> i32 {
    2
}
