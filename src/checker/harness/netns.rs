//! A network of its own for every check: the program under test and the checker code grading
//! it meet on a private loopback, where nothing else listens — no classmate's server graded at
//! the same time, no service of the teacher's.
//!
//! Linux keeps the network namespace per thread. The thread that runs a check enters a fresh
//! one ([`PrivateNetwork::enter`]); every socket it opens, every thread it starts (the check's
//! clients) and every program it forks (the student's) live there too, so the checks need no
//! change. The thread returns to its old namespace when the guard is dropped (or, where it may
//! not, enters a new one for its next check): a pool thread never carries one student's network
//! to the next.
//!
//! As root, `unshare(CLONE_NEWNET)` needs nothing more. As anyone else the kernel asks for a user
//! namespace first, and a process may make one only while it has a single thread: `grade` makes
//! it at the very start of its `main` ([`own_user_namespace`]), mapping the user to itself, so
//! the files it writes keep their owner. Where neither is possible (a container without
//! `CAP_SYS_ADMIN`, user namespaces disabled, or `cargo test` run by a user), [`available`] says
//! so and the sandbox's warning tells the teacher what is not contained.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;

/// The calling thread's own network, with its loopback up, until dropped.
pub struct PrivateNetwork {
    /// The namespace the thread was in before, to return to.
    previous: Option<OwnedFd>,
}

impl PrivateNetwork {
    /// Move the calling thread (and whatever it starts from now on) into a new network
    /// namespace, its loopback up.
    pub fn enter() -> std::io::Result<PrivateNetwork> {
        let previous = std::fs::File::open("/proc/thread-self/ns/net")
            .ok()
            .map(OwnedFd::from);
        // SAFETY: unshare(2) with CLONE_NEWNET changes only the calling thread's namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Made now, the guard returns the thread to its old network if the loopback fails.
        let network = PrivateNetwork { previous };
        loopback_up()?;
        Ok(network)
    }
}

impl Drop for PrivateNetwork {
    fn drop(&mut self) {
        if let Some(previous) = &self.previous {
            // SAFETY: setns(2) on a namespace file we opened; it changes only this thread.
            // Refused in a user namespace of our own (the old namespace belongs to the
            // machine's): the thread then stays in this one, and its next check makes a new one.
            unsafe { libc::setns(previous.as_raw_fd(), libc::CLONE_NEWNET) };
        }
    }
}

/// Whether a thread of this process can have a network of its own (tried once, on a thread
/// started for the purpose).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::thread::spawn(|| PrivateNetwork::enter().is_ok())
            .join()
            .unwrap_or(false)
    })
}

/// For a user other than root: a user namespace for this whole process, mapping the user and
/// group to themselves (files keep their owner), in which its threads may then make network
/// namespaces. Call it first thing in `main`: the kernel refuses it once a second thread runs.
/// Root needs none, and does nothing; a failure (user namespaces disabled) is left for
/// [`available`] to report.
pub fn own_user_namespace() {
    // SAFETY: getuid/getgid/geteuid cannot fail and have no preconditions.
    let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
    if euid == 0 {
        return;
    }
    // SAFETY: unshare(2) on a process that has one thread (the caller's promise).
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return;
    }
    // The kernel requires setgroups to be denied before an unprivileged gid_map.
    let _ = write_proc(c"/proc/self/setgroups", b"deny")
        .and_then(|()| write_proc(c"/proc/self/uid_map", format!("{uid} {uid} 1\n").as_bytes()))
        .and_then(|()| write_proc(c"/proc/self/gid_map", format!("{gid} {gid} 1\n").as_bytes()));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on the machine's loopback is out of reach from a private network, and a server
    /// there reachable from the same thread (and the threads it starts); the thread returns.
    #[test]
    fn a_private_network_reaches_only_itself() {
        if !available() {
            return;
        }
        let outside = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = outside.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let network = PrivateNetwork::enter().unwrap();
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
            let inside = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = inside.local_addr().unwrap();
            std::thread::spawn(move || std::net::TcpStream::connect(address).unwrap())
                .join()
                .unwrap();
            drop(network);
            assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        })
        .join()
        .unwrap();
    }

    /// `send_in_pieces` waits for the peer to read each piece by reading the peer's receive
    /// queue from the kernel's tables: in a private network, the thread's own tables.
    #[test]
    fn what_a_peer_has_not_read_is_seen_in_a_private_network() {
        use crate::checker::harness::wire::Delivery;
        use std::io::{Read, Write};
        if !available() {
            return;
        }
        std::thread::spawn(|| {
            let _network = PrivateNetwork::enter().unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut theirs, _) = listener.accept().unwrap();
            ours.write_all(b"hello").unwrap();
            // Until the peer's kernel has the bytes, its queue may read 0: wait for 5 (bounded).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while ours.unread_by_peer() != Some(5) && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            assert_eq!(
                ours.unread_by_peer(),
                Some(5),
                "the peer's queue, seen from here"
            );
            theirs.read_exact(&mut [0; 5]).unwrap();
            assert_eq!(ours.unread_by_peer(), Some(0));
        })
        .join()
        .unwrap();
    }
}
