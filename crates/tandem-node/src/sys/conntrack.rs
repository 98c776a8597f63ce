//! The kernel's connection-tracking table over ctnetlink (placeholder
//! until the driver lands).

use std::io;

use crate::conntrack::{Entry, Event};

/// A ctnetlink socket.
#[derive(Debug)]
pub struct Conntrack {}

impl Conntrack {
    /// Opens a socket in the current network namespace.
    pub fn open() -> io::Result<Conntrack> {
        Err(io::Error::other("ctnetlink is not built in yet"))
    }

    /// Every entry.
    pub fn dump(&mut self) -> io::Result<Vec<Entry>> {
        Ok(Vec::new())
    }

    /// Creates (or updates) entries; the index and error of each refused.
    pub fn create(&mut self, entries: &[Entry]) -> Vec<(usize, io::Error)> {
        let _ = entries;
        Vec::new()
    }
}

/// The table's event follower.
#[derive(Debug)]
pub struct Events {}

impl Events {
    /// Subscribes to new, update and destroy events.
    pub fn subscribe() -> io::Result<Events> {
        Err(io::Error::other("ctnetlink is not built in yet"))
    }

    /// The events of one read (`ENOBUFS`: events were lost).
    pub fn recv(&mut self) -> io::Result<Vec<Event>> {
        Ok(Vec::new())
    }
}
