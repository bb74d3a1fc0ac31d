//! The remote build cache (issue 8): a build on one store exports its steps
//! (`--cache-to`), and a build of the same Dockerfile on an empty store takes
//! every step from there (`--cache-from`) instead of running it. The proof
//! that no RUN ran: the step fails unless it sees the HTTP_PROXY build arg,
//! which only the first build gets and which is no part of any cache key.

use std::path::Path;
use std::process::{Command, Output};

#[path = "common/busybox_store.rs"]
mod busybox_store;
#[path = "common/registry_server.rs"]
mod registry_server;
use busybox_store::{Setup, RBUILD};
use registry_server::{Mode, Registry};

struct Fixture {
    setup: Setup,
    registry: Registry,
    context: std::path::PathBuf,
}

fn fixture() -> Option<Fixture> {
    if !registry_server::available() {
        return None;
    }
    let setup = Setup::new()?;
    let registry = Registry::start(Mode::Open);
    let base = format!("{}/base/busybox:1", registry.host());
    let out = rbuild(&[
        "push",
        "--root",
        &setup.store(),
        "localhost/busybox:latest",
        &base,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let context = setup.dir.path().join("cache-ctx");
    std::fs::create_dir_all(&context).expect("context");
    std::fs::write(context.join("f"), "from the context\n").expect("f");
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM {base}\nRUN [ \"$HTTP_PROXY\" = only-on-a ] && echo built > /built\nCOPY f /f\nWORKDIR /w\nENV DONE=1\n"
        ),
    )
    .expect("Dockerfile");
    Some(Fixture {
        setup,
        registry,
        context,
    })
}

fn rbuild(args: &[&str]) -> Output {
    Command::new(RBUILD)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("rbuild runs")
}

impl Fixture {
    /// Builds the context into `store` with `flags`; returns the output and
    /// the image ID.
    fn build(&self, store: &str, flags: &[&str]) -> (Output, String) {
        let iid = Path::new(store).with_extension("iid");
        let iid_text = iid.to_string_lossy().into_owned();
        let context = self.context.to_string_lossy().into_owned();
        let mut args = vec![
            "build",
            "--root",
            store,
            "--progress",
            "plain",
            "--iidfile",
            &iid_text,
        ];
        args.extend_from_slice(flags);
        args.push(&context);
        let out = rbuild(&args);
        let id = std::fs::read_to_string(&iid).unwrap_or_default();
        (out, id)
    }

    fn store(&self, name: &str) -> String {
        self.setup
            .dir
            .path()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// Builds on store A with the proxy arg and `to`, then on an empty store
    /// B with `from` only: B must succeed, run no step, and give A's image.
    fn round_trip(&self, name: &str, to: &[&str], from: &[&str]) {
        let a = self.store(&format!("{name}-a"));
        let mut flags = vec!["--build-arg", "HTTP_PROXY=only-on-a"];
        flags.extend_from_slice(to);
        let (out, id_a) = self.build(&a, &flags);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = self.store(&format!("{name}-b"));
        let (out, id_b) = self.build(&b, from);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: store B ran a step:\n{log}");
        assert!(
            !log.contains(" DONE "),
            "{name}: every step comes from the cache:\n{log}"
        );
        assert_eq!(id_a, id_b, "{name}: the same image");
    }
}

#[test]
fn steps_come_from_a_registry_cache_and_prune_removes_old_entries() {
    let Some(f) = fixture() else { return };
    let cache = format!("{}/cache/app:main", f.registry.host());
    let to = format!("type=registry,ref={cache},mode=max");
    let from = format!("type=registry,ref={cache}");
    f.round_trip("registry", &["--cache-to", &to], &["--cache-from", &from]);

    std::thread::sleep(std::time::Duration::from_secs(1));
    let out = rbuild(&["cache", "prune", "--ref", &cache, "--older-than", "0s"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && log.contains("deleted"), "{log}");
    let (out, _) = f.build(&f.store("after-prune"), &["--cache-from", &from]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "with the entries gone the RUN runs (and fails)"
    );
}

#[test]
fn steps_come_from_a_local_cache_directory() {
    let Some(f) = fixture() else { return };
    let dir = f.setup.dir.path().join("local-cache");
    let to = format!("type=local,dest={}", dir.display());
    let from = format!("type=local,src={}", dir.display());
    f.round_trip("local", &["--cache-to", &to], &["--cache-from", &from]);
}

#[test]
fn steps_come_from_an_inline_cache_in_the_pushed_image() {
    let Some(f) = fixture() else { return };
    let image = format!("{}/app/inline:1", f.registry.host());
    let from = format!("type=registry,ref={image}");
    f.round_trip(
        "inline",
        &["--cache-to", "type=inline", "-t", &image, "--push"],
        &["--cache-from", &from, "--cache-to", "type=inline"],
    );
}

#[test]
fn cache_options_rbuild_does_not_honour_are_refused() {
    let Some(f) = fixture() else { return };
    for bad in [
        "type=gha",
        "type=local,dest=/x,compression=zstd",
        "type=inline,mode=max",
    ] {
        let (out, _) = f.build(&f.store("refused"), &["--cache-to", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--cache-to"));
    }
}
