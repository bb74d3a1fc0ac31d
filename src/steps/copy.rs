//! COPY and ADD from the build context (and heredocs, and for ADD URLs):
//! sources selected and hashed for the cache key, destinations resolved in
//! the image the way BuildKit resolves them, and the result written as one
//! layer.

use super::archive;
use super::chmod::{parse_symbolic, ModeChange};
use super::entry_plan::EntryPlan;
use super::fetch::{self, Checksum, Download};
use super::owner::resolve_owner;
use super::workdir::normalize_workdir;
use crate::context::{Context, EntryKind as CtxKind, PatternMatcher, ResolvedSource};
use crate::image::ImageSource;
use crate::ir::{Chmod, Copy, CopyFrom, CopySource};
use crate::layer::{EntryKind, FileSource, LayerEntry};
use crate::shell::Lexer;
use crate::snapshot::flatten;
use crate::snapshot::layer_xattrs;
use crate::snapshot::RootView;
use crate::solver::cache_key::StepInputs;
use crate::solver::images;
use crate::solver::layers;
use crate::solver::progress::StepHandle;
use crate::solver::state::StageState;
use crate::solver::BuildError;
use crate::solver::{Build, NamedContext};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// One thing to copy.
enum Item {
    /// A context path; with `--parents`, the part of its path kept under the
    /// destination.
    Context(ResolvedSource, Option<PathBuf>),
    Heredoc {
        name: String,
        content: Vec<u8>,
    },
    /// An ADD URL, already downloaded (into one of `temps`).
    Url(Download),
}

/// Who owns and what mode new entries get, and what `--exclude` drops.
struct Attrs {
    owner: Option<(u32, u32)>,
    chmod: Option<ModeChange>,
    excludes: PatternMatcher,
    /// Files from the client's side (the build context, a named context
    /// directory) arrive owned by root, as BuildKit resets their owners on
    /// transfer; a stage's or image's files keep theirs.
    local: bool,
}

/// Whether COPY reads the client's files rather than a stage or an image.
fn reads_local_files(b: &Build, copy: &Copy) -> bool {
    match &copy.from {
        None => true,
        Some(CopyFrom::Stage(_)) => false,
        Some(CopyFrom::Image(name)) => matches!(
            b.opts.named_contexts.get(&name.to_ascii_lowercase()),
            Some(NamedContext::Dir(_))
        ),
    }
}

pub fn run(
    b: &Build,
    state: &mut StageState,
    copy: &Copy,
    handle: StepHandle,
) -> Result<(), BuildError> {
    let keyword = if copy.add { "ADD" } else { "COPY" };
    let original = copy;
    // A git source is checked out and then copied like a directory's contents.
    let checkout = super::git::git_source(b, state, copy)?;
    let as_directory;
    let copy = match &checkout {
        Some(_) => {
            as_directory = Copy {
                sources: vec![CopySource::Path(".".into())],
                ..copy.clone()
            };
            &as_directory
        }
        None => copy,
    };
    let excludes = PatternMatcher::new(&copy.excludes)
        .map_err(|e| BuildError::Invalid(format!("invalid --exclude pattern: {e}")))?;
    let dest_raw = state.expand(&copy.dest)?;
    let dest_hint_dir = dest_raw.is_empty()
        || dest_raw == "."
        || dest_raw.ends_with('/')
        || dest_raw.ends_with("/.");
    let dest = normalize_workdir(&state.image.config.config.working_dir, &dest_raw);
    let created_by = format!("{keyword} {}", describe_sources(original, &dest_raw));
    let from = match &checkout {
        Some(c) => Some(Context::with_excludes(&c.root, PatternMatcher::default())?),
        None => source_context(b, copy)?,
    };
    let ctx = from.as_ref().unwrap_or(&b.context);
    // Temp dirs (downloads, unpacked archives) live until the layer is written.
    let mut temps = Vec::new();
    // Wildcards that match nothing copy nothing, as in BuildKit (a plain
    // missing source fails in `collect_items`).
    let items = collect_items(b, ctx, state, copy, &mut temps)?;
    let chown = copy.chown.as_deref().map(|c| state.expand(c)).transpose()?;
    let chmod = chmod_value(state, copy.chmod.as_ref())?;
    // A checkout is what its commit says it is (its `.git` differs between
    // clones), so the commit identifies it.
    let content = match &checkout {
        Some(c) => (
            Vec::new(),
            format!("git {} {} keep={}", c.source, c.commit, copy.keep_git_dir),
        ),
        None => content_digest(b, ctx, &items)?,
    };
    // Local files become root's; a stage's keep their owners.
    let local = reads_local_files(b, copy);
    let inputs = StepInputs::Copy {
        instruction: keyword.to_string(),
        dest: dest.clone(),
        dest_is_dir: dest_hint_dir,
        chown: chown.clone(),
        chmod: chmod.as_ref().map(|c| format!("{c:?}")),
        link: copy.link,
        unpack: copy.unpack,
        excludes: copy.excludes.clone(),
        parents: copy.parents,
        local,
        files: content.0.clone(),
        other: content.1.clone(),
    };
    if let Some(record) = b.lookup_step(state, inputs, &handle) {
        state.image.layers.extend(layers::cached_layer(&record));
        state.history(created_by, record.layer.is_none());
        b.progress.cached(handle);
        return Ok(());
    }
    let base = RootView::new(b.store, &state.image.layers)?;
    let owner = chown
        .as_deref()
        .map(|c| resolve_owner(Some(&base), c))
        .transpose()?;
    // `--link`: the layer is made on its own, as if on an empty image: the
    // destination's symlinks and parent directories below are not looked at
    // (parents are made 0755), so the layer does not depend on what is below.
    let view = if copy.link {
        RootView::new(b.store, &[])?
    } else {
        base
    };
    let attrs = Attrs {
        owner,
        chmod,
        excludes,
        local,
    };
    let target = view.resolve(Path::new(&dest));
    // What the destination is: a directory (or `dest/`), a file, or nothing.
    let mut target_kind = match view.lookup(&target) {
        _ if dest_hint_dir => Some(TargetKind::Dir),
        Some((_, meta)) if meta.is_dir() => Some(TargetKind::Dir),
        Some(_) => Some(TargetKind::File),
        None => None,
    };
    // Several sources (arguments or wildcard matches) are copied onto the
    // destination in turn, as BuildKit does: onto a file destination the
    // last file wins; a directory's contents (or an archive's) make it a
    // directory that later files go into; a directory onto a file fails.
    let mut plan = EntryPlan::new(state.time);
    for (index, item) in items.iter().enumerate() {
        let place = Placement {
            target: &target,
            into_dir: target_kind == Some(TargetKind::Dir),
        };
        // Hard links are kept within one source, never across sources.
        plan.source = index;
        let made_dir = add_item(b, ctx, copy, item, &place, &attrs, &mut plan, &mut temps)?;
        target_kind = match (made_dir, target_kind) {
            (true, Some(TargetKind::File)) => {
                return Err(BuildError::Invalid(format!(
                    "cannot copy to non-directory: {dest}"
                )))
            }
            (true, _) => Some(TargetKind::Dir),
            (false, Some(TargetKind::Dir)) => Some(TargetKind::Dir),
            (false, _) => Some(TargetKind::File),
        };
    }
    let entries = plan.finish(&view, attrs.owner);
    // A RUN next needs this layer's snapshot: made while the tar is written,
    // unless an earlier build of the step left one that will likely match.
    let layer = if state.next_runs && !snapshot_likely(b, &state.key) {
        let donor = state
            .previous_key
            .as_deref()
            .and_then(|key| previous_layer(b, key));
        layers::commit_with_snapshot(b.store, &entries, b.source_date_epoch, donor.as_ref())?
    } else {
        layers::commit(b.store, &entries, b.source_date_epoch)?
    };
    // Files edited while the layer was written would put their new content
    // under the key of the old: such a result is used but not cached.
    if checkout.is_some() || content_digest(b, ctx, &items)? == content {
        b.remember(state.stage, &state.key, Some(&layer))?;
    }
    drop(temps);
    state.history(created_by, false);
    state.image.layers.push(layer);
    b.progress.done(handle);
    Ok(())
}

fn describe_sources(copy: &Copy, dest: &str) -> String {
    let mut parts: Vec<String> = copy
        .sources
        .iter()
        .map(|s| match s {
            CopySource::Path(p) => p.clone(),
            CopySource::Heredoc(h) => format!("<<{}", h.name),
        })
        .collect();
    parts.push(dest.to_string());
    parts.join(" ")
}

fn chmod_value(
    state: &StageState,
    chmod: Option<&Chmod>,
) -> Result<Option<ModeChange>, BuildError> {
    match chmod {
        None => Ok(None),
        Some(Chmod::Octal(m)) => Ok(Some(ModeChange::Octal(*m))),
        Some(Chmod::Symbolic(text)) => parse_symbolic(text).map(Some),
        Some(Chmod::Unexpanded(text)) => {
            let value = state.expand(text)?;
            if let Some(m) = crate::ir::parse_octal_mode(&value) {
                return Ok(Some(ModeChange::Octal(m)));
            }
            parse_symbolic(&value).map(Some).map_err(|_| {
                BuildError::Invalid(format!("invalid chmod parameter: {value:?}. it should be octal string and between 0 and 07777"))
            })
        }
    }
}

/// The files COPY reads: the build context, or for `--from` the merged root
/// filesystem of that stage or image, flattened once into a snapshot and
/// read like a context (so wildcards and in-root symlink rules are the same).
fn source_context(b: &Build, copy: &Copy) -> Result<Option<Context>, BuildError> {
    let image = match &copy.from {
        None => return Ok(None),
        Some(CopyFrom::Stage(i)) => b
            .finished_stage(*i)
            .map(|s| s.image)
            .ok_or_else(|| BuildError::Invalid(format!("stage {i} has not been built")))?,
        Some(CopyFrom::Image(name)) => {
            match b.opts.named_contexts.get(&name.to_ascii_lowercase()) {
                Some(NamedContext::Dir(dir)) => return Ok(Some(Context::open(dir, None)?)),
                Some(NamedContext::Image(source)) => images::load(b, source, &b.opts.platform)?,
                None => images::load(b, &ImageSource::parse(name), &b.opts.platform)?,
            }
        }
    };
    let root = flatten(b.store, &image.layers)?;
    Ok(Some(Context::with_excludes(
        &root,
        PatternMatcher::default(),
    )?))
}

fn collect_items(
    b: &Build,
    ctx: &Context,
    state: &StageState,
    copy: &Copy,
    temps: &mut Vec<crate::store::TempDir>,
) -> Result<Vec<Item>, BuildError> {
    let checksum = match &copy.checksum {
        None => None,
        Some(_) if copy.sources.len() != 1 => {
            return Err(BuildError::Invalid(
                "--checksum can't be specified for multiple sources".into(),
            ))
        }
        Some(text) => Some(Checksum::parse(&state.expand(text)?)?),
    };
    let mut items = Vec::new();
    for source in &copy.sources {
        match source {
            CopySource::Path(p) => {
                let expanded = state.expand(p)?;
                if fetch::is_git(&expanded) && copy.from.is_none() {
                    return Err(BuildError::Invalid(format!(
                        "{expanded}: a git repository must be the only source of an ADD"
                    )));
                }
                if fetch::is_url(&expanded) && copy.from.is_none() {
                    if !copy.add {
                        return Err(BuildError::Invalid(format!(
                            "source can't be a URL for COPY: {expanded}"
                        )));
                    }
                    let (download, temp) = fetch::download(b.store, &expanded, checksum.as_ref())?;
                    temps.push(temp);
                    items.push(Item::Url(download));
                    continue;
                }
                if checksum.is_some() {
                    return Err(BuildError::Invalid(format!(
                        "--checksum requires an HTTP(S) source, and {expanded:?} is not a URL"
                    )));
                }
                let pivot = parents_pivot(&expanded);
                let sources = if copy.parents && expanded.contains("**") {
                    doublestar_sources(ctx, &expanded)?
                } else {
                    ctx.resolve_source(&expanded)?
                };
                for source in sources {
                    let keep = copy.parents.then(|| {
                        source
                            .given
                            .strip_prefix(&pivot)
                            .unwrap_or(&source.given)
                            .to_path_buf()
                    });
                    items.push(Item::Context(source, keep));
                }
            }
            CopySource::Heredoc(h) => {
                let content = if h.expand {
                    let mut lexer = Lexer::new(state.escape);
                    lexer.skip_process_quotes = true;
                    let env = state.scope.env(Some(&state.image.config));
                    lexer
                        .process_word(&h.content, &env)
                        .map_err(|e| BuildError::Expansion {
                            word: h.name.clone(),
                            message: e.to_string(),
                        })?
                } else {
                    h.content.clone()
                };
                items.push(Item::Heredoc {
                    name: h.name.clone(),
                    content: content.into_bytes(),
                });
            }
        }
    }
    Ok(items)
}

/// `COPY --parents` with `**`: every context path the pattern matches (as
/// `.dockerignore` patterns match, `**` spanning directories), as BuildKit
/// selects them with include patterns.
fn doublestar_sources(ctx: &Context, pattern: &str) -> Result<Vec<ResolvedSource>, BuildError> {
    let cleaned = pattern.replace("/./", "/");
    let cleaned = cleaned.trim_start_matches("./").trim_start_matches('/');
    let matcher = PatternMatcher::new(&[cleaned])
        .map_err(|e| BuildError::Invalid(format!("invalid source pattern {pattern:?}: {e}")))?;
    Ok(ctx
        .entries(Path::new(""))?
        .into_iter()
        .filter(|e| matcher.matches(&e.rel.to_string_lossy()))
        .map(|e| ResolvedSource {
            is_dir: matches!(e.kind, CtxKind::Dir),
            given: e.rel.clone(),
            rel: e.rel,
        })
        .collect())
}

/// `COPY --parents`: the part of a source before `/./` is dropped from the
/// kept path; without `/./` the whole path under the context root is kept.
fn parents_pivot(pattern: &str) -> PathBuf {
    match pattern.find("/./") {
        Some(i) => Path::new(&pattern[..i])
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect(),
        None => PathBuf::new(),
    }
}

/// The cache input: selected context content plus heredoc bodies.
/// The cache inputs of the sources: each selected file's digest (path
/// kept, so a miss can name it), and one digest for heredocs and downloads.
type Contents = (Vec<(String, String)>, String);

fn content_digest(b: &Build, ctx: &Context, items: &[Item]) -> Result<Contents, BuildError> {
    let sources: Vec<ResolvedSource> = items
        .iter()
        .filter_map(|i| match i {
            Item::Context(s, _) => Some(s.clone()),
            Item::Heredoc { .. } | Item::Url(_) => None,
        })
        .collect();
    let files = ctx.entry_digests(&sources, &mut b.stat_cache.lock().expect("stat cache"))?;
    let mut h = Sha256::new();
    for item in items {
        match item {
            Item::Heredoc { name, content } => {
                h.update(name.as_bytes());
                h.update([0]);
                h.update(Sha256::digest(content));
            }
            Item::Url(d) => {
                let mtime = d.mtime.to_string();
                for part in ["url", &d.name, &d.digest, &mtime] {
                    h.update(part.as_bytes());
                    h.update([0]);
                }
            }
            Item::Context(..) => {}
        }
    }
    Ok((files, hex::encode(h.finalize())))
}

fn rel(path: &Path) -> PathBuf {
    path.strip_prefix("/").unwrap_or(path).to_path_buf()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    File,
    Dir,
}

/// Where an item lands.
struct Placement<'a> {
    /// The destination, symlinks resolved.
    target: &'a Path,
    /// A file source goes inside `target` rather than becoming it.
    into_dir: bool,
}

/// Adds one source's entries; returns whether it made the destination a
/// directory (a directory's contents, an archive, `--parents`).
#[allow(clippy::too_many_arguments)]
fn add_item(
    b: &Build,
    ctx: &Context,
    copy: &Copy,
    item: &Item,
    place: &Placement,
    attrs: &Attrs,
    plan: &mut EntryPlan,
    temps: &mut Vec<crate::store::TempDir>,
) -> Result<bool, BuildError> {
    let owner = |uid: u32, gid: u32| attrs.owner.unwrap_or((uid, gid));
    let (target, into_dir) = (place.target, place.into_dir);
    // A single file made by the build: named `name` inside a directory
    // destination, else the destination itself; root or --chown owns it.
    let single_file = |name: &str, source: FileSource, size: u64, mode: u32, mtime: i64| {
        let path = if into_dir {
            target.join(name)
        } else {
            target.to_path_buf()
        };
        let (uid, gid) = owner(0, 0);
        LayerEntry {
            path: rel(&path),
            kind: EntryKind::File { source, size },
            mode: attrs.chmod.as_ref().map_or(mode, |c| c.apply(mode, false)),
            uid,
            gid,
            mtime,
            xattrs: Vec::new(),
        }
    };
    match item {
        Item::Heredoc { name, content } => {
            let source = FileSource::Bytes(content.clone());
            plan.add(single_file(
                name,
                source,
                content.len() as u64,
                0o644,
                plan.time,
            ));
            Ok(false)
        }
        // BuildKit unpacks a downloaded archive only with --unpack=true.
        Item::Url(d) => {
            if copy.unpack == Some(true) {
                if let Some(temp) = archive::extract_if_archive(b.store, &d.path)? {
                    archive::add_extracted(temp.path(), target, attrs.owner, plan)?;
                    temps.push(temp);
                    return Ok(true);
                }
            }
            // Downloads are 0600, as in BuildKit's HTTP source.
            let source = FileSource::Path(d.path.clone());
            plan.add(single_file(&d.name, source, d.size, 0o600, d.mtime));
            Ok(false)
        }
        Item::Context(source, keep) => {
            let host = ctx.root().join(&source.rel);
            if copy.add && copy.unpack != Some(false) && !source.is_dir {
                if let Some(temp) = archive::extract_if_archive(b.store, &host)? {
                    archive::add_extracted(temp.path(), target, attrs.owner, plan)?;
                    temps.push(temp);
                    return Ok(true);
                }
            }
            let entries = ctx.entries(&source.rel)?;
            if source.is_dir && keep.is_none() {
                // The destination directory exists afterwards even when the
                // source directory is empty (or everything was excluded).
                plan.require_dir(rel(target));
            }
            for e in entries {
                let within = e.rel.strip_prefix(&source.rel).unwrap_or(Path::new(""));
                // `entries` lists what is below a source directory, never the
                // directory itself: the destination directory is created like
                // any missing parent (0755, root or --chown), as BuildKit does.
                let relative = if within.as_os_str().is_empty() {
                    Some(Path::new(source.name()))
                } else {
                    Some(within)
                };
                if relative.is_some_and(|r| attrs.excludes.matches(&r.to_string_lossy())) {
                    continue;
                }
                let dest = if let Some(keep) = keep {
                    target.join(keep).join(within)
                } else if source.is_dir {
                    target.join(within)
                } else if into_dir {
                    target.join(source.name())
                } else {
                    target.to_path_buf()
                };
                let kind = match &e.kind {
                    CtxKind::File => EntryKind::File {
                        source: FileSource::Path(ctx.root().join(&e.rel)),
                        size: e.size,
                    },
                    CtxKind::Dir => EntryKind::Dir,
                    CtxKind::Symlink { target } => EntryKind::Symlink {
                        target: target.clone(),
                    },
                    CtxKind::Other => continue,
                };
                let (uid, gid) = if attrs.local {
                    owner(0, 0)
                } else {
                    owner(e.uid, e.gid)
                };
                let xattrs = layer_xattrs(&ctx.root().join(&e.rel))?;
                let mode = match (&kind, &attrs.chmod) {
                    (EntryKind::Symlink { .. }, _) | (_, None) => e.mode & 0o7777,
                    (kind, Some(change)) => change.apply(e.mode, matches!(kind, EntryKind::Dir)),
                };
                let linked = matches!(kind, EntryKind::File { .. }) && e.nlink > 1;
                let entry = LayerEntry {
                    path: rel(&dest),
                    mode,
                    kind,
                    uid,
                    gid,
                    mtime: (e.mtime_ns.div_euclid(1_000_000_000)) as i64,
                    xattrs,
                };
                if linked {
                    plan.add_linked(entry, (e.dev, e.ino));
                } else {
                    plan.add(entry);
                }
            }
            Ok(source.is_dir || keep.is_some())
        }
    }
}

/// The layer an earlier build made under `key`.
fn previous_layer(b: &Build, key: &str) -> Option<crate::store::Digest> {
    layers::lookup(b.store, key)?.layer?.diff_id.parse().ok()
}

/// Whether an earlier build of this step (its record is only a hint under
/// `--no-cache`) made a layer whose snapshot is in the store.
fn snapshot_likely(b: &Build, key: &str) -> bool {
    previous_layer(b, key).is_some_and(|layer| b.store.snapshot_path(&layer.hex()).is_dir())
}
