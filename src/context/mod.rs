//! Build context (in progress).
