//! The native layer extractor: applies a layer's tar stream to a snapshot's directory on a
//! thread of its own, with the semantics of the TypeScript extractor
//! (backends/linux-native/overlay-layer-writer.ts over core/layer/layer-reader.ts), which
//! remains the reference and the fallback. JavaScript keeps decompression and digest
//! verification (LayerReader.tar()) and hands the tar bytes over in chunks while this side
//! parses and writes: the two overlap, and the files are written with one system call per
//! chunk of data instead of one libuv request per operation.
//!
//! Layout: `js_api` is what JavaScript calls and `session` the queue between the two threads;
//! `archive` reads the tar stream, `apply` writes it into the directory.

mod apply;
mod archive;
mod error;
mod js_api;
mod session;

pub use js_api::{push, start};

use apply::writer::LayerWriter;
use archive::input::Source;
use archive::reader::TarReader;
use error::ExtractError;

/// Applies every entry, then sets the directories' times.
fn extract<S: Source>(
    writer: &mut LayerWriter,
    tar: &mut TarReader<S>,
) -> Result<(), ExtractError> {
    while let Some(entry) = tar.next_entry()? {
        writer.apply(&entry, tar)?;
    }
    writer.finish()
}
