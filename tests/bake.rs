//! `rbuild bake` (issue 11): a two-service Compose file whose services share
//! a stage is built concurrently into one store, the shared stage once;
//! `--print` shows the resolved plan.

#[path = "common/busybox_store.rs"]
mod busybox_store;
use busybox_store::Setup;

const SHARED: &str = "FROM localhost/busybox:latest AS shared\n\
     RUN echo $RANDOM$RANDOM$RANDOM > /shared && sleep 1\n";

#[test]
fn bake_builds_two_services_and_their_shared_stage_once() {
    let Some(s) = Setup::new() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path();
    for (name, line) in [
        ("web", "RUN echo web > /who"),
        ("api", "RUN echo api > /who"),
    ] {
        std::fs::create_dir(project.join(name)).unwrap();
        let dockerfile =
            format!("{SHARED}FROM shared\nARG FLAVOUR\n{line} && echo $FLAVOUR >> /who\n");
        std::fs::write(project.join(name).join("Dockerfile"), dockerfile).unwrap();
    }
    let compose = [
        "services:",
        "  web:",
        "    build: ./web",
        "    image: localhost/bake/web:1",
        "  api:",
        "    build:",
        "      context: ./api",
        "      args:",
        "        FLAVOUR: spicy",
        "    image: localhost/bake/api:1",
        "  db:",
        "    image: postgres",
    ]
    .join("\n");
    let file = project.join("compose.yaml");
    std::fs::write(&file, compose).unwrap();
    let file = file.to_string_lossy().into_owned();
    let store = s.store();

    let out = s.rbuild(&["bake", "--root", &store, "-f", &file, "--print"], true);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(
        plan["group"]["default"]["targets"],
        serde_json::json!(["api", "web"])
    );
    assert_eq!(plan["target"]["api"]["args"]["FLAVOUR"], "spicy");
    assert_eq!(plan["target"]["web"]["tags"][0], "localhost/bake/web:1");

    let out = s.rbuild(&["bake", "--root", &store, "-f", &file], true);
    let log = String::from_utf8_lossy(&out.stderr);
    // The shared RUN: made by one build, found cached by the other.
    let shared_done = log
        .lines()
        .filter(|l| l.starts_with("#2 DONE") || l.starts_with("#2 CACHED"))
        .collect::<Vec<_>>();
    assert_eq!(shared_done.len(), 2, "{log}");
    assert_eq!(
        shared_done.iter().filter(|l| l.contains("DONE")).count(),
        1,
        "the shared stage ran twice:\n{log}"
    );
    let read = |image: &str, path: &str| {
        let out = s.rbuild(&["run", "--root", &store, image, "cat", path], true);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        read("localhost/bake/web:1", "/shared"),
        read("localhost/bake/api:1", "/shared")
    );
    assert_eq!(read("localhost/bake/web:1", "/who"), "web\n\n");
    assert_eq!(read("localhost/bake/api:1", "/who"), "api\nspicy\n");

    let out = s.rbuild(&["bake", "--root", &store, "-f", &file, "db"], false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no build section"));
}
