//! One extraction in progress, between the JavaScript thread, which hands over the layer's tar
//! bytes in chunks, and the extraction's own thread, which applies them. A bounded queue: the
//! JavaScript side waits (a pending promise, never a blocked thread) while it holds more than
//! QUEUE_BYTES, so decompression runs ahead of the disk by that much and no further. Free of
//! N-API: `W` is what a JavaScript caller waits on (a promise's deferred), passed back through
//! `notify` from the extraction thread.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::archive::input::Source;
use super::error::ExtractError;

/// How far JavaScript may run ahead of the extraction thread.
pub const QUEUE_BYTES: usize = 4 << 20;
/// Chunk buffers kept for reuse: fresh ones would cost a page fault per 4 KiB on each push.
const SPARE_BUFFERS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Push,
    End,
    Abort,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    Open,
    /// The archive is complete: its end is the end of the layer.
    Ended,
    /// JavaScript's reading failed: what was handed over is applied, then the extraction stops.
    Aborted,
}

/// How a JavaScript call's promise settles.
pub enum Settle {
    Resolve,
    Reject(ExtractError),
}

/// What the extraction thread tells the JavaScript thread.
pub enum Notice<W> {
    /// A push waiting for room may go on.
    Room(W),
    /// The extraction is over: the waiting call settles, and the session is forgotten.
    Done(W, Settle),
}

/// The answer to a JavaScript call.
pub enum Reply<W> {
    /// Settle now; `over` when the extraction has ended and the session is to be forgotten.
    Now {
        waiter: W,
        settle: Settle,
        over: bool,
    },
    /// `notify` will settle it.
    Later,
    /// A misuse (a push after the end, two calls waiting at once): reject with this.
    Refused(W, &'static str),
}

struct State<W> {
    chunks: VecDeque<Vec<u8>>,
    queued: usize,
    spare: Vec<Vec<u8>>,
    end: InputEnd,
    waiting: Option<(Call, W)>,
    /// The extraction thread has finished; its result until a call takes it.
    finished: bool,
    outcome: Option<Result<(), ExtractError>>,
}

pub struct Session<W> {
    state: Mutex<State<W>>,
    more: Condvar,
    notify: Box<dyn Fn(Notice<W>) + Send + Sync>,
}

fn settle(call: Call, outcome: Result<(), ExtractError>) -> Settle {
    match (call, outcome) {
        (_, Ok(())) | (Call::Abort, Err(ExtractError::Aborted)) => Settle::Resolve,
        (_, Err(err)) => Settle::Reject(err),
    }
}

impl<W> Session<W> {
    pub fn new(notify: Box<dyn Fn(Notice<W>) + Send + Sync>) -> Session<W> {
        Session {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                queued: 0,
                spare: Vec::new(),
                end: InputEnd::Open,
                waiting: None,
                finished: false,
                outcome: None,
            }),
            more: Condvar::new(),
            notify,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        // A panic while holding the lock leaves plain data behind, still consistent enough to end on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The result of a finished extraction, for a call arriving after it ended.
    fn over(state: &mut State<W>, call: Call, waiter: W) -> Reply<W> {
        match state.outcome.take() {
            Some(outcome) => Reply::Now {
                waiter,
                settle: settle(call, outcome),
                over: true,
            },
            None => Reply::Refused(waiter, "the extraction has ended"),
        }
    }

    /// JavaScript hands over `chunks` (copied here, once, into one buffer).
    pub fn push(&self, chunks: &[&[u8]], waiter: W) -> Reply<W> {
        let mut buffer = {
            let mut state = self.lock();
            if state.finished {
                return Self::over(&mut state, Call::Push, waiter);
            }
            if state.end != InputEnd::Open {
                return Reply::Refused(waiter, "the extraction's input has ended");
            }
            if state.waiting.is_some() {
                return Reply::Refused(waiter, "another call on this extraction is still waiting");
            }
            state.spare.pop().unwrap_or_default()
        };
        // Copied without the lock: the extraction thread goes on meanwhile.
        buffer.clear();
        buffer.reserve(chunks.iter().map(|c| c.len()).sum());
        for chunk in chunks {
            buffer.extend_from_slice(chunk);
        }
        let mut state = self.lock();
        if state.finished {
            return Self::over(&mut state, Call::Push, waiter);
        }
        state.queued += buffer.len();
        state.chunks.push_back(buffer);
        self.more.notify_one();
        if state.queued < QUEUE_BYTES {
            return Reply::Now {
                waiter,
                settle: Settle::Resolve,
                over: false,
            };
        }
        state.waiting = Some((Call::Push, waiter));
        Reply::Later
    }

    /// JavaScript ends the input: the archive is complete (`Call::End`) or its reading failed
    /// (`Call::Abort`). Settles once the extraction thread is done.
    pub fn end(&self, call: Call, waiter: W) -> Reply<W> {
        let mut state = self.lock();
        if state.finished {
            return Self::over(&mut state, call, waiter);
        }
        if state.end != InputEnd::Open {
            return Reply::Refused(waiter, "the extraction's input has ended");
        }
        if state.waiting.is_some() {
            return Reply::Refused(waiter, "another call on this extraction is still waiting");
        }
        state.end = if call == Call::Abort {
            InputEnd::Aborted
        } else {
            InputEnd::Ended
        };
        state.waiting = Some((call, waiter));
        self.more.notify_one();
        Reply::Later
    }

    /// The extraction thread is done: the waiting call learns how it went, or the next one will.
    pub fn finish(&self, outcome: Result<(), ExtractError>) {
        let mut state = self.lock();
        state.finished = true;
        state.chunks.clear();
        state.spare.clear();
        state.queued = 0;
        match state.waiting.take() {
            Some((call, waiter)) => (self.notify)(Notice::Done(waiter, settle(call, outcome))),
            None => state.outcome = Some(outcome),
        }
    }

    /// The next chunk for the extraction thread, waiting for JavaScript to hand one over.
    pub fn next_chunk(&self, spent: Vec<u8>) -> Result<Option<Vec<u8>>, ExtractError> {
        let mut state = self.lock();
        if spent.capacity() > 0 && state.spare.len() < SPARE_BUFFERS {
            state.spare.push(spent);
        }
        loop {
            if let Some(chunk) = state.chunks.pop_front() {
                state.queued -= chunk.len();
                if state.queued < QUEUE_BYTES && matches!(state.waiting, Some((Call::Push, _))) {
                    if let Some((_, waiter)) = state.waiting.take() {
                        (self.notify)(Notice::Room(waiter));
                    }
                }
                return Ok(Some(chunk));
            }
            match state.end {
                InputEnd::Ended => return Ok(None),
                InputEnd::Aborted => return Err(ExtractError::Aborted),
                InputEnd::Open => {
                    state = self
                        .more
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                }
            }
        }
    }
}

/// The extraction thread's input: the session's chunks.
pub struct SessionSource<W>(pub std::sync::Arc<Session<W>>);

impl<W> Source for SessionSource<W> {
    fn next(&mut self, spent: Vec<u8>) -> Result<Option<Vec<u8>>, ExtractError> {
        self.0.next_chunk(spent)
    }
}
