//! Failed system calls as values: the syscall, the path it was given and the errno, with the
//! errno's symbolic name (what Node's fs errors put in `code`) and its description.

use std::borrow::Cow;
use std::ffi::{c_char, c_int, CStr};
use std::fmt;

#[derive(Debug)]
pub struct SysError {
    pub syscall: Cow<'static, str>,
    pub path: String,
    /// What the call was about besides the path (an xattr name), for the message.
    pub subject: Option<String>,
    pub errno: c_int,
}

impl SysError {
    /// The error the last failed libc call left in errno.
    pub fn last(syscall: &'static str, path: &CStr) -> SysError {
        // Read errno before allocating: malloc may change it.
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        SysError {
            syscall: syscall.into(),
            path: path.to_string_lossy().into_owned(),
            subject: None,
            errno,
        }
    }

    pub fn about(mut self, subject: &CStr) -> SysError {
        self.subject = Some(subject.to_string_lossy().into_owned());
        self
    }

    /// `ENOENT`; libuv's `UNKNOWN` for a number this table does not know.
    pub fn code(&self) -> &'static str {
        name(self.errno).unwrap_or("UNKNOWN")
    }
}

/// `mknod /x/y: EPERM (Operation not permitted)`;
/// `lsetxattr trusted.overlay.opaque on /x/y: ENOTSUP (Operation not supported)`.
impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Some(subject) => write!(f, "{} {} on {}", self.syscall, subject, self.path)?,
            None => write!(f, "{} {}", self.syscall, self.path)?,
        }
        match name(self.errno) {
            Some(name) => write!(f, ": {} ({})", name, describe(self.errno)),
            None => write!(f, ": errno {} ({})", self.errno, describe(self.errno)),
        }
    }
}

/// glibc's text for an errno ("Operation not permitted").
pub fn describe(errno: c_int) -> String {
    let mut buf = [0 as c_char; 256];
    // libc binds strerror_r to the XSI variant (__xpg_strerror_r), which fills buf.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

macro_rules! errno_names {
    ($($name:ident)*) => {
        /// The symbolic name of an errno. Aliases resolve to the name libuv (and so Node) uses:
        /// EAGAIN, EDEADLK, ENOTSUP.
        pub fn name(errno: c_int) -> Option<&'static str> {
            match errno {
                $(libc::$name => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

errno_names! {
    EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT
    ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG
    ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY
    ELOOP ENOMSG EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR
    EXFULL ENOANO EBADRQC EBADSLT EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE
    ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG
    ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK
    EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT ENOTSUP
    EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET
    ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT
    ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL
    EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED
    EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON
}
