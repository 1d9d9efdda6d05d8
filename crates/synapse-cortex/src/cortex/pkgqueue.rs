//! Package queues (`$lib.pkg.queues(<pkg>)`): persistent queues namespaced by Storm package,
//! in their own [`synapse_slab::MultiQueue`] (`storm:pkg:queue`) of the Cortex slab, each
//! named by the guid of `(package, name)` with `{iden, name, pkgname, created}` as its meta,
//! as the reference's.

use futures::StreamExt;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::{Error, Result};
use synapse_slab::QueueStatus;

use super::Cortex;
use super::stormobjs::slab_error;
use crate::model::value::guid_of;

/// The queue iden of a package queue.
fn iden(pkg: &str, name: &str) -> String {
    guid_of(&Value::Array(vec![Value::from(pkg), Value::from(name)]))
}

impl Cortex {
    /// Add the queue `name` of package `pkg` (`DupName` if it exists).
    pub async fn add_pkg_queue(&self, pkg: &str, name: &str) -> Result<()> {
        let queues = &self.objs.pkgqueues;
        let guid = iden(pkg, name);
        if queues.exists(&guid) {
            return Err(Error::named(
                "DupName",
                format!("Queue named {name} already exists for package {pkg}!"),
            ));
        }
        let info = Value::Map(vec![
            (Value::from("iden"), Value::from(guid.as_str())),
            (Value::from("name"), Value::from(name)),
            (Value::from("pkgname"), Value::from(pkg)),
            (Value::from("created"), Value::from(synapse_base::now_ms())),
        ]);
        queues.add(&guid, info).await.map_err(slab_error)
    }

    /// The status of a package queue (`NoSuchName` if there is none).
    pub fn pkg_queue_status(&self, pkg: &str, name: &str) -> Result<QueueStatus> {
        self.objs
            .pkgqueues
            .status(&iden(pkg, name))
            .map_err(slab_error)
    }

    /// The package queues, of one package or all.
    pub fn pkg_queues(&self, pkg: Option<&str>) -> Vec<QueueStatus> {
        self.objs
            .pkgqueues
            .list()
            .into_iter()
            .filter(|status| {
                pkg.is_none_or(|pkg| {
                    crate::layer::map_get(&status.meta, "pkgname").and_then(Value::as_str)
                        == Some(pkg)
                })
            })
            .collect()
    }

    /// Remove a package queue and its items (`NoSuchName` if there is none).
    pub async fn del_pkg_queue(&self, pkg: &str, name: &str) -> Result<()> {
        let queues = &self.objs.pkgqueues;
        let guid = iden(pkg, name);
        if !queues.exists(&guid) {
            return Err(Error::named(
                "NoSuchName",
                format!("No queue named {name} exists for package {pkg}!"),
            ));
        }
        queues.rem(&guid).await.map_err(slab_error)
    }

    /// Append items; the offset of the first.
    pub async fn pkg_queue_puts(&self, pkg: &str, name: &str, items: Vec<Value>) -> Result<u64> {
        self.objs
            .pkgqueues
            .puts(&iden(pkg, name), items, None)
            .await
            .map_err(slab_error)
    }

    /// `(offset, item)` from `offs` (never culling), at most `size`; with `wait`, waits for
    /// more.
    pub fn pkg_queue_gets(
        &self,
        pkg: &str,
        name: &str,
        offs: u64,
        wait: bool,
        size: Option<usize>,
    ) -> BoxStream<'static, Result<(u64, Value)>> {
        self.objs
            .pkgqueues
            .gets(&iden(pkg, name), offs, size, false, wait)
            .map(|item| item.map_err(slab_error))
            .boxed()
    }

    /// Remove the items up to and including `offs`.
    pub async fn pkg_queue_cull(&self, pkg: &str, name: &str, offs: u64) -> Result<()> {
        self.objs
            .pkgqueues
            .cull(&iden(pkg, name), offs)
            .await
            .map(|_| ())
            .map_err(slab_error)
    }

    /// Remove and return the item at `offs`.
    pub async fn pkg_queue_pop(
        &self,
        pkg: &str,
        name: &str,
        offs: u64,
    ) -> Result<Option<(u64, Value)>> {
        self.objs
            .pkgqueues
            .pop(&iden(pkg, name), offs)
            .await
            .map_err(slab_error)
    }

    /// The number of items of a package queue.
    pub fn pkg_queue_size(&self, pkg: &str, name: &str) -> Option<i64> {
        self.objs.pkgqueues.size(&iden(pkg, name))
    }
}
