//! Where uploaded files live: the `FileStore` trait, and `LocalFiles`, a
//! directory on disk (`--files-dir`, by default `files/` in the data
//! directory).
//!
//! An upload is first written to a staging file (`Staged`, in the store's
//! local staging directory) while it arrives, so its size is checked as it
//! streams and nothing is kept in memory; once it has been checked, `put`
//! hands it to the store under its random id. Another backend (an object
//! store) implements the same three calls; its staging directory is then
//! any local one.
//!
//! On disk: `<dir>/<first two characters of the id>/<id>` and, for an
//! image, `<id>.thumb`, files `0600` in directories `0700`. No name a
//! client sent is ever part of a path.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::AsyncRead;

use super::FileId;

/// The file itself, or its thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumb,
}

/// A stored file, opened for reading.
pub struct Opened {
    pub len: u64,
    pub body: Pin<Box<dyn AsyncRead + Send>>,
}

/// Storage for files by id. Every call is one step: there is nothing to
/// open or close.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// The local directory uploads are staged in while they arrive.
    fn staging(&self) -> &Path;
    /// Stores the staged file under `id` (it is moved, or copied and
    /// removed).
    async fn put(&self, id: &FileId, variant: Variant, staged: Staged) -> io::Result<()>;
    /// The file stored under `id`, `None` if there is none.
    async fn get(&self, id: &FileId, variant: Variant) -> io::Result<Option<Opened>>;
    /// Removes the file stored under `id`; fine if there was none.
    async fn delete(&self, id: &FileId, variant: Variant) -> io::Result<()>;
}

/// Files in a local directory (which every node must share, see
/// docs/deploy.md).
pub struct LocalFiles {
    dir: PathBuf,
    staging: PathBuf,
}

impl LocalFiles {
    /// The store in `dir`, created if missing, private to this user.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let staging = dir.join("staging");
        std::fs::create_dir_all(&staging)?;
        private_dir(dir)?;
        private_dir(&staging)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            staging,
        })
    }

    fn path(&self, id: &FileId, variant: Variant) -> PathBuf {
        let id = id.as_str();
        let name = match variant {
            Variant::Original => id.to_owned(),
            Variant::Thumb => format!("{id}.thumb"),
        };
        self.dir.join(&id[..2]).join(name)
    }
}

#[async_trait]
impl FileStore for LocalFiles {
    fn staging(&self) -> &Path {
        &self.staging
    }

    async fn put(&self, id: &FileId, variant: Variant, staged: Staged) -> io::Result<()> {
        let to = self.path(id, variant);
        if let Some(shard) = to.parent() {
            tokio::fs::create_dir_all(shard).await?;
            private_dir(shard)?;
        }
        // The staging directory is inside this one: a rename, atomic, so a
        // reader sees the whole file or none.
        tokio::fs::rename(staged.path(), &to).await?;
        staged.forget();
        Ok(())
    }

    async fn get(&self, id: &FileId, variant: Variant) -> io::Result<Option<Opened>> {
        let file = match tokio::fs::File::open(self.path(id, variant)).await {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let len = file.metadata().await?.len();
        Ok(Some(Opened {
            len,
            body: Box::pin(file),
        }))
    }

    async fn delete(&self, id: &FileId, variant: Variant) -> io::Result<()> {
        match tokio::fs::remove_file(self.path(id, variant)).await {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

/// A staging file: removed when dropped unless a store took it, so an
/// upload refused half-way (too large, too slow, the client gone) leaves
/// nothing behind.
#[derive(Debug)]
pub struct Staged {
    path: Option<PathBuf>,
}

impl Staged {
    /// A new empty staging file in `dir`, under a random name, `0600`.
    pub async fn create(dir: &Path) -> io::Result<(Self, tokio::fs::File)> {
        let path = dir.join(format!("{}.part", FileId::random().as_str()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await?;
        Ok((Self { path: Some(path) }, file))
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The file has moved on: nothing to remove.
    fn forget(mut self) {
        self.path = None;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes staging files older than `age`: what a crash or a kill left
/// (an upload in progress is younger, being bounded by its timeout).
/// Returns how many. Blocking: for `spawn_blocking`.
pub fn clear_staging(dir: &Path, age: Duration) -> io::Result<usize> {
    let mut removed = 0;
    let now = SystemTime::now();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        if now.duration_since(modified).unwrap_or_default() >= age
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(unix)]
fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn staged(store: &LocalFiles, bytes: &[u8]) -> Staged {
        let (staged, mut file) = Staged::create(store.staging()).await.unwrap();
        file.write_all(bytes).await.unwrap();
        file.flush().await.unwrap();
        staged
    }

    #[tokio::test]
    async fn a_file_put_under_an_id_is_read_back_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFiles::open(dir.path()).unwrap();
        let id = FileId::random();
        store
            .put(&id, Variant::Original, staged(&store, b"hello").await)
            .await
            .unwrap();
        let mut opened = store.get(&id, Variant::Original).await.unwrap().unwrap();
        assert_eq!(opened.len, 5);
        let mut read = String::new();
        opened.body.read_to_string(&mut read).await.unwrap();
        assert_eq!(read, "hello");
        assert!(store.get(&id, Variant::Thumb).await.unwrap().is_none());
        store.delete(&id, Variant::Original).await.unwrap();
        assert!(store.get(&id, Variant::Original).await.unwrap().is_none());
        store.delete(&id, Variant::Original).await.unwrap();
    }

    #[tokio::test]
    async fn the_name_on_disk_is_the_id_and_the_staging_file_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFiles::open(dir.path()).unwrap();
        let id = FileId::random();
        store
            .put(&id, Variant::Thumb, staged(&store, b"x").await)
            .await
            .unwrap();
        let path = dir
            .path()
            .join(&id.as_str()[..2])
            .join(format!("{}.thumb", id.as_str()));
        assert!(path.exists());
        assert_eq!(std::fs::read_dir(store.staging()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_staging_file_dropped_before_it_is_stored_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFiles::open(dir.path()).unwrap();
        let file = staged(&store, b"half an upload").await;
        assert_eq!(std::fs::read_dir(store.staging()).unwrap().count(), 1);
        drop(file);
        assert_eq!(std::fs::read_dir(store.staging()).unwrap().count(), 0);
    }

    #[test]
    fn old_staging_files_are_cleared_and_new_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.part"), b"x").unwrap();
        assert_eq!(
            clear_staging(dir.path(), Duration::from_secs(3600)).unwrap(),
            0
        );
        assert_eq!(clear_staging(dir.path(), Duration::ZERO).unwrap(), 1);
    }
}
