//! What JavaScript calls: zstdVersion, zstdOpen, zstdDecode, zstdFree and zstdStats (listed in
//! src/exports.rs, typed in backends/linux-native/native-addon.ts; core/layer/zstd-decoder.ts
//! drives them). A decoder is named to JavaScript by a number; between calls it waits in
//! DECODERS, and during a zstdDecode it is on that call's thread (promise::on_thread), which
//! hands it back with its result. Nothing keeps the event loop alive between calls, so a stream
//! its reader abandons cannot hang the process; zstdFree releases its memory at once, or as
//! soon as the call in progress returns.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use crate::errno::SysError;
use crate::error::Error;
use crate::handles::{id_value, Handles};
use crate::js::{check, string, Call};
use crate::napi::*;
use crate::promise;

use super::decoder::{Decoded, Decoder, InvalidData, LIVE, OPENED};
use super::library::{library, SONAME};

/// Open decoders by id: None while the decoder is on a zstdDecode's thread.
type Decoders = HashMap<u32, Option<Decoder>>;

static DECODERS: Handles<Option<Decoder>> = Handles::new();

fn decoders() -> MutexGuard<'static, Decoders> {
    DECODERS.lock()
}

/// `zstdVersion()`: libzstd's version (`1.5.4`), loading it at the first call; null where it
/// cannot be loaded.
pub fn version(call: &Call) -> Result<napi_value, Error> {
    match library() {
        Ok(library) => unsafe { string(call.env, library.version.as_bytes()) },
        Err(_) => call.null(),
    }
}

/// `zstdOpen()`: a new decoder's id.
pub fn open(call: &Call) -> Result<napi_value, Error> {
    let library = library().map_err(|_| failure("dlopen", libc::ELIBACC))?;
    let decoder =
        Decoder::new(library).ok_or_else(|| failure("ZSTD_createDStream", libc::ENOMEM))?;
    id_value(call.env, DECODERS.insert(Some(decoder)))
}

/// `dlopen libzstd.so.1: ELIBACC (Can not access a needed shared library)`.
fn failure(step: &'static str, errno: i32) -> Error {
    Error::Sys(SysError {
        syscall: step.into(),
        path: SONAME.to_string_lossy().into_owned(),
        subject: None,
        errno,
    })
}

/// `zstdDecode(id, input | 'end')`: decodes on a thread of its own; resolves with
/// `{ output, more }`, or `{ error }` naming what is wrong with the data (then the decoder is
/// freed, as it is once the input has ended and all its output has been taken).
pub fn decode(call: &Call) -> Result<napi_value, Error> {
    let id = call.u32(0)?;
    let (input, end) = input(call)?;
    let mut decoder = check_out(id)?;
    if decoder.ended() && !end {
        decoders().insert(id, Some(decoder));
        return Err(state_error(format!(
            "zstdDecode: the input of decoder {id} has ended"
        )));
    }
    let work = move || {
        // A panic must not leave the promise pending forever; the decoder is dropped with it.
        let result = panic::catch_unwind(AssertUnwindSafe(|| decoder.decode(input, end)));
        Work {
            id,
            decoder,
            result,
        }
    };
    promise::on_thread(call, work, to_js).inspect_err(|_| {
        // The decoder went with the thread that could not start.
        decoders().remove(&id);
    })
}

/// `zstdFree(id)`: frees the decoder now, or when the zstdDecode in progress returns. Freeing
/// one that is gone already does nothing: every stream frees its decoder, however it ended.
pub fn free(call: &Call) -> Result<napi_value, Error> {
    let id = call.u32(0)?;
    let decoder = decoders().remove(&id);
    // Dropped outside the lock.
    drop(decoder);
    call.undefined()
}

/// `zstdStats()`: `{ opened, live }`, decoders created since the addon loaded and those whose
/// memory is not yet freed.
pub fn stats(call: &Call) -> Result<napi_value, Error> {
    let result = call.new_object()?;
    result.set_number(c"opened", OPENED.load(Ordering::Relaxed) as f64)?;
    result.set_number(c"live", LIVE.load(Ordering::Relaxed) as f64)?;
    Ok(result.value())
}

/// The compressed bytes (copied: the thread cannot read JavaScript's memory), or the end.
fn input(call: &Call) -> Result<(Vec<u8>, bool), Error> {
    let mut kind = NAPI_UNDEFINED;
    unsafe { check(napi_typeof(call.env, call.arg(1), &mut kind), "napi_typeof")? };
    if kind != NAPI_STRING {
        return Ok((call.bytes(1)?.to_vec(), false));
    }
    match call.string(1)?.to_bytes() {
        b"end" => Ok((Vec::new(), true)),
        other => Err(Error::Arg {
            range: false,
            code: c"ERR_INVALID_ARG_VALUE".into(),
            message: format!(
                "zstdDecode: \"input\" must be a Uint8Array or \"end\", got {:?}",
                String::from_utf8_lossy(other)
            ),
        }),
    }
}

/// Takes the decoder out of DECODERS for a call's thread.
fn check_out(id: u32) -> Result<Decoder, Error> {
    let mut decoders = decoders();
    match decoders.get_mut(&id) {
        None => Err(state_error(format!(
            "zstdDecode: no zstd decoder {id} is open"
        ))),
        Some(slot) => slot.take().ok_or_else(|| {
            state_error(format!(
                "zstdDecode: decoder {id} is decoding already (one call at a time)"
            ))
        }),
    }
}

fn state_error(message: String) -> Error {
    Error::Arg {
        range: false,
        code: c"ERR_INVALID_STATE".into(),
        message,
    }
}

/// What a call's thread hands back to the JavaScript thread.
struct Work {
    id: u32,
    decoder: Decoder,
    result: std::thread::Result<Result<Decoded, InvalidData>>,
}

fn to_js(env: napi_env, work: Work) -> Result<napi_value, Error> {
    let Work {
        id,
        decoder,
        result,
    } = work;
    let mut decoders = decoders();
    let freed = !decoders.contains_key(&id);
    let outcome = match result {
        Ok(Ok(decoded)) if !freed => {
            if decoded.more || !decoder.ended() {
                decoders.insert(id, Some(decoder));
            } else {
                decoders.remove(&id);
            }
            Ok(decoded)
        }
        // zstdFree came while the thread worked: nobody wants the output.
        Ok(Ok(_)) => Ok(Decoded {
            output: None,
            more: false,
        }),
        Ok(Err(invalid)) => {
            decoders.remove(&id);
            Err(invalid)
        }
        Err(_) => {
            decoders.remove(&id);
            drop(decoders);
            // Rejects the promise with on_thread's error: an internal failure, not bad data.
            return Err(Error::Napi {
                call: "zstdDecode (a Rust panic while decoding)",
                status: NAPI_OK,
            });
        }
    };
    drop(decoders);
    unsafe { result_object(env, outcome) }
}

/// `{ output: Buffer | null, more }` or `{ error }`.
unsafe fn result_object(
    env: napi_env,
    outcome: Result<Decoded, InvalidData>,
) -> Result<napi_value, Error> {
    let mut object = ptr::null_mut();
    check(napi_create_object(env, &mut object), "napi_create_object")?;
    let set = |name: &std::ffi::CStr, value| {
        check(
            napi_set_named_property(env, object, name.as_ptr(), value),
            "napi_set_named_property",
        )
    };
    match outcome {
        Ok(decoded) => {
            let output = match decoded.output {
                Some(chunk) => external_buffer(env, chunk)?,
                None => {
                    let mut null = ptr::null_mut();
                    check(napi_get_null(env, &mut null), "napi_get_null")?;
                    null
                }
            };
            set(c"output", output)?;
            let mut more = ptr::null_mut();
            check(
                napi_get_boolean(env, decoded.more, &mut more),
                "napi_get_boolean",
            )?;
            set(c"more", more)?;
        }
        Err(InvalidData(reason)) => set(c"error", string(env, reason.as_bytes())?)?,
    }
    Ok(object)
}

/// The chunk as a Buffer over its own memory, without a copy; Node frees it (free_chunk) once
/// the Buffer is collected, and counts its size as external memory, so collections keep pace.
unsafe fn external_buffer(env: napi_env, chunk: Vec<u8>) -> Result<napi_value, Error> {
    let mut chunk = Box::new(chunk);
    let (data, len) = (chunk.as_mut_ptr(), chunk.len());
    let hint = Box::into_raw(chunk);
    let mut buffer = ptr::null_mut();
    // On failure the chunk is left allocated: Node calls the finalizer on some of its failure
    // paths and not on others, and a leak (of a failure that means the heap is exhausted) is
    // better than a double free.
    check(
        napi_create_external_buffer(
            env,
            len,
            data.cast(),
            Some(free_chunk),
            hint.cast(),
            &mut buffer,
        ),
        "napi_create_external_buffer",
    )?;
    Ok(buffer)
}

unsafe extern "C" fn free_chunk(_env: napi_env, _data: *mut c_void, hint: *mut c_void) {
    drop(Box::from_raw(hint as *mut Vec<u8>));
}
