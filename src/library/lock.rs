//! The data directory's lock: one process at a time owns a library's in-process files.
//!
//! The lock is an OS advisory lock (`flock(2)` through [`std::fs::File::try_lock`]) on
//! `DIR/skillforge.lock`. The file also records who holds it ([`LockHolder`]: pid, command
//! line, start time) so that a process that finds the library busy can say by whom. The OS
//! releases the lock when its holder exits, however it exits: a file left behind by a
//! `kill -9` is stale, and the next process simply takes the lock and rewrites it. The file
//! is never deleted (deleting a locked file lets two processes lock two different files of
//! the same name); a holder that closes normally empties it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{LibraryError, Result};

/// Name of the lock file in the data directory.
pub const LOCK_FILE: &str = "skillforge.lock";

/// How often a waiting process tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// Who holds a data directory's lock, as its holder recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// Process id.
    pub pid: u32,
    /// Its command line (credentials in URLs replaced by `***`).
    pub command: String,
    /// When it took the lock.
    pub since: DateTime<Utc>,
}

impl LockHolder {
    /// This process, now.
    fn current() -> LockHolder {
        LockHolder {
            pid: std::process::id(),
            command: std::env::args()
                .map(|arg| redact_credentials(&arg))
                .collect::<Vec<_>>()
                .join(" "),
            since: Utc::now(),
        }
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} (`{}`, since {})",
            self.pid,
            self.command,
            self.since.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// The held lock of a data directory; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `dir` if no other process (or other handle in this process) holds
    /// it; otherwise returns who holds it (`None` inside when the holder has not recorded
    /// itself yet). A stale file left by a dead process does not count: its lock is gone.
    pub fn try_acquire(dir: &Path) -> Result<Result<DataDirLock, Option<LockHolder>>> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LibraryError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(Err(Self::holder(dir))),
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        if let Some(stale) = Self::holder(dir) {
            tracing::debug!("recovering the lock of {} left by {stale}", dir.display());
        }
        let mut lock = DataDirLock {
            file,
            path: path.clone(),
        };
        lock.record(&LockHolder::current()).map_err(io)?;
        Ok(Ok(lock))
    }

    /// Takes the lock of `dir`, waiting up to `timeout` for its holder to release it.
    /// `on_wait` is called once, with the holder, when the lock is busy at the first try.
    /// Fails with [`LibraryError::Busy`] when the wait times out.
    pub fn acquire(
        dir: &Path,
        timeout: Duration,
        mut on_wait: impl FnMut(Option<&LockHolder>),
    ) -> Result<DataDirLock> {
        let start = Instant::now();
        let mut waited = false;
        loop {
            let holder = match Self::try_acquire(dir)? {
                Ok(lock) => return Ok(lock),
                Err(holder) => holder,
            };
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Err(LibraryError::Busy {
                    data_dir: dir.to_path_buf(),
                    holder: holder.map(Box::new),
                    waited: elapsed,
                });
            }
            if !waited {
                on_wait(holder.as_ref());
                waited = true;
            }
            std::thread::sleep(RETRY_EVERY.min(timeout - elapsed));
        }
    }

    /// Who holds (or last held) the lock of `dir`, as recorded in its lock file; `None` when
    /// the file is missing, empty (released) or being written.
    pub fn holder(dir: &Path) -> Option<LockHolder> {
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, holder: &LockHolder) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let text = serde_json::to_string(holder).expect("a lock holder serializes");
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Say nobody holds it; closing the file releases the lock itself.
        if let Err(e) = self.file.set_len(0) {
            tracing::debug!("emptying {}: {e}", self.path.display());
        }
    }
}

/// `scheme://user:password@host...` -> `scheme://***@host...`; other text unchanged.
fn redact_credentials(arg: &str) -> String {
    let Some(scheme_end) = arg.find("://") else {
        return arg.to_string();
    };
    let rest = &arg[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://***{}", &arg[..scheme_end], &rest[at..]),
        None => arg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_holder_and_names_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::try_acquire(dir.path()).unwrap().unwrap();
        // flock locks belong to an open file, so a second open in this process conflicts
        // like another process would.
        let holder = DataDirLock::try_acquire(dir.path())
            .unwrap()
            .expect_err("the lock is held");
        let holder = holder.expect("the holder recorded itself");
        assert_eq!(holder.pid, std::process::id());
        assert!(!holder.command.is_empty());
        assert_eq!(DataDirLock::holder(dir.path()), Some(holder));
        drop(first);
        assert_eq!(
            DataDirLock::holder(dir.path()),
            None,
            "released: file emptied"
        );
        let again = DataDirLock::try_acquire(dir.path()).unwrap();
        assert!(again.is_ok(), "released locks can be taken again");
    }

    #[test]
    fn a_stale_file_from_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let dead = LockHolder {
            pid: 999_999,
            command: "skillforge run".into(),
            since: Utc::now(),
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let lock = DataDirLock::acquire(dir.path(), Duration::ZERO, |_| {
            panic!("a stale file must not make anyone wait")
        })
        .unwrap();
        let now = DataDirLock::holder(dir.path()).unwrap();
        assert_eq!(now.pid, std::process::id());
        assert_eq!(lock.path(), dir.path().join(LOCK_FILE));
    }

    #[test]
    fn a_busy_lock_times_out_with_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DataDirLock::try_acquire(dir.path()).unwrap().unwrap();
        let mut told = Vec::new();
        let err = DataDirLock::acquire(dir.path(), Duration::ZERO, |h| told.push(h.cloned()))
            .unwrap_err();
        assert!(told.is_empty(), "a zero timeout fails at once");
        match &err {
            LibraryError::Busy { holder, .. } => {
                assert_eq!(holder.as_ref().unwrap().pid, std::process::id())
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains(&std::process::id().to_string()),
            "{message}"
        );
        assert!(message.contains("--data-dir"), "{message}");
        assert!(!message.contains("damaged"), "{message}");
    }

    #[test]
    fn a_waiter_is_told_who_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DataDirLock::try_acquire(dir.path()).unwrap().unwrap();
        let mut told = Vec::new();
        let result = DataDirLock::acquire(dir.path(), Duration::from_millis(300), |h| {
            told.push(h.map(|h| h.pid))
        });
        assert!(matches!(result, Err(LibraryError::Busy { .. })));
        assert_eq!(told, vec![Some(std::process::id())]);
    }

    #[test]
    fn credentials_in_urls_are_not_recorded() {
        assert_eq!(
            redact_credentials("postgres://me:secret@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(redact_credentials("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_credentials("--json"), "--json");
    }
}
