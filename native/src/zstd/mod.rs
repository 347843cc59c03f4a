//! A native zstd decoder for layers, over the system's libzstd: on Node before 22.15, which has
//! no zstd in node:zlib, the alternative is fzstd in JavaScript, several times slower. Decoding
//! runs on a thread per call, off the event loop, with bounded output per call.
//!
//! Layout: `library` loads libzstd (dlopen, at first use), `decoder` is one stream's state and
//! its bounds, `js_api` is what JavaScript calls.

mod decoder;
mod js_api;
mod library;

pub use js_api::{decode, free, open, stats, version};
