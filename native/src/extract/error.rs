//! What stops an extraction, as plain data. The bridge (js.rs) turns it into the error
//! JavaScript sees, with the codes of berth's own errors (core/errors.ts), so that the
//! TypeScript side rethrows it as the same BerthError the TypeScript extractor gives.

use crate::errno::SysError;

pub enum ExtractError {
    /// A layer that cannot be applied: InvalidLayerError, code `INVALID_LAYER`.
    Layer(String),
    /// A layer beyond one of its limits: LayerLimitError, code `LAYER_LIMIT`; `limit` is the
    /// option's name (`maxEntries`).
    Limit {
        limit: &'static str,
        message: String,
    },
    /// A failed system call: an Error like Node's fs errors (code, errno, syscall, path).
    Sys(SysError),
    /// JavaScript stopped the input (its own reading failed) before the archive ended.
    Aborted,
    /// A bug of the extractor (a panic): never the layer's fault.
    Internal(String),
}

impl From<SysError> for ExtractError {
    fn from(err: SysError) -> ExtractError {
        ExtractError::Sys(err)
    }
}

pub fn invalid(message: String) -> ExtractError {
    ExtractError::Layer(message)
}

/// The stream ended inside `what` (a tar header, an entry's body).
pub fn truncated(what: &str) -> ExtractError {
    ExtractError::Layer(format!("layer is truncated: it ends inside {what}"))
}
