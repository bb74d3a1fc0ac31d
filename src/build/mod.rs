//! The build: runs the stages the target needs, step by step, and returns the
//! final image. Cache keys are computed and decisions taken here; blobs and
//! records live in the store.

mod archive;
mod chmod;
mod copy;
mod diff;
mod error;
mod fetch;
mod layers;
mod metadata;
mod options;
mod progress;
mod rootfs;
mod run;
mod run_mounts;
mod run_user;
mod scope;
mod solver;
mod state;
pub mod time;
mod workdir;

pub use error::BuildError;
pub use options::{
    BuildOptions, NamedContext, NetworkDefault, ProgressMode, SecretSource, Snapshotter,
};

use crate::context::Context;
use crate::dockerfile;
use crate::image::{load_image, Image, Platform};
use crate::ir::{self, BuildPlan, Command, Stage, Step};
use crate::store::Store;
use progress::Progress;
use scope::{platform_args, Scope};
use solver::{needed_stages, resolve_bases, Base};
use state::{chain_key, StageState};

/// Everything a running build shares between stages.
pub(crate) struct Build<'a> {
    pub store: &'a Store,
    pub plan: &'a BuildPlan,
    pub opts: &'a BuildOptions,
    pub meta: Scope,
    pub context: Context,
    pub progress: Progress,
    /// Finished stages, by index.
    pub stages: Vec<Option<StageState>>,
    pub time: i64,
}

/// Runs the build and returns the target stage's image (not yet exported).
pub fn build(store: &Store, plan: &BuildPlan, opts: &BuildOptions) -> Result<Image, BuildError> {
    let predefined = platform_args(&opts.platform, &Platform::host());
    let meta = Scope::meta(&plan.meta_args, &opts.build_args, &predefined, plan.escape)?;
    let bases = resolve_bases(plan, &meta, &opts.named_contexts)?;
    let target = match &opts.target {
        Some(name) => plan
            .stage_index(name)
            .ok_or_else(|| BuildError::TargetNotFound(name.clone()))?,
        None => plan.stages.len() - 1,
    };
    let needed = needed_stages(plan, &bases, target);
    let context = Context::open(&opts.context_dir, opts.dockerfile_path.as_deref())?;
    let mut b = Build {
        store,
        plan,
        opts,
        meta,
        context,
        progress: Progress::new(opts.progress),
        stages: vec![None; plan.stages.len()],
        time: time::build_time(opts.source_date_epoch),
    };
    for index in (0..=target).filter(|&i| needed[i]) {
        let state = b.run_stage(index, &bases[index])?;
        b.stages[index] = Some(state);
    }
    let mut image = b.stages[target]
        .take()
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
    image.config.created = Some(time::rfc3339(b.time));
    if opts.source_date_epoch.is_none() {
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
    for h in &mut blank.history {
        if h.created.as_deref() == Some(stamp.as_str()) {
            h.created = None;
        }
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

    fn run_stage(&mut self, index: usize, base: &Base) -> Result<StageState, BuildError> {
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
        let (image, key) = match base {
            Base::Stage(j) => {
                let parent = self.stages[*j].as_ref().expect("dependencies run first");
                (parent.image.clone(), parent.key.clone())
            }
            Base::Image(source) => {
                let image = load_image(self.store, source, &self.opts.platform)
                    .map_err(|e| BuildError::from(e).at_step(stage.span.start.line, "FROM"))?;
                let identity = image
                    .manifest
                    .as_ref()
                    .map_or_else(|| source.to_string(), |d| d.to_string());
                let key = chain_key("", &["FROM", &identity, &self.opts.platform.to_string()]);
                (with_layer_history(image, self.time), key)
            }
        };
        self.progress.cached(handle);
        let mut state = StageState {
            image,
            scope: Scope::default(),
            key,
            cmd_set: false,
            time: self.time,
            escape: self.plan.escape,
        };
        // History of the base stays; this stage's entries follow.
        self.run_triggers(&mut state, stage)?;
        let mut position = 1;
        for step in &stage.steps {
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
    fn run_triggers(&mut self, state: &mut StageState, stage: &Stage) -> Result<(), BuildError> {
        let Some(triggers) = state.image.config.config.on_build.take() else {
            return Ok(());
        };
        for trigger in triggers {
            let text = format!("FROM scratch\n{trigger}\n");
            let parsed = dockerfile::parse(&text)
                .map_err(|e| BuildError::Invalid(format!("ONBUILD trigger {trigger:?}: {e}")))?;
            let plan = ir::lower(&parsed)
                .map_err(|e| BuildError::Invalid(format!("ONBUILD trigger {trigger:?}: {e}")))?;
            for step in &plan.stages[0].steps {
                let label = format!("{} ONBUILD", self.stage_label(stage, 1));
                self.run_step(state, step, &label)
                    .map_err(|e| e.at_step(stage.span.start.line, &trigger))?;
            }
        }
        Ok(())
    }

    fn run_step(
        &mut self,
        state: &mut StageState,
        step: &Step,
        label: &str,
    ) -> Result<(), BuildError> {
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
