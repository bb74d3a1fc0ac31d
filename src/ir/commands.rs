//! Lowering of each instruction family into a typed [`Command`].

use super::error::{LowerError, LowerErrorKind};
use super::flags::{
    FlagSpec, Flags, ADD_FLAGS, COPY_FLAGS, HEALTHCHECK_FLAGS, NO_FLAGS, RUN_FLAGS,
};
use super::lower::check_known;
use super::mount::MountSpec;
use super::plan::{
    ArgDecl, BuildPlan, Chmod, Command, CommandLine, Copy, CopyFrom, CopySource, Healthcheck,
    HeredocBody, KeyValue, NetworkMode, Run, Security,
};
use super::values::{is_symbolic_mode, parse_go_duration, parse_octal_mode};
use crate::dockerfile::{parse_heredoc_marker, Args, Heredoc, Instruction, Keyword, Word};

/// What `COPY --from` may refer to while a stage is being lowered.
pub struct StageRefs<'a> {
    pub plan: &'a BuildPlan,
    /// Every stage name in the file, in order (lower-cased).
    pub all_names: &'a [String],
    /// Index of the stage being lowered (`None` before the first FROM).
    pub current: Option<usize>,
}

type Result<T> = std::result::Result<T, LowerError>;

fn err<T>(kind: LowerErrorKind, word_or_span: crate::dockerfile::Span) -> Result<T> {
    Err(LowerError::new(kind, word_or_span))
}

fn count_error<T>(instruction: &Instruction, expected: &'static str) -> Result<T> {
    err(
        LowerErrorKind::ArgumentCount {
            keyword: instruction.keyword.as_str().into(),
            expected,
        },
        instruction.span,
    )
}

pub fn lower_command(instruction: &Instruction, refs: &StageRefs) -> Result<Command> {
    let keyword = instruction.keyword.as_str();
    let flags = |spec: FlagSpec| Flags::parse(&instruction.flags, spec, keyword);
    let words = instruction.args.words();
    Ok(match instruction.keyword {
        Keyword::Run => Command::Run(lower_run(instruction, flags(RUN_FLAGS)?)?),
        Keyword::Copy => Command::Copy(lower_copy(instruction, flags(COPY_FLAGS)?, refs)?),
        Keyword::Add => Command::Copy(lower_copy(instruction, flags(ADD_FLAGS)?, refs)?),
        Keyword::Healthcheck => lower_healthcheck(instruction, flags(HEALTHCHECK_FLAGS)?)?,
        _ => {
            flags(NO_FLAGS)?;
            match instruction.keyword {
                Keyword::Env => Command::Env(pairs(instruction, "ENV")?),
                Keyword::Label => Command::Label(pairs(instruction, "LABEL")?),
                Keyword::Arg => Command::Arg(lower_arg(instruction)?),
                Keyword::Expose if !words.is_empty() => Command::Expose(texts(words)),
                Keyword::Expose => return count_error(instruction, "at least one argument"),
                Keyword::Volume => Command::Volume(lower_volume(instruction)?),
                Keyword::User => Command::User(single(instruction)?),
                Keyword::Workdir => Command::Workdir(single(instruction)?),
                Keyword::Stopsignal => Command::Stopsignal(single(instruction)?),
                Keyword::Maintainer => Command::Maintainer(single(instruction)?),
                Keyword::Cmd => Command::Cmd(command_line(instruction)),
                Keyword::Entrypoint => Command::Entrypoint(command_line(instruction)),
                Keyword::Shell => Command::Shell(lower_shell(instruction)?),
                Keyword::Onbuild => Command::Onbuild(lower_onbuild(instruction)?),
                _ => {
                    check_known(instruction)?;
                    return count_error(instruction, "a stage");
                }
            }
        }
    })
}

fn texts(words: &[Word]) -> Vec<String> {
    words.iter().map(|w| w.text.clone()).collect()
}

/// The whole argument text as one value (USER, WORKDIR, ...).
fn single(instruction: &Instruction) -> Result<String> {
    match instruction.args.words() {
        [word] => Ok(word.text.clone()),
        _ => count_error(instruction, "exactly one argument"),
    }
}

/// Exec form for JSON arrays, otherwise the text as a shell command.
fn command_line(instruction: &Instruction) -> CommandLine {
    let words = texts(instruction.args.words());
    if instruction.json {
        CommandLine::Exec(words)
    } else {
        CommandLine::Shell(words.concat())
    }
}

fn heredoc_body(heredoc: &Heredoc) -> HeredocBody {
    HeredocBody {
        name: heredoc.name.clone(),
        fd: heredoc.fd,
        expand: heredoc.expand,
        content: heredoc.body(),
    }
}

/// An empty `RUN` is accepted, as BuildKit does: it runs the shell on an
/// empty command line.
fn lower_run(instruction: &Instruction, flags: Flags) -> Result<Run> {
    let mut mounts = Vec::new();
    for flag in flags.all("mount") {
        let spec = MountSpec::parse(&flag.value)
            .map_err(|e| LowerError::new(LowerErrorKind::Mount(e), flag.span))?;
        mounts.push(spec);
    }
    let network = match flags.string("network") {
        None => None,
        Some(f) => Some(match f.value.as_str() {
            "default" => NetworkMode::Default,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => {
                return err(
                    LowerErrorKind::InvalidNetwork {
                        value: f.value.clone(),
                    },
                    f.span,
                )
            }
        }),
    };
    let security = match flags.string("security") {
        None => None,
        Some(f) => Some(match f.value.as_str() {
            "sandbox" => Security::Sandbox,
            "insecure" => Security::Insecure,
            _ => {
                return err(
                    LowerErrorKind::InvalidSecurity {
                        value: f.value.clone(),
                    },
                    f.span,
                )
            }
        }),
    };
    Ok(Run {
        command: command_line(instruction),
        mounts,
        network,
        security,
        heredocs: instruction.heredocs.iter().map(heredoc_body).collect(),
    })
}

fn lower_copy(instruction: &Instruction, flags: Flags, refs: &StageRefs) -> Result<Copy> {
    let add = instruction.keyword == Keyword::Add;
    let words = instruction.args.words();
    let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
        return count_error(
            instruction,
            "at least two arguments, but only one was provided. Destination could not be determined.",
        );
    };
    let mut heredocs = instruction.heredocs.iter();
    let mut copy_sources = Vec::with_capacity(sources.len());
    for source in sources {
        let marker = if instruction.json {
            None
        } else {
            parse_heredoc_marker(&source.text).ok().flatten()
        };
        match marker {
            Some(marker) => {
                let Some(heredoc) = heredocs.next() else {
                    return err(
                        LowerErrorKind::MissingHeredoc { name: marker.name },
                        source.span,
                    );
                };
                copy_sources.push(CopySource::Heredoc(heredoc_body(heredoc)));
            }
            None => copy_sources.push(CopySource::Path(source.text.clone())),
        }
    }
    let from = match flags.string("from") {
        None => None,
        Some(f) if f.value.contains('$') => return err(LowerErrorKind::FromWithVariable, f.span),
        Some(f) => Some(resolve_from(&f.value, refs).map_err(|k| LowerError::new(k, f.span))?),
    };
    let chmod = match flags.string("chmod") {
        None => None,
        Some(f) => Some(parse_chmod(&f.value).map_err(|k| LowerError::new(k, f.span))?),
    };
    Ok(Copy {
        add,
        sources: copy_sources,
        dest: dest.text.clone(),
        from,
        chown: flags.string("chown").map(|f| f.value.clone()),
        chmod,
        link: flags.bool("link"),
        parents: flags.bool("parents"),
        excludes: flags.all("exclude").map(|f| f.value.clone()).collect(),
        checksum: flags.string("checksum").map(|f| f.value.clone()),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.opt_bool("unpack"),
        json: instruction.json,
    })
}

fn parse_chmod(value: &str) -> std::result::Result<Chmod, LowerErrorKind> {
    if value.contains('$') {
        Ok(Chmod::Unexpanded(value.to_string()))
    } else if let Some(mode) = parse_octal_mode(value) {
        Ok(Chmod::Octal(mode))
    } else if is_symbolic_mode(value) {
        Ok(Chmod::Symbolic(value.to_string()))
    } else {
        Err(LowerErrorKind::InvalidChmod {
            value: value.to_string(),
        })
    }
}

/// `--from` names an earlier stage (by name or index) or else an image.
fn resolve_from(value: &str, refs: &StageRefs) -> std::result::Result<CopyFrom, LowerErrorKind> {
    let current = refs.current.unwrap_or(0);
    let current_name = || {
        refs.plan
            .stages
            .get(current)
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| current.to_string())
    };
    let later = || LowerErrorKind::StageDefinedLater {
        from: value.to_string(),
        current: current_name(),
    };
    if let Ok(index) = value.parse::<usize>() {
        return if index < current {
            Ok(CopyFrom::Stage(index))
        } else {
            Err(later())
        };
    }
    let lower = value.to_ascii_lowercase();
    let earlier = refs.plan.stages[..current.min(refs.plan.stages.len())]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(lower.as_str()));
    match earlier {
        Some(index) => Ok(CopyFrom::Stage(index)),
        None if refs.all_names.contains(&lower) => Err(later()),
        None => Ok(CopyFrom::Image(value.to_string())),
    }
}

fn pairs(instruction: &Instruction, keyword: &str) -> Result<Vec<KeyValue>> {
    let Args::Pairs(pairs) = &instruction.args else {
        return count_error(instruction, "at least one argument");
    };
    pairs
        .iter()
        .map(|p| {
            if p.key.text.is_empty() {
                return err(
                    LowerErrorKind::EmptyKey {
                        keyword: keyword.into(),
                    },
                    p.key.span,
                );
            }
            Ok(KeyValue {
                key: p.key.text.clone(),
                value: p.value.text.clone(),
            })
        })
        .collect()
}

fn lower_arg(instruction: &Instruction) -> Result<Vec<ArgDecl>> {
    let words = instruction.args.words();
    if words.is_empty() {
        return count_error(instruction, "at least one argument");
    }
    words
        .iter()
        .map(|w| {
            let (name, default) = match w.text.split_once('=') {
                Some((n, d)) => (n, Some(d.to_string())),
                None => (w.text.as_str(), None),
            };
            if name.is_empty() {
                return err(
                    LowerErrorKind::InvalidArgName {
                        name: w.text.clone(),
                    },
                    w.span,
                );
            }
            Ok(ArgDecl {
                name: name.to_string(),
                default,
            })
        })
        .collect()
}

fn lower_volume(instruction: &Instruction) -> Result<Vec<String>> {
    let words = instruction.args.words();
    if words.is_empty() {
        return count_error(instruction, "at least one argument");
    }
    if let Some(empty) = words.iter().find(|w| w.text.trim().is_empty()) {
        return err(LowerErrorKind::EmptyVolume, empty.span);
    }
    Ok(texts(words))
}

fn lower_shell(instruction: &Instruction) -> Result<Vec<String>> {
    if !instruction.json {
        return err(LowerErrorKind::ShellNotJson, instruction.span);
    }
    let words = texts(instruction.args.words());
    if words.is_empty() {
        return count_error(instruction, "at least one argument");
    }
    Ok(words)
}

fn lower_healthcheck(instruction: &Instruction, flags: Flags) -> Result<Command> {
    let Args::Health { kind, command } = &instruction.args else {
        return count_error(instruction, "an argument: CMD <command> or NONE");
    };
    match kind.text.to_ascii_uppercase().as_str() {
        "NONE" if command.is_empty() && !instruction.json => {
            Ok(Command::Healthcheck(Healthcheck::None))
        }
        "NONE" => err(LowerErrorKind::HealthcheckNoneArgs, instruction.span),
        "CMD" => {
            if command.is_empty() {
                return err(LowerErrorKind::HealthcheckNoCommand, instruction.span);
            }
            let test = if instruction.json {
                CommandLine::Exec(texts(command))
            } else {
                CommandLine::Shell(command[0].text.clone())
            };
            Ok(Command::Healthcheck(Healthcheck::Cmd {
                test,
                interval: duration(&flags, "interval")?,
                timeout: duration(&flags, "timeout")?,
                start_period: duration(&flags, "start-period")?,
                start_interval: duration(&flags, "start-interval")?,
                retries: retries(&flags)?,
            }))
        }
        _ => err(
            LowerErrorKind::HealthcheckType {
                kind: kind.text.clone(),
            },
            kind.span,
        ),
    }
}

/// A HEALTHCHECK duration: 0 (inherit) or at least 1ms.
fn duration(flags: &Flags, name: &'static str) -> Result<Option<u64>> {
    let Some(f) = flags.string(name) else {
        return Ok(None);
    };
    let invalid = |reason: String| {
        LowerError::new(
            LowerErrorKind::InvalidDuration {
                flag: name,
                value: f.value.clone(),
                reason,
            },
            f.span,
        )
    };
    let nanos = parse_go_duration(&f.value).map_err(invalid)?;
    if nanos != 0 && nanos < 1_000_000 {
        return Err(invalid("cannot be less than 1ms".into()));
    }
    Ok(Some(nanos))
}

fn retries(flags: &Flags) -> Result<Option<u32>> {
    let Some(f) = flags.string("retries") else {
        return Ok(None);
    };
    f.value.parse().map(Some).map_err(|_| {
        LowerError::new(
            LowerErrorKind::InvalidRetries {
                value: f.value.clone(),
            },
            f.span,
        )
    })
}

/// The trigger text, heredoc bodies appended so a child build can re-parse it.
fn lower_onbuild(instruction: &Instruction) -> Result<String> {
    let Args::OnBuild(inner) = &instruction.args else {
        return count_error(instruction, "at least one argument");
    };
    check_known(inner)?;
    match inner.keyword {
        Keyword::Onbuild => return err(LowerErrorKind::OnbuildChain, inner.name.span),
        Keyword::From | Keyword::Maintainer => {
            return err(
                LowerErrorKind::OnbuildTrigger {
                    keyword: inner.keyword.as_str().into(),
                },
                inner.name.span,
            )
        }
        _ => {}
    }
    let mut trigger = inner.original.clone();
    for heredoc in &instruction.heredocs {
        trigger.push('\n');
        trigger.push_str(&heredoc.content);
        trigger.push_str(&heredoc.name);
    }
    Ok(trigger)
}
