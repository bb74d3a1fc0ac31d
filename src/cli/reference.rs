//! The README's command reference, generated from the clap definitions so
//! it cannot drift: a unit test compares the README's section with this
//! output, and `rbuild help-reference` (hidden) prints it for pasting.

use clap::CommandFactory;
use std::fmt::Write;

/// Markdown: one section per command, its flags and arguments.
pub fn markdown() -> String {
    let cli = super::args::Cli::command();
    let mut out = String::new();
    for cmd in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        write_command(&mut out, &format!("rbuild {}", cmd.get_name()), cmd);
    }
    out
}

fn write_command(out: &mut String, path: &str, cmd: &clap::Command) {
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(out, "### `{path}`\n\n{about}\n");
    let mut any = false;
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let name = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("-{s}, --{l}"),
            (None, Some(l)) => format!("--{l}"),
            (Some(s), None) => format!("-{s}"),
            (None, None) => id.to_uppercase(),
        };
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let _ = writeln!(out, "- `{name}`: {help}");
        any = true;
    }
    if any {
        out.push('\n');
    }
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        write_command(out, &format!("{path} {}", sub.get_name()), sub);
    }
}

#[cfg(test)]
mod tests {
    const START: &str = "<!-- commands:start -->\n";
    const END: &str = "<!-- commands:end -->";

    #[test]
    fn the_readme_lists_every_command_and_flag() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let start = readme
            .find(START)
            .expect("README has the commands:start marker")
            + START.len();
        let end = readme
            .find(END)
            .expect("README has the commands:end marker");
        let generated = super::markdown();
        assert!(
            readme[start..end] == generated,
            "README.md's command reference is out of date: replace the text between the \
             markers with the output of `rbuild help-reference`"
        );
    }
}
