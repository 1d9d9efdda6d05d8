//! Integration tests of synapse-base: every behaviour of the Base spec, observed from outside.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod baseref;
mod events;
mod lifecycle;
mod tasks;

use std::sync::{Arc, Mutex};

/// A shared log that handlers append to, to observe order.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, item: impl Into<String>) {
        self.0.lock().unwrap().push(item.into());
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}
