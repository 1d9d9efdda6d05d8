//! Python-native lists and dicts. The reference's Storm keeps two kinds of containers: its own
//! `List` and `Dict` objects (made by `([...])`, `({...})`, `$lib.list()`, most library
//! results), printed in Storm's form (`[true, $lib.null]`), and plain Python lists and dicts
//! (tuple literals `(a, b)`, what `$lib.json.load()` and some APIs return), printed as Python
//! prints them (`[True, None]`). Both are one runtime type here; the Python-native ones are
//! remembered in a side table, by identity, for as long as they live.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use indexmap::IndexMap;

use super::value::{Key, Val, lock};

type ListCell = Mutex<Vec<Val>>;
type DictCell = Mutex<IndexMap<Key, Val>>;

/// The native containers, by address, with a weak handle to tell a live one from a reused
/// address.
#[derive(Default)]
struct Table {
    lists: HashMap<usize, Weak<ListCell>>,
    dicts: HashMap<usize, Weak<DictCell>>,
    /// The size after the last sweep of dead entries (the next sweep runs at twice that).
    swept: usize,
}

impl Table {
    fn sweep(&mut self) {
        if self.lists.len() + self.dicts.len() < (self.swept * 2).max(1024) {
            return;
        }
        self.lists.retain(|_, weak| weak.strong_count() > 0);
        self.dicts.retain(|_, weak| weak.strong_count() > 0);
        self.swept = self.lists.len() + self.dicts.len();
    }
}

static NATIVE: LazyLock<Mutex<Table>> = LazyLock::new(Default::default);

/// Mark a list or dict (not what it holds) as Python-native.
pub(crate) fn mark(valu: &Val) {
    let mut table = lock(&NATIVE);
    match valu {
        Val::List(list) => {
            table
                .lists
                .insert(Arc::as_ptr(list) as usize, Arc::downgrade(list));
        }
        Val::Dict(dict) => {
            table
                .dicts
                .insert(Arc::as_ptr(dict) as usize, Arc::downgrade(dict));
        }
        _ => return,
    }
    table.sweep();
}

/// Mark a list or dict and every list and dict inside it.
pub(crate) fn mark_deep(valu: &Val) {
    match valu {
        Val::List(list) => {
            mark(valu);
            for item in lock(list).iter() {
                mark_deep(item);
            }
        }
        Val::Dict(dict) => {
            mark(valu);
            for item in lock(dict).values() {
                mark_deep(item);
            }
        }
        _ => {}
    }
}

/// Whether a list or dict is Python-native.
pub(crate) fn is_native(valu: &Val) -> bool {
    let table = lock(&NATIVE);
    match valu {
        Val::List(list) => table
            .lists
            .get(&(Arc::as_ptr(list) as usize))
            .and_then(Weak::upgrade)
            .is_some_and(|live| Arc::ptr_eq(&live, list)),
        Val::Dict(dict) => table
            .dicts
            .get(&(Arc::as_ptr(dict) as usize))
            .and_then(Weak::upgrade)
            .is_some_and(|live| Arc::ptr_eq(&live, dict)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storm::runtime::value::{new_dict, new_list};

    #[test]
    fn marks_follow_the_container_not_its_contents() {
        let list = new_list(vec![Val::Bool(true), Val::Null]);
        let twin = new_list(vec![Val::Bool(true), Val::Null]);
        assert!(!is_native(&list));
        mark(&list);
        assert!(is_native(&list));
        assert!(is_native(&list.clone()));
        assert!(!is_native(&twin));
        assert_eq!(list.repr(), "[True, None]");
        assert_eq!(twin.repr(), "[true, $lib.null]");
    }

    #[test]
    fn deep_marks_reach_nested_containers() {
        let inner = new_list(vec![Val::Null]);
        let mut items = IndexMap::new();
        items.insert(Key::Str(Arc::from("a")), inner.clone());
        let dict = new_dict(items);
        mark_deep(&dict);
        assert!(is_native(&dict) && is_native(&inner));
        assert_eq!(dict.repr(), "{'a': [None]}");
        assert!(!is_native(&Val::Bool(true)));
    }

    #[test]
    fn dead_entries_are_swept() {
        for _ in 0..3000 {
            mark(&new_list(Vec::new()));
        }
        let table = lock(&NATIVE);
        assert!(table.lists.len() < 3000);
    }
}
