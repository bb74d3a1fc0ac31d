//! Registries: pull, push and login over the OCI distribution API.
//!
//! # Why these crates and not a registry client crate
//!
//! The distribution API is a handful of HTTP calls; what matters is around
//! them: blobs streamed into and out of the store's files (never held whole
//! in memory), hashed while they stream, a refused cross-repository mount
//! taken as "upload instead", `Range` resumes, retries. `oci-client` covers
//! the calls but is async (tokio, reqwest, hyper in a synchronous program),
//! treats a refused mount as an error and reads no `config.json`; wrapping
//! it would mean rewriting most of what it does. So the transport is
//! `ureq` (already used for `ADD <url>`, rustls underneath), credentials are
//! read with `docker_credential` (docker's and podman's files, credential
//! helpers), and the protocol steps are ours, in small modules:
//!
//! - [`reference`]: Docker's reference grammar and defaults;
//! - [`auth`]: credentials and `WWW-Authenticate` challenges;
//! - [`client`]: TLS, scheme, tokens, retries, behind the small
//!   [`Registry`] trait the transfers take;
//! - [`pull`] and [`push`]: the image transfers;
//! - [`login`]: `rbuild login`/`logout`;
//! - [`cache`]: the remote build cache (its format is documented there).
//!
//! Nothing here calls into `build`; `build` and the CLI call in.

pub mod auth;
pub mod cache;
pub mod client;
mod error;
pub mod login;
mod parallel;
pub mod pull;
pub mod push;
pub mod reference;

pub use client::{Client, Registry, RegistryConfig};
pub use error::RegistryError;
pub use reference::Reference;
