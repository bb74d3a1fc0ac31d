//! Lint checks (filled in below).
