//! Model-based property tests: random operations on a slab and on a `BTreeMap` / `BTreeSet`,
//! then every kind of scan compared.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use synapse_slab::{Db, DbOptions, Error, Scan, Slab, SlabOptions};

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    DeleteDup(Vec<u8>, Vec<u8>),
    Pop(Vec<u8>),
    Commit,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, b'a', 0x7f, 0xfe, 0xff]),
        1..4,
    )
}

fn val() -> impl Strategy<Value = Vec<u8>> {
    // Dupsort values are LMDB keys: 1 to 511 bytes.
    prop::collection::vec(prop::sample::select(vec![0x00u8, b'x', 0xff]), 1..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), val()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => key().prop_map(Op::Delete),
        1 => (key(), val()).prop_map(|(k, v)| Op::DeleteDup(k, v)),
        1 => key().prop_map(Op::Pop),
        1 => Just(Op::Commit),
    ]
}

fn open() -> (tempfile::TempDir, Slab) {
    let dir = tempfile::tempdir().unwrap();
    let slab = Slab::open_blocking(dir.path().join("m.lmdb"), SlabOptions::default()).unwrap();
    (dir, slab)
}

fn rows(slab: &Slab, db: Db, scan: Scan) -> Vec<(Vec<u8>, Vec<u8>)> {
    slab.read_blocking(move |txn| {
        let mut out = Vec::new();
        for row in txn.scan(db, scan)? {
            let (key, val) = row?;
            out.push((key.to_vec(), val.to_vec()));
        }
        Ok::<_, Error>(out)
    })
    .unwrap()
}

fn range_fwd(key: &[u8], min: &[u8], max: &[u8]) -> bool {
    key >= min && &key[..key.len().min(max.len())] <= max
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn plain_db_matches_a_btreemap(
        ops in prop::collection::vec(op(), 1..60),
        probe in key(),
        probe2 in key(),
    ) {
        let (_dir, slab) = open();
        let db = slab.initdb_blocking("db", DbOptions::default()).unwrap();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    model.insert(k.clone(), v.clone());
                    slab.write_blocking(move |txn| txn.put(db, &k, &v)).unwrap();
                }
                Op::Delete(k) => {
                    let want = model.remove(&k).is_some();
                    let got = slab.write_blocking(move |txn| txn.delete(db, &k, None)).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::DeleteDup(k, v) => {
                    let want = model.get(&k) == Some(&v);
                    if want { model.remove(&k); }
                    let got = slab.write_blocking(move |txn| txn.delete(db, &k, Some(&v))).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::Pop(k) => {
                    let want = model.remove(&k);
                    let got = slab.write_blocking(move |txn| txn.pop(db, &k)).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::Commit => slab.commit_blocking().unwrap(),
            }
        }
        let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let rev = |v: &Vec<(Vec<u8>, Vec<u8>)>| v.iter().rev().cloned().collect::<Vec<_>>();
        prop_assert_eq!(rows(&slab, db, Scan::full()), all.clone());
        prop_assert_eq!(rows(&slab, db, Scan::full().back()), rev(&all));

        let pref: Vec<_> = all.iter().filter(|(k, _)| k.starts_with(&probe)).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::prefix(&probe)), pref.clone());
        prop_assert_eq!(rows(&slab, db, Scan::prefix(&probe).back()), rev(&pref));

        let (lo, hi) = if probe <= probe2 { (&probe, &probe2) } else { (&probe2, &probe) };
        let fwd: Vec<_> = all.iter().filter(|(k, _)| range_fwd(k, lo, hi)).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::range(lo, Some(hi))), fwd);
        let back: Vec<_> = all.iter().rev().filter(|(k, _)| k <= hi && k >= lo).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::range_back(Some(hi), Some(lo))), back);

        let after: Vec<_> = all.iter().filter(|(k, _)| k > &probe).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::full().after_key(&probe)), after);
        let before: Vec<_> = all.iter().rev().filter(|(k, _)| k < &probe).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::full().back().after_key(&probe)), before);

        futures::executor::block_on(slab.fini());
    }

    #[test]
    fn dupsort_db_matches_a_btreeset(
        ops in prop::collection::vec(op(), 1..60),
        probe in key(),
        probe_val in val(),
    ) {
        let (_dir, slab) = open();
        let db = slab.initdb_blocking("db", DbOptions::dupsort()).unwrap();
        let mut model: BTreeSet<(Vec<u8>, Vec<u8>)> = BTreeSet::new();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    let want = model.insert((k.clone(), v.clone()));
                    let got = slab.write_blocking(move |txn| txn.put(db, &k, &v)).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::Delete(k) | Op::Pop(k) => {
                    let before = model.len();
                    model.retain(|(key, _)| key != &k);
                    let got = slab.write_blocking(move |txn| txn.delete(db, &k, None)).unwrap();
                    prop_assert_eq!(got, before != model.len());
                }
                Op::DeleteDup(k, v) => {
                    let want = model.remove(&(k.clone(), v.clone()));
                    let got = slab.write_blocking(move |txn| txn.delete(db, &k, Some(&v))).unwrap();
                    prop_assert_eq!(got, want);
                }
                Op::Commit => slab.commit_blocking().unwrap(),
            }
        }
        let all: Vec<_> = model.iter().cloned().collect();
        let rev = |v: &Vec<(Vec<u8>, Vec<u8>)>| v.iter().rev().cloned().collect::<Vec<_>>();
        prop_assert_eq!(rows(&slab, db, Scan::full()), all.clone());
        prop_assert_eq!(rows(&slab, db, Scan::full().back()), rev(&all));
        let dups: Vec<_> = all.iter().filter(|(k, _)| k == &probe).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::dups(&probe)), dups.clone());
        prop_assert_eq!(rows(&slab, db, Scan::dups(&probe).back()), rev(&dups));
        let pivot = (probe.clone(), probe_val.clone());
        let after: Vec<_> = all.iter().filter(|row| *row > &pivot).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::full().after(&probe, &probe_val)), after);
        let before: Vec<_> = all.iter().rev().filter(|row| *row < &pivot).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::full().back().after(&probe, &probe_val)), before);
        let pref: Vec<_> = all.iter().filter(|(k, _)| k.starts_with(&probe)).cloned().collect();
        prop_assert_eq!(rows(&slab, db, Scan::prefix(&probe).back()), rev(&pref));
        let keys: Vec<Vec<u8>> = model.iter().map(|(k, _)| k.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let got: Vec<Vec<u8>> = rows(&slab, db, Scan::full().nodup()).into_iter().map(|(k, _)| k).collect();
        prop_assert_eq!(got, keys.clone());
        let got: Vec<Vec<u8>> = rows(&slab, db, Scan::full().nodup().back()).into_iter().map(|(k, _)| k).collect();
        prop_assert_eq!(got, keys.into_iter().rev().collect::<Vec<_>>());
        futures::executor::block_on(slab.fini());
    }
}
