//! Name abbreviations: small integer ids for forms, props, tags, tag props, node data names
//! and property names, shared by every layer of a cortex.
//!
//! Sharing one id space across layers makes index keys comparable between layers, so a view
//! merge-sorts lifts by raw key bytes. Each layer stores the names it uses (`abrv` database,
//! id → kind + name) in the same transaction as the rows using them; opening a layer loads
//! them into the shared table.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use crate::layer::Error;

/// An abbreviation id (never 0).
pub(crate) type AbrvId = u32;

/// Kinds of abbreviated names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A form: its primary value index and tag index component.
    Form = b'f',
    /// A secondary or universal prop of a form (`form\0prop`).
    Prop = b'p',
    /// A universal prop across forms (`.created`).
    Univ = b'u',
    /// A tag.
    Tag = b't',
    /// A tag prop (`form\0tag\0prop`, form empty for any form).
    TagProp = b'T',
    /// A node data name.
    Data = b'd',
    /// A relative property or tag prop name inside storage nodes.
    Name = b'n',
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            b'f' => Kind::Form,
            b'p' => Kind::Prop,
            b'u' => Kind::Univ,
            b't' => Kind::Tag,
            b'T' => Kind::TagProp,
            b'd' => Kind::Data,
            b'n' => Kind::Name,
            _ => return None,
        })
    }
}

/// The key of a name in the table: kind byte then the name bytes.
pub(crate) fn key(kind: Kind, parts: &[&str]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(len + 1);
    out.push(kind as u8);
    for (idx, part) in parts.iter().enumerate() {
        if idx > 0 {
            out.push(0);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<crate::nodeedit::FastHasher>>;

#[derive(Default)]
struct Table {
    by_key: FastMap<Box<[u8]>, AbrvId>,
    keys: Vec<Option<Arc<[u8]>>>,
}

/// The cortex-wide abbreviation table.
#[derive(Default)]
pub struct Abrvs {
    table: RwLock<Table>,
    alloc: Mutex<()>,
}

impl std::fmt::Debug for Abrvs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Abrvs").finish_non_exhaustive()
    }
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> T {
    err.into_inner()
}

impl Abrvs {
    /// An empty table.
    pub fn new() -> Self {
        Abrvs::default()
    }

    pub(crate) fn read(&self) -> AbrvReader<'_> {
        AbrvReader {
            table: self.table.read().unwrap_or_else(poisoned),
        }
    }

    /// The id of a name, if any layer uses it.
    pub(crate) fn get(&self, kind: Kind, parts: &[&str]) -> Option<AbrvId> {
        self.read().get(kind, parts)
    }

    /// The id of a name, allocating one.
    pub(crate) fn get_or_alloc(&self, kind: Kind, parts: &[&str]) -> AbrvId {
        let key = key(kind, parts);
        if let Some(id) = self
            .table
            .read()
            .unwrap_or_else(poisoned)
            .by_key
            .get(key.as_slice())
        {
            return *id;
        }
        let _guard = self.alloc.lock().unwrap_or_else(poisoned);
        let mut table = self.table.write().unwrap_or_else(poisoned);
        if let Some(id) = table.by_key.get(key.as_slice()) {
            return *id;
        }
        let id = table.keys.len().max(1) as AbrvId;
        if table.keys.is_empty() {
            table.keys.push(None);
        }
        table.keys.push(Some(Arc::from(key.as_slice())));
        table.by_key.insert(key.into_boxed_slice(), id);
        id
    }

    /// Register a name loaded from a layer. Fails if the layer disagrees with the table.
    pub(crate) fn load(&self, id: AbrvId, name: &[u8]) -> Result<(), Error> {
        if id == 0 || name.is_empty() || Kind::from_byte(name[0]).is_none() {
            return Err(Error::BadStorage(format!("bad abbreviation row {id}")));
        }
        let _guard = self.alloc.lock().unwrap_or_else(poisoned);
        let mut table = self.table.write().unwrap_or_else(poisoned);
        let idx = id as usize;
        if let Some(Some(known)) = table.keys.get(idx) {
            if **known != *name {
                return Err(Error::BadStorage(format!(
                    "abbreviation {id} is used for two names"
                )));
            }
            return Ok(());
        }
        if let Some(other) = table.by_key.get(name)
            && *other != id
        {
            return Err(Error::BadStorage(format!(
                "name of abbreviation {id} already has id {other}"
            )));
        }
        if table.keys.len() <= idx {
            table.keys.resize(idx + 1, None);
        }
        table.keys[idx] = Some(Arc::from(name));
        table.by_key.insert(Box::from(name), id);
        Ok(())
    }

    /// The key bytes of an id.
    pub(crate) fn key_of(&self, id: AbrvId) -> Option<Arc<[u8]>> {
        self.read().key_of(id)
    }
}

/// A read lock on the table, for decoding many rows.
pub(crate) struct AbrvReader<'a> {
    table: RwLockReadGuard<'a, Table>,
}

impl AbrvReader<'_> {
    pub(crate) fn get(&self, kind: Kind, parts: &[&str]) -> Option<AbrvId> {
        self.table.by_key.get(key(kind, parts).as_slice()).copied()
    }

    pub(crate) fn key_of(&self, id: AbrvId) -> Option<Arc<[u8]>> {
        self.table.keys.get(id as usize).cloned().flatten()
    }

    /// The (single part) name of an id of `kind`.
    pub(crate) fn name(&self, kind: Kind, id: AbrvId) -> Result<String, Error> {
        let key = self
            .key_of(id)
            .ok_or_else(|| Error::BadStorage(format!("unknown abbreviation {id}")))?;
        if key.first() != Some(&(kind as u8)) {
            return Err(Error::BadStorage(format!(
                "abbreviation {id} is not of the expected kind"
            )));
        }
        String::from_utf8(key[1..].to_vec())
            .map_err(|_| Error::BadStorage(format!("abbreviation {id} is not utf-8")))
    }
}

/// Ids a write batch uses, to persist the ones new to the layer.
pub(crate) struct BatchAbrvs<'a> {
    pub(crate) abrvs: &'a Abrvs,
    pub(crate) persisted: &'a Mutex<HashSet<AbrvId>>,
    pub(crate) new: Vec<AbrvId>,
    /// Ids already checked in this batch, by key.
    pub(crate) seen: FastMap<Vec<u8>, AbrvId>,
    pub(crate) keybuf: Vec<u8>,
}

impl<'a> BatchAbrvs<'a> {
    pub(crate) fn new(abrvs: &'a Abrvs, persisted: &'a Mutex<HashSet<AbrvId>>) -> Self {
        BatchAbrvs {
            abrvs,
            persisted,
            new: Vec::new(),
            seen: FastMap::default(),
            keybuf: Vec::new(),
        }
    }

    /// The id of a name, noting it for the layer if new there.
    pub(crate) fn id(&mut self, kind: Kind, parts: &[&str]) -> AbrvId {
        self.keybuf.clear();
        self.keybuf.push(kind as u8);
        for (idx, part) in parts.iter().enumerate() {
            if idx > 0 {
                self.keybuf.push(0);
            }
            self.keybuf.extend_from_slice(part.as_bytes());
        }
        if let Some(id) = self.seen.get(self.keybuf.as_slice()) {
            return *id;
        }
        let id = self.abrvs.get_or_alloc(kind, parts);
        let mut persisted = self.persisted.lock().unwrap_or_else(poisoned);
        if persisted.insert(id) {
            self.new.push(id);
        }
        self.seen.insert(self.keybuf.clone(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_shared() {
        let abrvs = Abrvs::new();
        let a = abrvs.get_or_alloc(Kind::Form, &["inet:ipv4"]);
        let b = abrvs.get_or_alloc(Kind::Prop, &["inet:ipv4", "asn"]);
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(abrvs.get_or_alloc(Kind::Form, &["inet:ipv4"]), a);
        assert_eq!(abrvs.get(Kind::Prop, &["inet:ipv4", "asn"]), Some(b));
        assert_eq!(abrvs.get(Kind::Tag, &["inet:ipv4"]), None);
        assert_eq!(abrvs.read().name(Kind::Form, a).unwrap(), "inet:ipv4");
        assert!(abrvs.read().name(Kind::Tag, a).is_err());
    }

    #[test]
    fn loading_checks_consistency() {
        let abrvs = Abrvs::new();
        abrvs.load(7, &key(Kind::Tag, &["foo"])).unwrap();
        abrvs.load(7, &key(Kind::Tag, &["foo"])).unwrap();
        assert!(abrvs.load(7, &key(Kind::Tag, &["bar"])).is_err());
        assert!(abrvs.load(8, &key(Kind::Tag, &["foo"])).is_err());
        assert_eq!(abrvs.get(Kind::Tag, &["foo"]), Some(7));
        let next = abrvs.get_or_alloc(Kind::Tag, &["baz"]);
        assert_eq!(next, 8);
    }
}
