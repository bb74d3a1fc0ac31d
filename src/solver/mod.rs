//! The solver: works out the stages the target needs (`graph`), runs them
//! concurrently (`scheduler`), looks every step up in the cache
//! (`cache_key`, `remote_cache`) and hands the misses to the step executors
//! in `crate::steps`; returns the final image. Blobs and records live in the
//! store.

pub(crate) mod cache_key;
pub mod cache_spec;
mod error;
mod graph;
pub(crate) mod images;
pub(crate) mod layers;
pub(crate) mod options;
pub(crate) mod progress;
mod remote_cache;
mod scheduler;
pub(crate) mod scope;
pub(crate) mod state;
pub mod time;

pub use error::BuildError;
pub use options::{BuildOptions, NamedContext, NetworkDefault, ProgressMode, SecretSource};

use crate::context::{Context, StatCache};
use crate::image::{Image, Platform};
use crate::ir::{BuildPlan, Command, Stage, Step};
use crate::steps::{copy, metadata, run, workdir};
use crate::store::Store;
use graph::{needed_stages, resolve_bases, Base};
use progress::Progress;
use scope::{platform_args, Scope};
use state::{chain_key, StageState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Everything a running build shares between stages.
pub(crate) struct Build<'a> {
    pub store: &'a Store,
    pub plan: &'a BuildPlan,
    pub opts: &'a BuildOptions,
    pub meta: Scope,
    pub context: Context,
    pub progress: Progress,
    /// Finished stages, by index (stages run on threads of their own).
    pub stages: Mutex<Vec<Option<StageState>>>,
    pub time: i64,
    /// SOURCE_DATE_EPOCH: `--build-arg`/environment, else a meta ARG default.
    pub source_date_epoch: Option<i64>,
    /// File stats → content digests, so unchanged context files are not
    /// re-read; loaded once per build and saved at its end.
    pub stat_cache: Mutex<StatCache>,
    /// Registry connections (tokens, TLS) for images pulled by this build.
    pub registry: crate::registry::Client,
    /// Images resolved in a registry by this build, by name and platform.
    pub pulled: Mutex<std::collections::HashMap<String, Image>>,
    /// `--cache-from` sources and the steps' results for `--cache-to`.
    pub remote: remote_cache::RemoteCache,
    /// Set when a stage failed: the other stages stop (a running RUN is
    /// killed) and the build reports that first failure.
    pub cancel: AtomicBool,
    /// Step locks held while their steps are made, by cache key.
    pub step_locks: Mutex<std::collections::HashMap<String, crate::store::StoreLock>>,
}

fn stat_cache_path(store: &Store) -> std::path::PathBuf {
    store.root().join("records").join("statcache.json")
}

/// Runs the build and returns the target stage's image (not yet exported).
pub fn build(store: &Store, plan: &BuildPlan, opts: &BuildOptions) -> Result<Image, BuildError> {
    let target = match &opts.target {
        Some(name) => plan
            .stage_index(name)
            .ok_or_else(|| BuildError::TargetNotFound(name.clone()))?,
        None => plan.stages.len() - 1,
    };
    let mut predefined = platform_args(&opts.platform, &Platform::host());
    // The stage being built, by name ("default" when it has none).
    let target_name = plan.stages[target].name.as_deref().unwrap_or("default");
    predefined.insert("TARGETSTAGE".into(), target_name.to_string());
    let meta = Scope::meta(&plan.meta_args, &opts.build_args, &predefined, plan.escape)?;
    let bases = resolve_bases(plan, &meta, &opts.named_contexts)?;
    let needed = needed_stages(plan, &bases, target);
    let context = Context::open(&opts.context_dir, opts.dockerfile_path.as_deref())?;
    let source_date_epoch = match opts.source_date_epoch {
        Some(t) => Some(t),
        None => match meta.get("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse().map_err(|_| {
                BuildError::Invalid(format!(
                    "invalid SOURCE_DATE_EPOCH {v:?}: expected seconds since 1970"
                ))
            })?),
            None => None,
        },
    };
    let b = Build {
        store,
        plan,
        opts,
        meta,
        context,
        progress: Progress::new(opts.progress, Some(&store.root().join("logs"))),
        stages: Mutex::new(vec![None; plan.stages.len()]),
        time: time::build_time(source_date_epoch),
        source_date_epoch,
        stat_cache: Mutex::new(StatCache::load(&stat_cache_path(store))),
        registry: crate::registry::Client::new(opts.registry.clone()),
        pulled: Default::default(),
        remote: remote_cache::RemoteCache::new(&opts.cache_from),
        cancel: AtomicBool::new(false),
        step_locks: Default::default(),
    };
    let ran = scheduler::run_stages(&b, &bases, &needed, target);
    // A stat cache that cannot be saved only costs re-reading next time.
    let stat_cache = b.stat_cache.lock().expect("stat cache");
    if stat_cache.changed() {
        let _ = stat_cache.save(&stat_cache_path(store));
    }
    drop(stat_cache);
    ran?;
    b.progress.finish();
    let mut image = b
        .finished_stage(target)
        .map(|s| s.image)
        .expect("target stage ran");
    if !opts.labels.is_empty() {
        let labels = image
            .config
            .config
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(opts.labels.clone());
    }
    if !opts.cache_to.is_empty() {
        remote_cache::export(&b, &opts.cache_to, &bases, target, &mut image)?;
    }
    image.config.created = Some(time::rfc3339(b.time));
    if b.source_date_epoch.is_none() {
        reuse_first_build_time(store, &mut image, b.time)?;
    }
    Ok(image)
}

/// A rebuild that changes nothing gives the same image, byte for byte (as
/// with docker's cache): the time of the first build of an identical image
/// is remembered and reused for every timestamp this build wrote.
fn reuse_first_build_time(store: &Store, image: &mut Image, now: i64) -> Result<(), BuildError> {
    let stamp = time::rfc3339(now);
    let mut blank = image.config.clone();
    blank.created = None;
    // Every history time, not just this build's: a base entry that happened
    // to carry the first build's second would otherwise change the key.
    for h in &mut blank.history {
        h.created = None;
    }
    let json = serde_json::to_vec(&blank).map_err(|e| BuildError::Invalid(e.to_string()))?;
    let layers: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let key = chain_key(
        "image-time",
        &[&String::from_utf8_lossy(&json), &layers.join(",")],
    );
    let first = match store.record("buildtime", &key)? {
        Some(bytes) => String::from_utf8_lossy(&bytes)
            .trim()
            .parse()
            .unwrap_or(now),
        None => {
            store.put_record("buildtime", &key, now.to_string().as_bytes())?;
            now
        }
    };
    if first != now {
        let first_stamp = time::rfc3339(first);
        image.config.created = Some(first_stamp.clone());
        for h in &mut image.config.history {
            if h.created.as_deref() == Some(stamp.as_str()) {
                h.created = Some(first_stamp.clone());
            }
        }
    }
    Ok(())
}

/// A base whose history lists fewer layers than it has gets entries for the
/// missing ones at the front, as BuildKit's exporter does, so that history
/// and layers line up in the result.
fn with_layer_history(mut image: Image, time: i64) -> Image {
    let described = image
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .count();
    let missing = image.layers.len().saturating_sub(described);
    let entries = (0..missing).map(|_| crate::image::History {
        created: Some(time::rfc3339(time)),
        created_by: Some("base image layer".into()),
        comment: Some("buildkit.exporter.image.v0".into()),
        ..Default::default()
    });
    image.config.history.splice(0..0, entries);
    image
}

/// Steps that show in progress output (they make layers or load images).
fn is_vertex(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_) | Command::Copy(_) | Command::Workdir(_)
    )
}

impl Build<'_> {
    fn stage_label(&self, stage: &Stage, position: usize) -> String {
        let total = 1 + stage.steps.iter().filter(|s| is_vertex(&s.command)).count();
        match &stage.name {
            Some(name) => format!("[{name} {position}/{total}]"),
            None => format!("[{position}/{total}]"),
        }
    }

    /// `FROM --platform=...` (expanded with the meta ARGs), else `--platform`.
    fn stage_platform(&self, stage: &Stage) -> Result<Platform, BuildError> {
        let Some(raw) = &stage.platform else {
            return Ok(self.opts.platform.clone());
        };
        let text = self.meta.expand(raw, None, self.plan.escape)?;
        Platform::parse(&text).map_err(BuildError::Invalid)
    }

    /// A finished stage's state (a copy).
    pub(crate) fn finished_stage(&self, index: usize) -> Option<StageState> {
        self.stages.lock().expect("stages")[index].clone()
    }

    fn run_stage(&self, index: usize, base: &Base) -> Result<StageState, BuildError> {
        let stage = &self.plan.stages[index];
        let shown = match base {
            Base::Stage(j) => self.plan.stages[*j]
                .name
                .clone()
                .unwrap_or_else(|| j.to_string()),
            Base::Image(source) => source.to_string(),
        };
        let label = format!("{} FROM {shown}", self.stage_label(stage, 1));
        let handle = self.progress.start(&label);
        let (mut image, key, scope) = match base {
            // A stage built on another inherits its ARG values too, as
            // BuildKit's child state inherits the parent's environment.
            Base::Stage(j) => {
                let parent = self.finished_stage(*j).expect("dependencies run first");
                (parent.image, parent.key, parent.scope.inherited())
            }
            Base::Image(source) => {
                let platform = self.stage_platform(stage)?;
                let image = images::load(self, source, &platform)
                    .map_err(|e| e.at_step(stage.span.start.line, "FROM"))?;
                // The base is identified by what it is (config and layers),
                // never by where it was read from; the timestamp rule
                // (SOURCE_DATE_EPOCH) changes every layer's bytes, so it
                // belongs in every key too.
                let config = serde_json::to_vec(&image.config)
                    .map_err(|e| BuildError::Invalid(e.to_string()))?;
                let layers: Vec<String> =
                    image.layers.iter().map(|l| l.diff_id.to_string()).collect();
                let base = chain_key(
                    "base",
                    &[&String::from_utf8_lossy(&config), &layers.join(",")],
                );
                let inputs = cache_key::StepInputs::From {
                    base,
                    platform: platform.to_string(),
                    source_date_epoch: self.source_date_epoch,
                };
                let key = cache_key::StepKey::new("", inputs).digest();
                (with_layer_history(image, self.time), key, Scope::default())
            }
        };
        // BuildKit makes sure every stage's config has a PATH.
        if image.config.env_value("PATH").is_none() {
            let path = format!("PATH={}", crate::image::config::DEFAULT_PATH);
            image
                .config
                .config
                .env
                .get_or_insert_with(Vec::new)
                .push(path);
        }
        self.progress.cached(handle);
        let mut state = StageState {
            stage: index,
            slot: String::new(),
            image,
            scope,
            key,
            previous_key: None,
            cmd_set: false,
            next_runs: false,
            time: self.time,
            escape: self.plan.escape,
        };
        // History of the base stays; this stage's entries follow.
        self.run_triggers(&mut state, stage, index)?;
        let mut position = 1;
        for (i, step) in stage.steps.iter().enumerate() {
            let next = stage.steps.get(i + 1).map(|s| &s.command);
            state.next_runs = matches!(next, Some(Command::Run(_)));
            if is_vertex(&step.command) {
                position += 1;
            }
            let label = self.stage_label(stage, position);
            self.run_step(&mut state, step, &label)
                .map_err(|e| e.at_step(step.span.start.line, &step.original))?;
        }
        Ok(state)
    }

    /// ONBUILD triggers of the base run first, once; the image keeps none.
    /// Triggers are lowered after stand-ins for this file's earlier stages,
    /// so `COPY --from=<stage>` in a trigger names this build's stages (by
    /// name or index) as BuildKit resolves them.
    fn run_triggers(
        &self,
        state: &mut StageState,
        stage: &Stage,
        index: usize,
    ) -> Result<(), BuildError> {
        let Some(triggers) = state.image.config.config.on_build.take() else {
            return Ok(());
        };
        for trigger in triggers {
            let plan = graph::trigger_plan(self.plan, index, &trigger)
                .map_err(|e| BuildError::Invalid(format!("ONBUILD trigger {trigger:?}: {e}")))?;
            let steps = plan
                .stages
                .last()
                .map(|s| s.steps.as_slice())
                .unwrap_or_default();
            for step in steps {
                let label = format!("{} ONBUILD", self.stage_label(stage, 1));
                self.run_step(state, step, &label)
                    .map_err(|e| e.at_step(stage.span.start.line, &trigger))?;
            }
        }
        Ok(())
    }

    fn run_step(&self, state: &mut StageState, step: &Step, label: &str) -> Result<(), BuildError> {
        if self.cancel.load(Ordering::SeqCst) || crate::sandbox::interrupted() {
            return Err(BuildError::Cancelled);
        }
        // Where this step's last inputs are kept, to explain a cache miss.
        state.slot = cache_key::step_slot(
            &self.opts.context_dir,
            self.opts
                .dockerfile_path
                .as_deref()
                .map_or("", |p| p.to_str().unwrap_or("")),
            state.stage,
            &format!("{}:{}", step.span.start.line, step.original),
        );
        match &step.command {
            Command::Env(pairs) => metadata::env(state, pairs),
            Command::Label(pairs) => metadata::label(state, pairs),
            Command::Arg(decls) => {
                let meta = self.meta.clone();
                metadata::arg(state, decls, &self.opts.build_args, &meta)
            }
            Command::Expose(ports) => metadata::expose(state, ports),
            Command::Volume(paths) => metadata::volume(state, paths),
            Command::User(user) => metadata::user(state, user),
            Command::Stopsignal(sig) => metadata::stopsignal(state, sig),
            Command::Cmd(line) => {
                metadata::cmd(state, line);
                Ok(())
            }
            Command::Entrypoint(line) => {
                metadata::entrypoint(state, line);
                Ok(())
            }
            Command::Shell(shell) => {
                metadata::set_shell(state, shell);
                Ok(())
            }
            Command::Healthcheck(check) => {
                metadata::healthcheck(state, check);
                Ok(())
            }
            Command::Onbuild(trigger) => {
                metadata::onbuild(state, trigger);
                Ok(())
            }
            Command::Maintainer(name) => metadata::maintainer(state, name),
            Command::Workdir(path) => {
                let handle = self.progress.start(&format!("{label} WORKDIR {path}"));
                workdir::run(self, state, path, handle)
            }
            Command::Copy(copy) => {
                let handle = self.progress.start(&format!("{label} {}", step.original));
                copy::run(self, state, copy, handle)
            }
            Command::Run(r) => {
                let handle = self.progress.start(&format!("{label} {}", step.original));
                run::run(self, state, r, handle)
            }
        }
    }
}
