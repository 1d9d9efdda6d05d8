//! [`BaseRef`]: a named registry of objects that leave it when they are torn down.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::base::Base;
use crate::util::lock;

/// Named objects, each with a [`Base`]: an object leaves the registry when its base is torn
/// down (only if the entry still holds that same object).
///
/// The CryoCell keeps its tanks in one.
pub struct BaseRef<T> {
    items: Arc<Mutex<BTreeMap<String, (Base, T)>>>,
}

impl<T> Clone for BaseRef<T> {
    fn clone(&self) -> Self {
        Self {
            items: Arc::clone(&self.items),
        }
    }
}

impl<T> Default for BaseRef<T> {
    fn default() -> Self {
        Self {
            items: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }
}

impl<T: Clone + Send + 'static> BaseRef<T> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Store `item` (whose lifecycle is `base`) under `name`.
    pub fn put(&self, name: &str, base: &Base, item: T) {
        lock(&self.items).insert(name.to_owned(), (base.clone(), item));
        let items = Arc::downgrade(&self.items);
        let name = name.to_owned();
        // Weak, so the handler stored in the base does not keep the base alive.
        let me = Arc::downgrade(&base.inner);
        base.on_fini(move || async move {
            if let Some(items) = items.upgrade() {
                let mut items = lock(&items);
                if items
                    .get(&name)
                    .is_some_and(|(have, _)| std::ptr::eq(Arc::as_ptr(&have.inner), me.as_ptr()))
                {
                    items.remove(&name);
                }
            }
        });
    }

    /// The object named `name`.
    pub fn get(&self, name: &str) -> Option<T> {
        lock(&self.items).get(name).map(|(_, item)| item.clone())
    }

    /// Remove and return the object named `name` (it is not torn down).
    pub fn pop(&self, name: &str) -> Option<T> {
        lock(&self.items).remove(name).map(|(_, item)| item)
    }

    /// A snapshot of the names and objects.
    pub fn items(&self) -> Vec<(String, T)> {
        lock(&self.items)
            .iter()
            .map(|(name, (_, item))| (name.clone(), item.clone()))
            .collect()
    }

    /// How many objects are held.
    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    /// True when no object is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object named `name` with one more reference taken on its base, or a new one made by
    /// `ctor` and stored. Each call must be matched by a `fini` of the object's base.
    pub async fn get_or_make<F, Fut, E>(&self, name: &str, ctor: F) -> Result<T, E>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<(Base, T), E>>,
    {
        if let Some((base, item)) = lock(&self.items).get(name) {
            base.incref();
            return Ok(item.clone());
        }
        let (base, item) = ctor(name.to_owned()).await?;
        self.put(name, &base, item.clone());
        Ok(item)
    }

    /// Tear down every held object, concurrently.
    pub async fn fini_all(&self) {
        let bases: Vec<Base> = lock(&self.items)
            .values()
            .map(|(base, _)| base.clone())
            .collect();
        futures::future::join_all(bases.iter().map(Base::fini)).await;
    }
}
