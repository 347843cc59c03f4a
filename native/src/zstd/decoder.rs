//! One zstd stream being decoded, free of N-API: compressed bytes in, output in chunks of
//! CHUNK_BYTES. Each `decode` returns at most one chunk, so that a zstd bomb (a gigabyte of
//! zeros in a few kilobytes) costs its reader time, never memory; the caller calls again with no
//! new input while `more` says there is output to come. Output is held back until a chunk is
//! full or the input has ended: a few large chunks cost fewer calls than many small ones.
//! Concatenated frames and skippable frames decode as libzstd decodes them, one after another.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::library::{DCtx, InBuffer, Library, OutBuffer, D_WINDOW_LOG_MAX};

/// The most output one `decode` returns.
pub const CHUNK_BYTES: usize = 4 << 20;

/// The largest window a frame may ask for: 2^27 bytes (128 MiB), what the zstd CLI decodes
/// without `--memory`. libzstd allocates the window a frame declares; this bounds that memory
/// per stream (a frame asking for more fails: "Frame requires too much memory for decoding").
const WINDOW_LOG_MAX: i32 = 27;

/// Decoders created since the addon loaded, and those not yet freed (for zstdStats).
pub static OPENED: AtomicUsize = AtomicUsize::new(0);
pub static LIVE: AtomicUsize = AtomicUsize::new(0);

pub struct Decoder {
    library: &'static Library,
    dctx: NonNull<DCtx>,
    input: Vec<u8>,
    /// How much of `input` libzstd has taken.
    consumed: usize,
    /// The chunk being filled.
    output: Vec<u8>,
    /// Between the first byte of a frame and its end: input ending here ends in its middle.
    in_frame: bool,
    /// The last call filled the output: libzstd may hold more of it, to flush before new input.
    flush_pending: bool,
    ended: bool,
}

// A decoder is used by one thread at a time (js_api.rs hands it over, never shares it), and
// libzstd's contexts may move between threads.
unsafe impl Send for Decoder {}

/// What one `decode` gives back.
pub struct Decoded {
    /// A full chunk, or the last one once the input has ended; None while output is held back.
    pub output: Option<Vec<u8>>,
    /// Call again (without new input) before feeding more: output remains to be taken.
    pub more: bool,
}

/// Why the data is not zstd: libzstd's error name (`Unknown frame descriptor`), or the end of
/// the input in the middle of a frame.
pub struct InvalidData(pub String);

impl Decoder {
    /// None when libzstd cannot allocate a context or refuses the window limit.
    pub fn new(library: &'static Library) -> Option<Decoder> {
        let dctx = NonNull::new(unsafe { (library.create_dstream)() })?;
        let decoder = Decoder {
            library,
            dctx,
            input: Vec::new(),
            consumed: 0,
            output: Vec::new(),
            in_frame: false,
            flush_pending: false,
            ended: false,
        };
        OPENED.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        let set = unsafe {
            (library.dctx_set_parameter)(decoder.dctx.as_ptr(), D_WINDOW_LOG_MAX, WINDOW_LOG_MAX)
        };
        // Dropping the decoder frees the context.
        library.error_name(set).is_none().then_some(decoder)
    }

    /// Takes `input` (the next compressed bytes) and decodes until a chunk is full or the input
    /// is used up; `end`: no input follows.
    pub fn decode(&mut self, input: Vec<u8>, end: bool) -> Result<Decoded, InvalidData> {
        self.take(input);
        self.ended |= end;
        if self.output.capacity() == 0 {
            self.output = Vec::with_capacity(CHUNK_BYTES);
        }
        loop {
            if self.output.len() == self.output.capacity() {
                return Ok(Decoded {
                    output: Some(std::mem::take(&mut self.output)),
                    more: true,
                });
            }
            // Past a frame's end with no input left, libzstd has nothing to do; calling it would
            // only return the size of the next frame's header as if one had started.
            if self.consumed == self.input.len() && !self.flush_pending {
                break;
            }
            self.step()?;
        }
        if !self.ended {
            return Ok(Decoded {
                output: None,
                more: false,
            });
        }
        if self.in_frame {
            return Err(InvalidData(
                "the data ends in the middle of a zstd frame".into(),
            ));
        }
        let last = std::mem::take(&mut self.output);
        Ok(Decoded {
            output: (!last.is_empty()).then_some(last),
            more: false,
        })
    }

    /// The input has ended: no more may be fed.
    pub fn ended(&self) -> bool {
        self.ended
    }

    fn take(&mut self, input: Vec<u8>) {
        if self.consumed == self.input.len() {
            // The usual case (input is fed once the last is used up): no copy.
            self.input = input;
            self.consumed = 0;
        } else {
            self.input.extend_from_slice(&input);
        }
    }

    /// One ZSTD_decompressStream into the chunk's free space.
    fn step(&mut self) -> Result<(), InvalidData> {
        let filled = self.output.len();
        let mut out = OutBuffer {
            dst: unsafe { self.output.as_mut_ptr().add(filled) }.cast(),
            size: self.output.capacity() - filled,
            pos: 0,
        };
        let mut inp = InBuffer {
            src: unsafe { self.input.as_ptr().add(self.consumed) }.cast(),
            size: self.input.len() - self.consumed,
            pos: 0,
        };
        let code =
            unsafe { (self.library.decompress_stream)(self.dctx.as_ptr(), &mut out, &mut inp) };
        if let Some(name) = self.library.error_name(code) {
            return Err(InvalidData(name));
        }
        // SAFETY: libzstd wrote `out.pos` bytes from `dst` on, within the capacity.
        unsafe { self.output.set_len(filled + out.pos) };
        self.consumed += inp.pos;
        // 0: a frame has been decoded and flushed completely.
        self.in_frame = code != 0;
        self.flush_pending = out.pos == out.size && code != 0;
        Ok(())
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        unsafe { (self.library.free_dstream)(self.dctx.as_ptr()) };
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
