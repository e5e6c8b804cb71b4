//! How many sockets each address has open, so one address cannot hold
//! unbounded server memory with idle connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per address, capped. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionCounts {
    max: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place under its address's cap; given back on drop.
pub struct Place {
    counts: ConnectionCounts,
    ip: IpAddr,
}

impl ConnectionCounts {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<IpAddr, usize>) -> T) -> T {
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// A place for one more connection from `ip`, or `None` at the cap.
    pub fn acquire(&self, ip: IpAddr) -> Option<Place> {
        let admitted = self.with(|counts| {
            let count = counts.entry(ip).or_default();
            if *count >= self.max {
                return false;
            }
            *count += 1;
            true
        });
        admitted.then(|| Place {
            counts: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip` now.
    pub fn open(&self, ip: IpAddr) -> usize {
        self.with(|counts| counts.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.counts.with(|counts| {
            if let Some(count) = counts.get_mut(&self.ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    counts.remove(&self.ip);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_address_and_given_back_on_drop() {
        let counts = ConnectionCounts::new(2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = counts.acquire(a).unwrap();
        let _second = counts.acquire(a).unwrap();
        assert!(counts.acquire(a).is_none());
        assert!(counts.acquire(b).is_some());
        drop(first);
        assert_eq!(counts.open(a), 1);
        assert!(counts.acquire(a).is_some());
    }
}
