//! Lowering: typed instructions, stage references and located errors.

use rbuild::dockerfile::parse;
use rbuild::ir::{
    lower, BuildPlan, Chmod, Command, CommandLine, CopyFrom, CopySource, Healthcheck, LowerError,
    LowerErrorKind, MountType, NetworkMode,
};

fn plan(text: &str) -> BuildPlan {
    lower(&parse(text).expect("parses")).unwrap_or_else(|e| panic!("lowers: {e}"))
}

fn error(text: &str) -> LowerError {
    lower(&parse(text).expect("parses")).expect_err("must not lower")
}

fn at(e: &LowerError) -> (usize, usize) {
    (e.span.start.line, e.span.start.column)
}

#[test]
fn meta_args_and_stage_names_are_collected() {
    let p = plan("ARG TAG=1\nARG OTHER\nFROM img:$TAG AS Build\nRUN x\nFROM build\nFROM scratch\n");
    assert_eq!(p.meta_args.len(), 2);
    assert_eq!(p.meta_args[0].default.as_deref(), Some("1"));
    assert_eq!(p.meta_args[1].default, None);
    assert_eq!(p.stages[0].name.as_deref(), Some("build"));
    assert_eq!(
        p.stages[1].base_stage,
        Some(0),
        "FROM of a stage is case-insensitive"
    );
    assert_eq!(p.stages[2].base_stage, None);
    assert_eq!(p.stage_index("BUILD"), Some(0));
    assert_eq!(p.stage_index("2"), Some(2));
}

#[test]
fn copy_from_resolves_names_indexes_and_images() {
    let p = plan("FROM a AS one\nFROM b\nCOPY --from=ONE /x /x\nCOPY --from=0 /y /y\nCOPY --from=alpine:3 /z /z\n");
    let froms: Vec<_> = p.stages[1]
        .steps
        .iter()
        .map(|s| match &s.command {
            Command::Copy(c) => c.from.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        froms,
        [
            Some(CopyFrom::Stage(0)),
            Some(CopyFrom::Stage(0)),
            Some(CopyFrom::Image("alpine:3".into()))
        ]
    );
}

#[test]
fn copy_from_a_later_stage_is_an_error() {
    let e = error("FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\n");
    assert!(
        matches!(*e.kind, LowerErrorKind::StageDefinedLater { .. }),
        "{e}"
    );
    assert_eq!(at(&e), (2, 6));
}

#[test]
fn copy_from_with_a_variable_is_rejected() {
    let e = error("FROM a\nARG S=x\nCOPY --from=$S /a /b\n");
    assert_eq!(*e.kind, LowerErrorKind::FromWithVariable);
    assert!(e
        .to_string()
        .contains("variable expansion is not supported for --from"));
}

#[test]
fn unknown_instruction_suggests_the_closest() {
    let e = error("FROM a\nCOPPY x y\n");
    assert_eq!(at(&e), (2, 1));
    assert_eq!(e.hint().as_deref(), Some("did you mean COPY?"));
}

#[test]
fn unknown_flag_is_located_and_lists_valid_flags() {
    let e = error("FROM a\nRUN --mont=type=cache,target=/x true\n");
    assert_eq!(at(&e), (2, 5));
    assert_eq!(e.to_string(), "unknown flag: --mont");
    assert_eq!(e.hint().as_deref(), Some("did you mean --mount?"));
    let e = error("FROM a\nENV --x=1 a=b\n");
    assert_eq!(e.hint().as_deref(), Some("ENV takes no flags"));
}

#[test]
fn bad_chmod_values_are_rejected() {
    for bad in ["64a", "10000"] {
        let e = error(&format!("FROM a\nCOPY --chmod={bad} x /y\n"));
        assert!(e.to_string().contains("invalid chmod parameter"), "{e}");
        assert_eq!(at(&e), (2, 6));
    }
    let p =
        plan("FROM a\nCOPY --chmod=0 x /y\nCOPY --chmod=u=rw,go-w x /y\nCOPY --chmod=$M x /y\n");
    let modes: Vec<_> = p.stages[0]
        .steps
        .iter()
        .map(|s| match &s.command {
            Command::Copy(c) => c.chmod.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        modes,
        [
            Some(Chmod::Octal(0)),
            Some(Chmod::Symbolic("u=rw,go-w".into())),
            Some(Chmod::Unexpanded("$M".into()))
        ]
    );
}

#[test]
fn mount_keys_and_aliases_are_accepted() {
    let p = plan(
        "FROM a\nRUN --mount=type=cache,id=x,dst=/c,sharing=locked,mode=0700,uid=1,gid=2 \\\n    --mount=type=secret,id=tok,required,env=TOKEN \\\n    --mount=type=bind,from=a,source=/s,destination=/d,rw \\\n    --mount=type=tmpfs,target=/t,size=64m --network=none true\n",
    );
    let Command::Run(run) = &p.stages[0].steps[0].command else {
        panic!("not a RUN")
    };
    let kinds: Vec<_> = run
        .mounts
        .iter()
        .map(|m| m.resolved.as_ref().expect("literal").kind)
        .collect();
    assert_eq!(
        kinds,
        [
            MountType::Cache,
            MountType::Secret,
            MountType::Bind,
            MountType::Tmpfs
        ]
    );
    assert_eq!(run.network, Some(NetworkMode::None));
}

#[test]
fn bad_mount_keys_are_located_with_suggestions() {
    let e = error("FROM a\nRUN --mount=typ=cache,target=/x true\n");
    assert_eq!(at(&e), (2, 5));
    assert_eq!(e.to_string(), "unexpected key 'typ' in 'typ=cache'");
    assert_eq!(e.hint().as_deref(), Some("did you mean type?"));
    let e = error("FROM a\nRUN --mount=type=tmp,target=/x true\n");
    assert_eq!(e.to_string(), "unsupported mount type \"tmp\"");
    let e = error("FROM a\nRUN --mount=from=$X,target=/x true\n");
    assert!(e
        .to_string()
        .contains("'from' doesn't support variable expansion"));
}

#[test]
fn instructions_before_from_other_than_arg_are_errors() {
    let e = error("ENV a=b\nFROM x\n");
    assert!(matches!(*e.kind, LowerErrorKind::NoStage { .. }));
    assert_eq!(at(&e), (1, 1));
    let e = error("ARG a\n");
    assert_eq!(*e.kind, LowerErrorKind::NoStages);
}

#[test]
fn from_argument_shapes() {
    assert!(matches!(
        *error("FROM a b\n").kind,
        LowerErrorKind::ArgumentCount { .. }
    ));
    assert!(matches!(
        *error("FROM a IS b\n").kind,
        LowerErrorKind::ExpectedAs { .. }
    ));
    let e = error("FROM a AS 1st\n");
    assert!(matches!(*e.kind, LowerErrorKind::InvalidStageName { .. }));
    assert_eq!(at(&e), (1, 11));
}

#[test]
fn commands_keep_exec_and_shell_forms() {
    let p = plan("FROM a\nCMD [\"a\", \"b\"]\nENTRYPOINT run it\nRUN [\"x\"]junk\nSHELL [\"/bin/bash\", \"-c\"]\n");
    let cmds: Vec<_> = p.stages[0]
        .steps
        .iter()
        .map(|s| s.command.clone())
        .collect();
    assert_eq!(
        cmds[0],
        Command::Cmd(CommandLine::Exec(vec!["a".into(), "b".into()]))
    );
    assert_eq!(
        cmds[1],
        Command::Entrypoint(CommandLine::Shell("run it".into()))
    );
    let Command::Run(run) = &cmds[2] else {
        panic!()
    };
    assert_eq!(run.command, CommandLine::Shell("[\"x\"]junk".into()));
    assert_eq!(
        cmds[3],
        Command::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(
        *error("FROM a\nSHELL /bin/sh\n").kind,
        LowerErrorKind::ShellNotJson
    );
}

#[test]
fn healthcheck_flags_are_typed() {
    let p = plan("FROM a\nHEALTHCHECK --interval=5s --timeout=1m30s --retries=3 CMD curl -f x\nHEALTHCHECK NONE\n");
    let Command::Healthcheck(Healthcheck::Cmd {
        interval,
        timeout,
        retries,
        test,
        ..
    }) = &p.stages[0].steps[0].command
    else {
        panic!()
    };
    assert_eq!(
        (*interval, *timeout, *retries),
        (Some(5_000_000_000), Some(90_000_000_000), Some(3))
    );
    assert_eq!(test, &CommandLine::Shell("curl -f x".into()));
    assert_eq!(
        p.stages[0].steps[1].command,
        Command::Healthcheck(Healthcheck::None)
    );
    assert!(matches!(
        *error("FROM a\nHEALTHCHECK --interval=1us CMD x\n").kind,
        LowerErrorKind::InvalidDuration { .. }
    ));
    assert!(matches!(
        *error("FROM a\nHEALTHCHECK FOO x\n").kind,
        LowerErrorKind::HealthcheckType { .. }
    ));
}

#[test]
fn copy_heredoc_sources_take_their_bodies() {
    let p = plan("FROM a\nCOPY <<EOF <<'RAW' /dir/\nhello $X\nEOF\nraw $Y\nRAW\n");
    let Command::Copy(copy) = &p.stages[0].steps[0].command else {
        panic!()
    };
    let CopySource::Heredoc(first) = &copy.sources[0] else {
        panic!()
    };
    let CopySource::Heredoc(second) = &copy.sources[1] else {
        panic!()
    };
    assert_eq!(
        (first.name.as_str(), first.expand, first.content.as_str()),
        ("EOF", true, "hello $X\n")
    );
    assert_eq!((second.name.as_str(), second.expand), ("RAW", false));
    assert_eq!(copy.dest, "/dir/");
}

#[test]
fn onbuild_keeps_the_trigger_and_rejects_chains() {
    let p = plan("FROM a\nONBUILD RUN echo hi\nONBUILD COPY <<EOF /f\nbody\nEOF\n");
    assert_eq!(
        p.stages[0].steps[0].command,
        Command::Onbuild("RUN echo hi".into())
    );
    assert_eq!(
        p.stages[0].steps[1].command,
        Command::Onbuild("COPY <<EOF /f\nbody\nEOF".into())
    );
    assert_eq!(
        *error("FROM a\nONBUILD ONBUILD RUN x\n").kind,
        LowerErrorKind::OnbuildChain
    );
    assert!(matches!(
        *error("FROM a\nONBUILD FROM b\n").kind,
        LowerErrorKind::OnbuildTrigger { .. }
    ));
}

#[test]
fn copy_needs_a_destination() {
    let e = error("FROM a\nCOPY onlyone\n");
    assert!(e
        .to_string()
        .contains("Destination could not be determined"));
}

#[test]
fn plan_serializes_to_json() {
    let p = plan("FROM a AS b\nRUN --mount=type=cache,target=/c make\n");
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["stages"][0]["name"], "b");
    assert_eq!(
        json["stages"][0]["steps"][0]["command"]["instruction"],
        "run"
    );
}
