//! The system's libzstd, loaded with dlopen at first use instead of linked: the addon must still
//! load where libzstd is missing (berth then decodes zstd with fzstd, in JavaScript). No crate
//! may be used here (DESIGN.md, "Rust without crates.io"), and no zstd headers are needed: the
//! few functions used are declared below from zstd.h, all part of libzstd's stable API since
//! 1.4.0. libzstd is the library made for the job, and libzstd.so.1 is on every Debian, Ubuntu
//! and Fedora system, since apt and rpm depend on it.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::mem::size_of;
use std::sync::OnceLock;

/// The name the library has had since its ABI became stable (libzstd 1.0).
pub const SONAME: &CStr = c"libzstd.so.1";

/// ZSTD_DCtx, which is also ZSTD_DStream.
#[repr(C)]
pub struct DCtx {
    _opaque: [u8; 0],
}

/// ZSTD_inBuffer.
#[repr(C)]
pub struct InBuffer {
    pub src: *const c_void,
    pub size: usize,
    pub pos: usize,
}

/// ZSTD_outBuffer.
#[repr(C)]
pub struct OutBuffer {
    pub dst: *mut c_void,
    pub size: usize,
    pub pos: usize,
}

/// ZSTD_d_windowLogMax, of enum ZSTD_dParameter.
pub const D_WINDOW_LOG_MAX: c_int = 100;

/// ZSTD_DCtx_setParameter and ZSTD_d_windowLogMax are stable from this version (1.4.0) on.
const MIN_VERSION_NUMBER: c_uint = 10400;

/// The functions berth calls, resolved once.
pub struct Library {
    pub create_dstream: unsafe extern "C" fn() -> *mut DCtx,
    pub free_dstream: unsafe extern "C" fn(*mut DCtx) -> usize,
    pub dctx_set_parameter: unsafe extern "C" fn(*mut DCtx, c_int, c_int) -> usize,
    pub decompress_stream: unsafe extern "C" fn(*mut DCtx, *mut OutBuffer, *mut InBuffer) -> usize,
    pub is_error: unsafe extern "C" fn(usize) -> c_uint,
    pub get_error_name: unsafe extern "C" fn(usize) -> *const c_char,
    /// `1.5.4`.
    pub version: String,
}

impl Library {
    /// libzstd's name for the error `code` returns (`Unknown frame descriptor`), or None when
    /// `code` is not an error.
    pub fn error_name(&self, code: usize) -> Option<String> {
        unsafe {
            if (self.is_error)(code) == 0 {
                return None;
            }
            Some(
                CStr::from_ptr((self.get_error_name)(code))
                    .to_string_lossy()
                    .into_owned(),
            )
        }
    }
}

/// libzstd, loaded at the first call; Err says why it cannot be (dlerror's words). Never
/// unloaded: decoders on other threads may be using it at any time.
pub fn library() -> Result<&'static Library, &'static str> {
    static LIBRARY: OnceLock<Result<Library, String>> = OnceLock::new();
    LIBRARY.get_or_init(load).as_ref().map_err(String::as_str)
}

fn load() -> Result<Library, String> {
    // RTLD_LOCAL: its symbols stay out of the global namespace, where Node (which may link its
    // own zstd) and other addons resolve theirs.
    let handle = unsafe { libc::dlopen(SONAME.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    // SAFETY of each `function`: the type is the one zstd.h declares for the symbol.
    unsafe {
        let version_number: unsafe extern "C" fn() -> c_uint =
            function(handle, c"ZSTD_versionNumber")?;
        let version_string: unsafe extern "C" fn() -> *const c_char =
            function(handle, c"ZSTD_versionString")?;
        let version = CStr::from_ptr(version_string())
            .to_string_lossy()
            .into_owned();
        if version_number() < MIN_VERSION_NUMBER {
            return Err(format!(
                "{} is version {version}; berth needs 1.4.0 or newer",
                SONAME.to_string_lossy()
            ));
        }
        Ok(Library {
            create_dstream: function(handle, c"ZSTD_createDStream")?,
            free_dstream: function(handle, c"ZSTD_freeDStream")?,
            dctx_set_parameter: function(handle, c"ZSTD_DCtx_setParameter")?,
            decompress_stream: function(handle, c"ZSTD_decompressStream")?,
            is_error: function(handle, c"ZSTD_isError")?,
            get_error_name: function(handle, c"ZSTD_getErrorName")?,
            version,
        })
    }
}

/// The function `name` of the library, as the function pointer type `F`.
///
/// # Safety
/// `F` must be an `unsafe extern "C" fn` type with the symbol's C signature.
unsafe fn function<F: Copy>(handle: *mut c_void, name: &CStr) -> Result<F, String> {
    assert_eq!(size_of::<F>(), size_of::<*mut c_void>());
    let address = libc::dlsym(handle, name.as_ptr());
    if address.is_null() {
        return Err(dl_error());
    }
    Ok(std::mem::transmute_copy(&address))
}

/// dlerror's message for the last failed dlopen or dlsym of this thread.
fn dl_error() -> String {
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        return format!("{} cannot be loaded", SONAME.to_string_lossy());
    }
    unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned()
}
