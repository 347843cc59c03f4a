//! Waiting for and signalling container processes, children of this process.

use crate::errno::SysError;

pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// waitpid(2), blocking (run it off the JavaScript thread).
pub fn wait(pid: libc::pid_t) -> Result<Exit, SysError> {
    let mut status = 0;
    loop {
        if unsafe { libc::waitpid(pid, &mut status, 0) } >= 0 {
            break;
        }
        let err = SysError::last("waitpid", c"");
        if err.errno != libc::EINTR {
            return Err(SysError {
                path: pid.to_string(),
                ..err
            });
        }
    }
    if libc::WIFSIGNALED(status) {
        Ok(Exit::Signal(libc::WTERMSIG(status)))
    } else {
        Ok(Exit::Code(libc::WEXITSTATUS(status)))
    }
}

pub fn kill(pid: libc::pid_t, signal: i32) -> Result<(), SysError> {
    if unsafe { libc::kill(pid, signal) } != 0 {
        let err = SysError::last("kill", c"");
        return Err(SysError {
            path: pid.to_string(),
            ..err
        });
    }
    Ok(())
}
