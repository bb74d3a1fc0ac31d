//! Which stages a build needs and where each stage's base comes from. Only
//! the target and what it depends on run; a stage the target does not need
//! is never executed.

use super::error::BuildError;
use super::options::NamedContext;
use super::scope::Scope;
use crate::image::ImageSource;
use crate::ir::{BuildPlan, Command, CopyFrom};
use std::collections::BTreeMap;

/// Where a stage starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Base {
    Stage(usize),
    Image(ImageSource),
}

/// Expands each FROM with the meta ARGs and decides: an earlier stage's name
/// (case-insensitive) or an image.
pub fn resolve_bases(
    plan: &BuildPlan,
    meta: &Scope,
    named: &BTreeMap<String, NamedContext>,
) -> Result<Vec<Base>, BuildError> {
    let mut bases = Vec::with_capacity(plan.stages.len());
    for (i, stage) in plan.stages.iter().enumerate() {
        let text = meta.expand(&stage.base, None, plan.escape)?;
        if text.is_empty() {
            return Err(BuildError::BadBase {
                reference: stage.base.clone(),
                reason: "it expands to an empty string".into(),
            });
        }
        let lower = text.to_ascii_lowercase();
        let earlier = plan.stages[..i]
            .iter()
            .rposition(|s| s.name.as_deref() == Some(lower.as_str()));
        bases.push(match (earlier, named.get(&lower)) {
            (Some(j), _) => Base::Stage(j),
            (None, Some(NamedContext::Image(source))) => Base::Image(source.clone()),
            (None, Some(NamedContext::Dir(_))) => {
                return Err(BuildError::Unsupported {
                    what: format!("FROM a directory build context ({text})"),
                })
            }
            (None, None) => Base::Image(ImageSource::parse(&text)),
        });
    }
    Ok(bases)
}

/// An ONBUILD trigger lowered as a step of stage `index`: after stand-ins
/// for this file's earlier stages, so `--from=<stage>` in it names this
/// build's stages (by name or index) as BuildKit resolves them.
pub fn trigger_plan(plan: &BuildPlan, index: usize, trigger: &str) -> Result<BuildPlan, String> {
    let mut text = String::new();
    for earlier in &plan.stages[..index] {
        text.push_str("FROM scratch");
        if let Some(name) = &earlier.name {
            text.push_str(&format!(" AS {name}"));
        }
        text.push('\n');
    }
    text.push_str(&format!("FROM scratch\n{trigger}\n"));
    let parsed = crate::dockerfile::parse(&text).map_err(|e| e.to_string())?;
    crate::ir::lower(&parsed).map_err(|e| e.to_string())
}

/// Stages a stage depends on: its base, every `COPY --from` /
/// `RUN --mount=from=` that names a stage, and those of the ONBUILD triggers
/// its base stage leaves for it.
pub(crate) fn dependencies(plan: &BuildPlan, bases: &[Base], index: usize) -> Vec<usize> {
    let mut deps = Vec::new();
    let mut triggered = Vec::new();
    if let Base::Stage(j) = bases[index] {
        deps.push(j);
        for step in &plan.stages[j].steps {
            if let Command::Onbuild(trigger) = &step.command {
                // A trigger that does not lower fails later, at its step.
                if let Ok(t) = trigger_plan(plan, index, trigger) {
                    triggered.extend(t.stages.last().map(|s| s.steps.clone()).unwrap_or_default());
                }
            }
        }
    }
    for step in plan.stages[index].steps.iter().chain(&triggered) {
        match &step.command {
            Command::Copy(c) => {
                if let Some(CopyFrom::Stage(j)) = c.from {
                    deps.push(j);
                }
            }
            Command::Run(run) => {
                for m in &run.mounts {
                    if let Some(j) = m.from_stage().and_then(|f| plan.stage_index(f)) {
                        if j < index {
                            deps.push(j);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    deps
}

/// `needed[i]` is true for the target and everything it depends on.
pub fn needed_stages(plan: &BuildPlan, bases: &[Base], target: usize) -> Vec<bool> {
    let mut needed = vec![false; plan.stages.len()];
    let mut stack = vec![target];
    while let Some(i) = stack.pop() {
        if needed[i] {
            continue;
        }
        needed[i] = true;
        stack.extend(dependencies(plan, bases, i).into_iter().filter(|&j| j < i));
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;
    use crate::ir::lower;

    #[test]
    fn only_the_targets_dependencies_are_needed() {
        let text = "FROM scratch AS a\nFROM scratch AS unused\nFROM a AS b\nCOPY --from=0 / /\nFROM scratch AS c\nCOPY --from=b / /\n";
        let plan = lower(&parse(text).unwrap()).unwrap();
        let meta = Scope::default();
        let bases = resolve_bases(&plan, &meta, &BTreeMap::new()).unwrap();
        assert_eq!(bases[2], Base::Stage(0));
        assert_eq!(needed_stages(&plan, &bases, 3), [true, false, true, true]);
        assert_eq!(needed_stages(&plan, &bases, 1), [false, true, false, false]);
    }
}
