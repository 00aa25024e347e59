//! A network of its own for a program that needs nobody else's: the demo (a program started with
//! no arguments runs its own server and its own clients). Outside a demo, the checker must reach
//! the program's server, so the program shares the machine's loopback and Landlock limits its TCP
//! `connect` to the ports its check names; a demo connects to its own server's free port, known
//! only once it runs, so it gets a network namespace instead: its own loopback, where nothing
//! of the machine's listens — no classmate's server, no teacher's service — and no UDP either.
//!
//! As root, `unshare(CLONE_NEWNET)`; as anyone else, a user namespace first (the kernel grants
//! its creator the right to make a network namespace in it), mapping the user to itself, so the
//! program's files keep their owner. Both run in the forked child before `exec`, with system
//! calls only.

use std::ffi::CStr;
use std::sync::OnceLock;

/// What the child needs to enter its own network: prepared in the parent (no allocation in
/// the child).
pub(super) struct PrivateNetwork {
    as_root: bool,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl PrivateNetwork {
    pub(super) fn new() -> PrivateNetwork {
        // SAFETY: getuid/getgid/geteuid cannot fail and have no preconditions.
        let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
        PrivateNetwork {
            as_root: euid == 0,
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }

    /// In the child, before exec: a network namespace of its own, its loopback up.
    /// Async-signal-safe: system calls on data prepared in the parent.
    pub(super) fn enter(&self) -> std::io::Result<()> {
        let flags = match self.as_root {
            true => libc::CLONE_NEWNET,
            false => libc::CLONE_NEWUSER | libc::CLONE_NEWNET,
        };
        // SAFETY: unshare(2) only changes this (single-threaded, forked) process's namespaces.
        if unsafe { libc::unshare(flags) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if !self.as_root {
            // The kernel requires setgroups to be denied before an unprivileged gid_map.
            write_proc(c"/proc/self/setgroups", b"deny")?;
            write_proc(c"/proc/self/uid_map", &self.uid_map)?;
            write_proc(c"/proc/self/gid_map", &self.gid_map)?;
        }
        loopback_up()
    }
}

/// Whether this kernel lets us make a private network (tried once, in a forked child).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let network = PrivateNetwork::new();
        // SAFETY: the child only makes system calls (unshare, open, write, socket, ioctl) and
        // `_exit`s; the parent waits for it.
        unsafe {
            match libc::fork() {
                -1 => false,
                0 => libc::_exit(i32::from(network.enter().is_err())),
                child => {
                    let mut status = 0;
                    libc::waitpid(child, &mut status, 0) == child
                        && libc::WIFEXITED(status)
                        && libc::WEXITSTATUS(status) == 0
                }
            }
        }
    })
}

fn write_proc(path: &CStr, bytes: &[u8]) -> std::io::Result<()> {
    // SAFETY: open/write/close on a valid C string and a live buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        match written == bytes.len() as isize {
            true => Ok(()),
            false => Err(std::io::Error::last_os_error()),
        }
    }
}

/// `ip link set lo up`: a new network namespace starts with its loopback down.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a socket for the ioctls, a zeroed `ifreq` naming `lo`, closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        let mut done = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) == 0;
        if done {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            done = libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) == 0;
        }
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        match done {
            true => Ok(()),
            false => Err(error),
        }
    }
}
