//! Command-line front end: argument parsing, rendering of errors and
//! warnings, and the exit status contract (0 success, 1 build failure,
//! 2 usage or Dockerfile errors).

mod args;
mod bake_cmd;
mod build_cmd;
mod commands;
mod diagnostics;
mod image_cmds;
mod input;
mod inspect_cmd;
mod reference;
mod registry_cmds;
pub mod render;
mod run_cmd;
mod store_cmds;
mod template;

use clap::Parser;

/// A command that did not succeed: text already rendered for the terminal and
/// the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    /// Usage or Dockerfile errors: exit 2.
    pub fn usage(message: String) -> Self {
        Failure { message, code: 2 }
    }

    /// The build itself failed: exit 1.
    pub fn build(message: String) -> Self {
        Failure { message, code: 1 }
    }

    /// A library error, rendered the one way every command renders them
    /// ([`render::error_text`]): exit 1.
    pub fn error(err: impl std::error::Error) -> Self {
        Failure::build(render::error_text(&err))
    }

    /// A failure described in words (`error: ...`): exit 1.
    pub fn message(text: impl std::fmt::Display) -> Self {
        Failure::build(format!("error: {text}"))
    }
}

/// Runs the command line and returns the process exit status.
pub fn run() -> i32 {
    let argv = args::with_default_subcommand(std::env::args_os().collect());
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        args::Command::Build(a) => commands::build(*a),
        args::Command::Run(a) => run_cmd::run(*a),
        args::Command::Bake(a) => bake_cmd::bake(a),
        args::Command::HelpReference => {
            print!("{}", reference::markdown());
            Ok(0)
        }
        args::Command::Parse(a) => commands::parse(a),
        args::Command::Lint(a) => commands::lint_cmd(a),
        args::Command::Images(a) => image_cmds::images(a),
        args::Command::Inspect(a) => inspect_cmd::inspect(a),
        args::Command::Save(a) => image_cmds::save(a),
        args::Command::Load(a) => image_cmds::load(a),
        args::Command::Import(a) => image_cmds::import(a),
        args::Command::Tag(a) => image_cmds::tag(a),
        args::Command::Rmi(a) => image_cmds::rmi(a),
        args::Command::Prune(a) => store_cmds::prune(a),
        args::Command::Du(a) => store_cmds::du(a),
        args::Command::Check(a) => store_cmds::check(a),
        args::Command::Pull(a) => registry_cmds::pull_cmd(a),
        args::Command::Push(a) => registry_cmds::push_cmd(a),
        args::Command::Login(a) => registry_cmds::login_cmd(a),
        args::Command::Logout(a) => registry_cmds::logout_cmd(a),
        args::Command::Cache(args::CacheCommand::Prune(a)) => registry_cmds::cache_prune_cmd(a),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprint!("{}", failure.message);
            if !failure.message.ends_with('\n') {
                eprintln!();
            }
            failure.code
        }
    }
}
