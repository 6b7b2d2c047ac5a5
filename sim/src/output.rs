//! Writing result files so that nothing written is lost: each file is written beside its final
//! path under a temporary name ([`Pending`]) and renamed into place once complete, so a reader
//! never sees half a file and an interrupted run never destroys an earlier result. A run's
//! files are renamed together once all are written ([`commit_all`]); a temporary file is removed
//! on every error path (and by unwinding), and one left by a killed process is removed by the
//! next run into the directory, which holds the directory alone while it writes ([`DirLock`]).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written under a temporary name beside its path: it appears at its path only on
/// [`Pending::commit`], and the temporary file is removed if it is dropped before.
pub struct Pending {
    path: PathBuf,
    tmp: Option<PathBuf>,
}

impl Pending {
    /// A file to be written at `path` (its directory must exist); nothing is created yet.
    pub fn new(path: &Path) -> Pending {
        Pending { path: path.to_path_buf(), tmp: Some(temp_path(path)) }
    }

    /// `bytes`, written under the temporary name ([`Pending::commit`] syncs them).
    pub fn write(path: &Path, bytes: &[u8]) -> io::Result<Pending> {
        let pending = Pending::new(path);
        File::create(pending.tmp())?.write_all(bytes)?;
        Ok(pending)
    }

    /// The temporary name it is written under.
    pub fn tmp(&self) -> &Path {
        self.tmp
            .as_deref()
            .expect("invariant: a pending file has its temporary name until committed")
    }

    /// Syncs the temporary file and renames it into place.
    pub fn commit(mut self) -> io::Result<()> {
        let tmp = self.tmp.take().expect("invariant: committed once");
        let done =
            File::open(&tmp).and_then(|f| f.sync_all()).and_then(|()| fs::rename(&tmp, &self.path));
        if done.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        done
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Renames every file of `files` into place, in order, once all of them are written: an error
/// while a run writes its outputs replaces none of the old ones. The renames themselves follow
/// one another; if one fails (which a local file system all but rules out, once the files are
/// written), those before it are replaced and the files not yet renamed are removed.
pub fn commit_all(files: impl IntoIterator<Item = Pending>) -> io::Result<()> {
    files.into_iter().try_for_each(Pending::commit)
}

/// A file being written through a buffer; it appears at its path only on [`AtomicFile::commit`],
/// and its temporary file is removed if it is dropped before.
pub struct AtomicFile {
    pending: Pending,
    writer: BufWriter<File>,
}

impl AtomicFile {
    /// Starts writing `path` (its directory must exist).
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let pending = Pending::new(path);
        let writer = BufWriter::new(File::create(pending.tmp())?);
        Ok(AtomicFile { pending, writer })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> io::Result<()> {
        self.writer.into_inner().map_err(io::IntoInnerError::into_error)?;
        self.pending.commit()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// An exclusive hold on a directory for as long as it lives: a [`File::lock`] on a lock file in
/// it, released when the value is dropped or the process exits, however it exits.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    /// Holds `dir` (which must exist) through its lock file `name`: `None` at once if another
    /// process (or another `DirLock` of this one) holds it.
    pub fn try_hold(dir: &Path, name: &str) -> io::Result<Option<DirLock>> {
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(name))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DirLock(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Holds the output directory `dir` (through its `.boltsim.lock`) for `what` (e.g. "run");
    /// fails at once if another process holds it.
    pub fn acquire(dir: &Path, what: &str) -> io::Result<DirLock> {
        DirLock::try_hold(dir, ".boltsim.lock")?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("another boltsim {what} is writing into {} now", dir.display()),
            )
        })
    }
}

/// Removes the temporary files that a killed process left in `dir` for the files whose names `of`
/// accepts (call it while holding the directory's [`DirLock`]).
pub fn remove_stale_temps(dir: &Path, of: impl Fn(&str) -> bool) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        // `NAME.PID.tmp`, as [`temp_path`] makes them.
        let target = name
            .strip_suffix(".tmp")
            .and_then(|rest| rest.rsplit_once('.'))
            .filter(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if target.is_some_and(|(file, _)| of(file)) {
            fs::remove_file(dir.join(&*name))?;
        }
    }
    Ok(())
}

/// An in-memory writer whose bytes stay readable after the writer is handed away (for traces
/// kept in memory by tests and by `verify`).
#[derive(Clone, Default)]
pub struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// A copy of the bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().expect("invariant: no writer panics while holding the buffer").clone()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("invariant: no writer panics while holding the buffer")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The temporary name `path` is written under: beside it, with this process's id.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    Pending::write(path, bytes)?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_appears_only_when_committed() {
        let dir = std::env::temp_dir().join(format!("boltsim-output-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.txt");
        fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        file.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        fs::remove_dir_all(&dir).unwrap();
    }
}
