//! The attach socket's protocol: how a client (`docker attach`, `docker run -it`) talks to the
//! monitor of a detached init. The monitor's side is attach.rs; the engine's is its mirror,
//! backends/linux-native/attach-protocol.ts: change both together.
//!
//! A unix stream socket at `DetachOptions.attach.socketPath` (mode 0600), which the monitor
//! binds before it starts the process and removes before it records the exit. Both ways,
//! frames with the header of Docker's multiplexed attach stream (stdcopy): the frame's kind in
//! byte 0, three zero bytes, the payload's length as a big-endian u32; then the payload.
//!
//! monitor -> client
//!   1 STDOUT  the process's stdout; with a terminal, all of the terminal's output
//!   2 STDERR  the process's stderr (never with a terminal)
//!   3 EXIT    the process's exit, the exit file's JSON (`{"exitCode":137,"signal":9,
//!             "finishedAt":"..."}`), once its output has ended and the exit file is written;
//!             the monitor then closes the connection and exits
//!
//! client -> monitor
//!   0 STDIN   bytes for the process's stdin (dropped when the monitor keeps none); at most
//!             MAX_CLIENT_PAYLOAD bytes a frame
//!   4 RESIZE  the terminal's size, columns then rows, big-endian u16 each: TIOCSWINSZ on the
//!             master, and the process gets SIGWINCH (ignored without a terminal)
//!   5 CLOSE   the end of stdin: the process's stdin pipe is closed once what was sent before
//!             is written (ignored with a terminal, which would hang up)
//!
//! A client detaches by closing the connection: the process runs on, its stdin open. A client
//! gets the output from when it connects on (as Docker's attach), except that with
//! `await_client` the output waits, unread, for the first client (at most attach.rs'
//! FIRST_CLIENT_WAIT). Several clients may be attached at once (up to attach.rs'
//! MAX_CLIENTS; one more is closed at once): each gets all the output, and stdin from all goes
//! to the process.
//!
//! Bounded: output a client does not read fast enough is dropped for that client, whole frames
//! at a time, once attach.rs' CLIENT_BUFFER bytes wait for it; the log and the process never
//! wait for a client. Stdin the process does not read waits in the monitor, which stops
//! reading from its clients until it is written (their writes then block: back-pressure). A
//! malformed frame (an unknown kind, an oversized payload) ends that client's connection.

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;
pub const RESIZE: u8 = 4;
pub const CLOSE: u8 = 5;

pub const HEADER_SIZE: usize = 8;
/// The largest payload a client may send: what one read of the monitor takes whole.
pub const MAX_CLIENT_PAYLOAD: usize = 16 * 1024;

pub fn header(kind: u8, length: usize) -> [u8; HEADER_SIZE] {
    let length = (length as u32).to_be_bytes();
    [kind, 0, 0, 0, length[0], length[1], length[2], length[3]]
}

/// A frame a client sent.
pub enum Frame<'a> {
    Stdin(&'a [u8]),
    Resize { cols: u16, rows: u16 },
    Close,
}

/// The first frame in `input` and the bytes it took; None while it is incomplete; Err when
/// the client breaks the protocol.
pub fn next_frame(input: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ()> {
    if input.len() < HEADER_SIZE {
        return Ok(None);
    }
    if input[1..4] != [0, 0, 0] {
        return Err(());
    }
    let length = u32::from_be_bytes([input[4], input[5], input[6], input[7]]) as usize;
    if length > MAX_CLIENT_PAYLOAD {
        return Err(());
    }
    let Some(payload) = input.get(HEADER_SIZE..HEADER_SIZE + length) else {
        return Ok(None);
    };
    let frame = match (input[0], length) {
        (STDIN, _) => Frame::Stdin(payload),
        (RESIZE, 4) => Frame::Resize {
            cols: u16::from_be_bytes([payload[0], payload[1]]),
            rows: u16::from_be_bytes([payload[2], payload[3]]),
        },
        (CLOSE, 0) => Frame::Close,
        _ => return Err(()),
    };
    Ok(Some((frame, HEADER_SIZE + length)))
}
