//! What a stage has set up so far, as far as the checks care, and what a
//! stage inherits from the earlier stage it is built `FROM`.

use super::env::KnownEnv;
use crate::dockerfile::{Keyword, Span};
use crate::ir::Stage;

/// The name BuildKit gives the empty base image.
const SCRATCH: &str = "scratch";

/// Where an instruction that should appear once per stage was last seen.
#[derive(Debug, Clone, Default)]
pub(super) struct OnceSeen {
    cmd: Option<Span>,
    entrypoint: Option<Span>,
    healthcheck: Option<Span>,
}

impl OnceSeen {
    /// Records an occurrence of `keyword`, returning the previous one's span.
    pub fn record(&mut self, keyword: Keyword, span: Span) -> Option<Span> {
        let slot = match keyword {
            Keyword::Cmd => &mut self.cmd,
            Keyword::Entrypoint => &mut self.entrypoint,
            Keyword::Healthcheck => &mut self.healthcheck,
            _ => return None,
        };
        slot.replace(span)
    }
}

#[derive(Debug, Clone)]
pub(super) struct StageState {
    /// `None` when the stage stands on an image lint cannot see into, whose
    /// environment may define anything.
    pub env: Option<KnownEnv>,
    /// A SHELL instruction ran earlier (here or in a parent stage), so a
    /// shell-form CMD is the user's explicit choice.
    pub shell_set: bool,
    /// A WORKDIR ran earlier in this Dockerfile's stage chain.
    pub workdir_set: bool,
    /// The stage registers ONBUILD triggers; they run first in any stage
    /// built on it, with effects lint does not replay.
    pub has_onbuild: bool,
    /// CMD/ENTRYPOINT/HEALTHCHECK seen in this stage (not inherited, as in
    /// BuildKit: a child stage may override its parent's once).
    pub once: OnceSeen,
}

impl StageState {
    /// A fresh stage on an image whose configuration lint cannot see.
    pub fn unknown() -> StageState {
        StageState {
            env: None,
            shell_set: false,
            workdir_set: false,
            has_onbuild: false,
            once: OnceSeen::default(),
        }
    }

    /// The state at the FROM line of `stage`, given the states the earlier
    /// stages ended in.
    pub fn start(stage: &Stage, finished: &[StageState]) -> StageState {
        let parent = stage.base_stage.and_then(|i| finished.get(i));
        let Some(parent) = parent else {
            // An image: only scratch is known to be empty. A base with `$` in
            // it is not resolved here, so it counts as an unknown image.
            return StageState {
                env: (stage.base == SCRATCH).then(KnownEnv::scratch),
                ..StageState::unknown()
            };
        };
        StageState {
            env: if parent.has_onbuild {
                None
            } else {
                parent.env.clone()
            },
            shell_set: parent.shell_set,
            workdir_set: parent.workdir_set,
            // Triggers run once, in the direct child; they are not passed on.
            has_onbuild: false,
            once: OnceSeen::default(),
        }
    }
}
