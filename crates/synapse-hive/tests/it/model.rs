//! Property test: random sets and pops against a model of the stored rows; a reload sees the
//! same tree.

use std::collections::BTreeMap;

use proptest::prelude::*;
use synapse_hive::{Hive, Value};
use synapse_slab::{Slab, SlabOptions};

#[derive(Debug, Clone)]
enum Op {
    Set(Vec<String>, i64),
    Pop(Vec<String>),
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "", "é"]).prop_map(str::to_owned),
        1..4,
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (path(), any::<i64>()).prop_map(|(p, v)| Op::Set(p, v)),
        1 => path().prop_map(Op::Pop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn hive_matches_a_model_and_reloads(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("h.lmdb");
            let slab = Slab::open(&file, SlabOptions::default()).await.unwrap();
            let hive = Hive::open(&slab, "hive").await.unwrap();
            let mut stored: BTreeMap<Vec<String>, i64> = BTreeMap::new();
            let universe: Vec<Vec<String>> = ops
                .iter()
                .map(|op| match op {
                    Op::Set(p, _) | Op::Pop(p) => p.clone(),
                })
                .collect();
            for op in ops {
                match op {
                    Op::Set(p, v) if p == [String::new()] => {
                        // The empty key cannot be stored: refused before anything changes.
                        prop_assert!(hive.set(&p, Value::from(v)).await.is_err());
                    }
                    Op::Set(p, v) => {
                        let old = hive.set(&p, Value::from(v)).await.unwrap();
                        let want = stored.insert(p, v).map_or(Value::Nil, Value::from);
                        prop_assert_eq!(old, want);
                    }
                    Op::Pop(p) => {
                        hive.pop(&p).await.unwrap();
                        stored.retain(|key, _| !key.starts_with(&p));
                        prop_assert!(!hive.exists(&p));
                    }
                }
            }
            for (p, v) in &stored {
                prop_assert_eq!(hive.get(p), Some(Value::from(*v)));
            }
            slab.fini().await;
            let slab = Slab::open(&file, SlabOptions::default()).await.unwrap();
            let hive = Hive::open(&slab, "hive").await.unwrap();
            for (p, v) in &stored {
                prop_assert_eq!(hive.get(p), Some(Value::from(*v)));
            }
            // After a reload a node exists exactly when it or a descendant was stored.
            for p in &universe {
                for len in 1..=p.len() {
                    let here = &p[..len];
                    let want = stored.keys().any(|key| key.starts_with(here));
                    prop_assert_eq!(hive.exists(here), want, "{:?}", here);
                }
            }
            slab.fini().await;
            Ok(())
        })?;
    }
}
