//! Per-room ordering.

use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::rooms::RoomName;

/// One lock per stripe of rooms. Storing and broadcasting a message happen
/// under its room's lock, so every member receives a room's messages in id
/// order; a join takes it too, so the history it returns and the broadcasts
/// that follow neither overlap nor leave a gap. Striping keeps memory fixed
/// however many rooms exist.
#[derive(Clone)]
pub struct RoomLocks {
    stripes: Arc<[Arc<Mutex<()>>]>,
}

const STRIPES: usize = 64;

impl Default for RoomLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }
}

impl RoomLocks {
    pub async fn lock(&self, room: &RoomName) -> OwnedMutexGuard<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(room);
        let stripe = (hash % STRIPES as u64) as usize;
        self.stripes[stripe].clone().lock_owned().await
    }
}
