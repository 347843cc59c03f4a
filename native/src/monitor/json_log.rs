//! Docker's json-file log, written exactly as core/container/json-file-log.ts writes it (the
//! engine reads both with core/container/log-reader.ts): one `{"log":...,"stream":...,"time":...}`
//! object per line of output, the newline kept in "log", a last line without one logged at the
//! stream's end; rotation path -> path.1 -> ... -> path.<max_file - 1> before an entry would
//! take the file past max_size. One difference, Docker's: a line is cut into entries of at most
//! 16 KiB (without newline but the last), so that a process that never writes a newline cannot
//! grow the monitor.
//!
//! Writes that fail (a full disk) drop their entries: the container must not block on its
//! output, and there is nobody to tell.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::errno::SysError;
use crate::json_text::TextDecoder;
use crate::timestamp;
use crate::wire::LogFile;

/// The longest line kept whole (Docker's json-file copier's buffer).
const LINE_MAX: usize = 16 * 1024;
/// Entries gathered before they are written: those of one read of output, usually.
const BATCH: usize = 64 * 1024;

#[derive(Clone, Copy)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

const NAMES: [&[u8]; 2] = [b"stdout", b"stderr"];

struct Line {
    /// The bytes of the line so far, without its newline; at most LINE_MAX.
    bytes: Vec<u8>,
    text: TextDecoder,
}

pub struct JsonLog {
    path: CString,
    file: Option<OwnedFd>,
    /// The file's size, as far as written.
    size: u64,
    max_size: u64,
    max_file: u32,
    lines: [Line; 2],
    /// Entries not written yet.
    batch: Vec<u8>,
}

impl JsonLog {
    /// Opens (creates) the log before the process starts, so that a log that cannot be written
    /// fails the start.
    pub fn open(spec: &LogFile) -> Result<JsonLog, SysError> {
        let line = || Line {
            bytes: Vec::with_capacity(LINE_MAX),
            text: TextDecoder::new(),
        };
        let mut log = JsonLog {
            path: spec.path.clone(),
            file: None,
            size: 0,
            max_size: spec.max_size,
            max_file: spec.max_file,
            lines: [line(), line()],
            batch: Vec::with_capacity(BATCH),
        };
        log.open_file()?;
        Ok(log)
    }

    /// Output of one stream: each complete line is an entry; the rest waits for its newline.
    pub fn write(&mut self, stream: Stream, mut output: &[u8]) {
        while !output.is_empty() {
            let newline = output.iter().position(|b| *b == b'\n');
            let (part, rest) = match newline {
                Some(at) => (&output[..at], &output[at + 1..]),
                None => (output, &[][..]),
            };
            self.gather(stream, part);
            if newline.is_some() {
                self.entry(stream, true, false);
            }
            output = rest;
        }
        self.flush();
    }

    /// The stream has ended: what is left of its last line is logged without a newline.
    pub fn end(&mut self, stream: Stream) {
        self.entry(stream, false, true);
        self.flush();
    }

    /// Adds `part` (no newline in it) to the stream's line, cutting it at LINE_MAX.
    fn gather(&mut self, stream: Stream, mut part: &[u8]) {
        while !part.is_empty() {
            let room = LINE_MAX - self.lines[stream as usize].bytes.len();
            if room == 0 {
                self.entry(stream, false, false);
                continue;
            }
            let (taken, rest) = part.split_at(room.min(part.len()));
            self.lines[stream as usize].bytes.extend_from_slice(taken);
            part = rest;
        }
    }

    /// The stream's line as an entry, decoded as TextDecoder decodes a stream (an incomplete
    /// character at a cut waits for the next entry, unless the stream has `ended`).
    fn entry(&mut self, stream: Stream, newline: bool, ended: bool) {
        let line = &mut self.lines[stream as usize];
        let start = self.batch.len();
        self.batch.extend_from_slice(b"{\"log\":\"");
        let text_start = self.batch.len();
        line.text.decode(&line.bytes, &mut self.batch);
        line.bytes.clear();
        if newline {
            line.text.decode(b"\n", &mut self.batch);
        }
        if ended {
            line.text.finish(&mut self.batch);
        }
        // Nothing to log (a stream that ended on a newline; a lone BOM): no entry, as in
        // JsonFileLogWriter.
        if self.batch.len() == text_start {
            self.batch.truncate(start);
            return;
        }
        self.batch.extend_from_slice(b"\",\"stream\":\"");
        self.batch.extend_from_slice(NAMES[stream as usize]);
        self.batch.extend_from_slice(b"\",\"time\":\"");
        timestamp::now(&mut self.batch);
        self.batch.extend_from_slice(b"\"}\n");

        let length = (self.batch.len() - start) as u64;
        let before = self.size + start as u64;
        if self.max_size > 0 && before > 0 && before + length > self.max_size {
            self.write_out(start);
            self.batch.drain(..start);
            self.rotate();
        }
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.write_out(self.batch.len());
        self.batch.clear();
    }

    /// Writes the first `n` bytes of the batch.
    fn write_out(&mut self, n: usize) {
        if self.file.is_none() && self.open_file().is_err() {
            return;
        }
        let Some(file) = &self.file else { return };
        let mut rest = &self.batch[..n];
        while !rest.is_empty() {
            let written =
                unsafe { libc::write(file.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
            if written < 0 && crate::errno() == libc::EINTR {
                continue;
            }
            if written <= 0 {
                return;
            }
            self.size += written as u64;
            rest = &rest[written as usize..];
        }
    }

    /// path -> path.1 -> ... -> path.<max_file - 1>; the oldest falls off (JsonFileLogWriter's
    /// rotate). A rename that fails leaves that file where it was.
    fn rotate(&mut self) {
        self.file = None;
        let keep = self.max_file.max(1);
        let numbered = |i: u32| {
            let mut name = self.path.as_bytes().to_vec();
            name.extend_from_slice(format!(".{i}").as_bytes());
            CString::new(name).unwrap_or_default()
        };
        unsafe {
            if keep > 1 {
                libc::unlink(numbered(keep - 1).as_ptr());
                for i in (1..keep - 1).rev() {
                    libc::rename(numbered(i).as_ptr(), numbered(i + 1).as_ptr());
                }
                libc::rename(self.path.as_ptr(), numbered(1).as_ptr());
            } else {
                libc::unlink(self.path.as_ptr());
            }
        }
        // A log that cannot be reopened now is tried again at the next entry.
        let _ = self.open_file();
    }

    fn open_file(&mut self) -> Result<(), SysError> {
        let flags = libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC;
        let fd = unsafe { libc::open(self.path.as_ptr(), flags, 0o640) };
        if fd < 0 {
            return Err(SysError::last("open", &self.path));
        }
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(file.as_raw_fd(), &mut stat) } != 0 {
            return Err(SysError::last("fstat", &self.path));
        }
        self.size = stat.st_size as u64;
        self.file = Some(file);
        Ok(())
    }
}
