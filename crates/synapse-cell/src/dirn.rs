//! The cell directory: `cell.guid` (written at first boot, locked while the cell runs),
//! `slabs/`, `certs/`, `tmp/`, `cookie.secret`, and the HTTPS certificate files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{ErrKind, Error, Result};
use crate::value::is_guid;

/// An open, locked cell directory.
#[derive(Debug)]
pub struct CellDir {
    path: PathBuf,
    iden: String,
    inaugural: bool,
    // Holding the file keeps the exclusive lock until `unlock` or drop.
    lock: std::sync::Mutex<Option<File>>,
}

fn gendir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|err| Error::io("cannot create directory", path, err))
}

impl CellDir {
    /// Open (creating if needed) and lock the cell directory of a `celltype` cell.
    ///
    /// At first boot `cell.guid` is written with `guid` (the `cell:guid` directive) or a
    /// random iden. A second process on the same directory fails with `FatalErr`.
    pub fn open(path: &Path, celltype: &str, guid: Option<&str>) -> Result<Self> {
        gendir(path)?;
        let path = path
            .canonicalize()
            .map_err(|err| Error::io("cannot resolve", path, err))?;
        for sub in ["slabs", "certs", "sockets"] {
            gendir(&path.join(sub))?;
        }
        let guidpath = path.join("cell.guid");
        let inaugural = !guidpath.is_file();
        if inaugural {
            let iden = match guid {
                Some(iden) if is_guid(iden) => iden.to_string(),
                Some(iden) => {
                    return Err(Error::new(
                        ErrKind::BadConfValu,
                        format!("cell:guid must be a 32 character lowercase hex iden, not {iden}"),
                    )
                    .with("name", "cell:guid"));
                }
                None => synapse_base::guid(),
            };
            // Write to a temporary file then rename, so a crash never leaves an empty guid.
            let tmp = path.join("cell.guid.tmp");
            std::fs::write(&tmp, iden.as_bytes())
                .map_err(|err| Error::io("cannot write", &tmp, err))?;
            std::fs::rename(&tmp, &guidpath)
                .map_err(|err| Error::io("cannot write", &guidpath, err))?;
        }
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&guidpath)
            .map_err(|err| Error::io("cannot open", &guidpath, err))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    ErrKind::FatalErr,
                    format!("Cannot start the {celltype}, another process is already running it."),
                ));
            }
            Err(TryLockError::Error(err)) => return Err(Error::io("cannot lock", &guidpath, err)),
        }
        let mut text = String::new();
        lock.read_to_string(&mut text)
            .map_err(|err| Error::io("cannot read", &guidpath, err))?;
        let iden = text.trim().to_string();
        if iden.is_empty() {
            return Err(Error::new(
                ErrKind::FatalErr,
                format!("{} is empty", guidpath.display()),
            ));
        }
        // Clear scratch space left from a previous run.
        let tmpdir = path.join("tmp");
        if tmpdir.exists() {
            let _ = std::fs::remove_dir_all(&tmpdir);
        }
        gendir(&tmpdir)?;
        Ok(Self {
            path,
            iden,
            inaugural,
            lock: std::sync::Mutex::new(Some(lock)),
        })
    }

    /// Release the lock on `cell.guid` (at teardown), so another process may open the cell.
    pub fn unlock(&self) {
        let lock = self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(file) = lock {
            let _ = file.unlock();
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cell iden (contents of `cell.guid`).
    pub fn iden(&self) -> &str {
        &self.iden
    }

    /// True at the first boot (no `cell.guid` before).
    pub fn is_inaugural(&self) -> bool {
        self.inaugural
    }

    /// A path inside the directory.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// The HTTP cookie secret (`cookie.secret`, a random guid made at first use).
    pub fn cookie_secret(&self) -> Result<String> {
        let path = self.join("cookie.secret");
        if !path.is_file() {
            let mut fd = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|err| Error::io("cannot create", &path, err))?;
            restrict(&fd);
            fd.write_all(synapse_base::guid().as_bytes())
                .map_err(|err| Error::io("cannot write", &path, err))?;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|err| Error::io("cannot read", &path, err))?;
        Ok(text.trim().to_string())
    }
}

/// Make a secret file readable by its owner only.
pub(crate) fn restrict(fd: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fd.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    #[cfg(not(unix))]
    let _ = fd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_written_once_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cell");
        let iden = "a".repeat(32);
        let first = CellDir::open(&path, "cell", Some(&iden)).unwrap();
        assert!(first.is_inaugural());
        assert_eq!(first.iden(), iden);
        let err = CellDir::open(&path, "cell", None).unwrap_err();
        assert_eq!(err.kind(), ErrKind::FatalErr);
        assert_eq!(
            err.mesg(),
            "Cannot start the cell, another process is already running it."
        );
        first.unlock();
        let again = CellDir::open(&path, "cell", Some(&"b".repeat(32))).unwrap();
        assert!(!again.is_inaugural());
        assert_eq!(again.iden(), iden);
        assert_eq!(
            std::fs::read_to_string(path.join("cell.guid")).unwrap(),
            iden
        );
        let secret = again.cookie_secret().unwrap();
        assert_eq!(secret, again.cookie_secret().unwrap());
        assert!(path.join("slabs").is_dir());
    }

    #[test]
    fn bad_cell_guid_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = CellDir::open(dir.path(), "cell", Some("nope")).unwrap_err();
        assert_eq!(err.kind(), ErrKind::BadConfValu);
    }
}
