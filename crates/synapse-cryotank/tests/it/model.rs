//! A tank against a model (a vector of records and one of metrics rows): random puts, slices,
//! rows, metrics, last, and reopening.

use futures::TryStreamExt;
use proptest::prelude::*;
use synapse_cryotank::{PUTS_CHUNK, SliceOpts, Tank, TankConf};
use synapse_telepath::{Value, codec};

#[derive(Debug, Clone)]
enum Op {
    Puts(Vec<i64>),
    Slice(u64, Option<u64>),
    Rows(u64, Option<u64>),
    Metrics(u64, Option<u64>),
    Last,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let offs = prop_oneof![0u64..40, 0u64..3000];
    let size = prop::option::of(0u64..50);
    prop_oneof![
        4 => prop::collection::vec(any::<i64>(), 0..20).prop_map(Op::Puts),
        1 => (0usize..2500).prop_map(|n| Op::Puts((0..n as i64).collect())),
        2 => (offs.clone(), size.clone()).prop_map(|(o, s)| Op::Slice(o, s)),
        1 => (offs.clone(), size.clone()).prop_map(|(o, s)| Op::Rows(o, s)),
        1 => (0u64..5, size).prop_map(|(o, s)| Op::Metrics(o, s)),
        1 => Just(Op::Last),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default)]
struct Model {
    items: Vec<Value>,
    /// `(orig, count, size)` per metrics row.
    metrics: Vec<(u64, u64, u64)>,
}

impl Model {
    fn puts(&mut self, items: &[Value]) {
        let mut chunks: Vec<&[Value]> = items.chunks(PUTS_CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let size = chunk
                .iter()
                .map(|v| codec::encode(v).unwrap().len() as u64)
                .sum();
            self.metrics
                .push((self.items.len() as u64, chunk.len() as u64, size));
            self.items.extend(chunk.iter().cloned());
        }
    }

    fn window<T: Clone>(rows: &[T], offs: u64, size: Option<u64>) -> Vec<(u64, T)> {
        rows.iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .skip(offs.min(rows.len() as u64) as usize)
            .take(size.map_or(usize::MAX, |s| s as usize))
            .collect()
    }
}

fn field(row: &Value, key: &str) -> u64 {
    crate::get(row, key).as_u64().unwrap()
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tank");
    let conf = TankConf::default();
    let open = || Tank::open("t", "i", &path, &conf);
    let mut tank = open().await.unwrap();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Puts(ints) => {
                let items: Vec<Value> = ints.into_iter().map(Value::from).collect();
                assert_eq!(tank.puts(items.clone()).await.unwrap(), items.len() as u64);
                model.puts(&items);
                assert_eq!(tank.index(), model.items.len() as u64);
                assert_eq!(tank.metrics_index(), model.metrics.len() as u64);
            }
            Op::Slice(offs, size) => {
                let opts = SliceOpts {
                    size,
                    ..SliceOpts::default()
                };
                let got: Vec<(u64, Value)> = tank.slice(offs, opts).try_collect().await.unwrap();
                assert_eq!(got, Model::window(&model.items, offs, size));
            }
            Op::Rows(offs, size) => {
                let got: Vec<(u64, Vec<u8>)> = tank.rows(offs, size).try_collect().await.unwrap();
                let want: Vec<(u64, Vec<u8>)> = Model::window(&model.items, offs, size)
                    .into_iter()
                    .map(|(o, v)| (o, codec::encode(&v).unwrap()))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Metrics(offs, size) => {
                let got: Vec<(u64, Value)> = tank.metrics(offs, size).try_collect().await.unwrap();
                let want = Model::window(&model.metrics, offs, size);
                assert_eq!(got.len(), want.len());
                for ((offs, row), (woffs, (orig, count, size))) in got.iter().zip(want) {
                    assert_eq!(*offs, woffs);
                    assert_eq!(
                        (
                            field(row, "orig"),
                            field(row, "count"),
                            field(row, "size"),
                            field(row, "indx")
                        ),
                        (orig, count, size, orig + count)
                    );
                }
            }
            Op::Last => {
                let want = model
                    .items
                    .last()
                    .map(|v| (model.items.len() as u64 - 1, v.clone()));
                assert_eq!(tank.last().await.unwrap(), want);
            }
            Op::Reopen => {
                tank.fini().await;
                tank = open().await.unwrap();
                assert_eq!(tank.index(), model.items.len() as u64);
            }
        }
    }
    let info = tank.info().await.unwrap();
    assert_eq!(info.indx, model.items.len() as u64);
    assert_eq!(info.stat.entries as u64, model.items.len() as u64);
    assert_eq!(info.metrics, model.metrics.len() as u64);
    tank.fini().await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tank_matches_the_model(ops in prop::collection::vec(op(), 1..16)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
