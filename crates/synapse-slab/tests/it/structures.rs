//! The structures: Seqn, SafeKeyVal, SlabDict, HotCount, HotKeyVal, NameAbrv, Hist.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use synapse_slab::{
    DbOptions, Error, Hist, HotCount, HotKeyVal, NameAbrv, SafeKeyVal, Seqn, Slab, SlabDict,
    SlabOptions, Value,
};

use crate::tmp_slab;

fn offsets(rows: &[(u64, Value)]) -> Vec<u64> {
    rows.iter().map(|(offs, _)| *offs).collect()
}

#[tokio::test]
async fn seqn_appends_replaces_and_slices() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let seqn = Seqn::open(&slab, "seqn").await.unwrap();
    assert_eq!(seqn.index(), 0);
    assert_eq!(seqn.add(Value::from("a")).await.unwrap(), 0);
    assert_eq!(seqn.add(Value::from("b")).await.unwrap(), 1);
    // Past the end: a gap.
    assert_eq!(seqn.add_at(Value::from("z"), 10).await.unwrap(), 10);
    assert_eq!(seqn.index(), 11);
    assert_eq!(seqn.size(), 3);
    // Below the end: replace in place (size grows only for an empty slot).
    assert_eq!(seqn.add_at(Value::from("B"), 1).await.unwrap(), 1);
    assert_eq!(seqn.size(), 3);
    assert_eq!(seqn.add_at(Value::from("e"), 5).await.unwrap(), 5);
    assert_eq!(seqn.size(), 4);
    assert_eq!(seqn.index(), 11);
    assert_eq!(seqn.get(1).await.unwrap(), Some(Value::from("B")));
    // Slices count rows, not offsets.
    assert_eq!(offsets(&seqn.slice(1, 2).await.unwrap()), vec![1, 5]);
    assert_eq!(offsets(&seqn.slice_back(9, 2).await.unwrap()), vec![5, 1]);
    let all: Vec<_> = seqn.iter(0).try_collect().await.unwrap();
    assert_eq!(offsets(&all), vec![0, 1, 5, 10]);
    let back: Vec<_> = seqn.iter_back(6).try_collect().await.unwrap();
    assert_eq!(offsets(&back), vec![5, 1, 0]);
    assert_eq!(seqn.first().await.unwrap().map(|r| r.0), Some(0));
    assert_eq!(seqn.last().await.unwrap(), Some((10, Value::from("z"))));
    let (offs, packed) = seqn.add_with_pack(Value::from(7), None).await.unwrap();
    assert_eq!((offs, packed), (11, vec![0x07]));
    // trim recomputes the next offset; cull removes from the front.
    assert!(seqn.trim(10).await.unwrap());
    assert_eq!(seqn.index(), 6);
    assert!(!seqn.trim(50).await.unwrap());
    assert_eq!(seqn.cull(1).await.unwrap(), 2);
    assert_eq!(seqn.size(), 1);
    assert_eq!(seqn.pop(5).await.unwrap(), Some((5, Value::from("e"))));
    assert_eq!(seqn.pop(5).await.unwrap(), None);
    assert_eq!(seqn.size(), 0);
    slab.fini().await;
}

#[tokio::test]
async fn seqn_save_reports_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.lmdb");
    let slab = Slab::open(
        &path,
        SlabOptions {
            max_replay_log: 3,
            ..SlabOptions::default()
        },
    )
    .await
    .unwrap();
    let seqn = Seqn::open(&slab, "log").await.unwrap();
    seqn.add(Value::from("x")).await.unwrap();
    let items: Vec<Value> = (0..7).map(Value::from).collect();
    let info = seqn.save(items).await.unwrap();
    assert_eq!((info.orig, info.indx, info.count, info.size), (1, 8, 7, 7));
    // A second handle on the same database shares the counters.
    let again = Seqn::open(&slab, "log").await.unwrap();
    assert_eq!(again.index(), 8);
    slab.fini().await;
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let seqn = Seqn::open(&slab, "log").await.unwrap();
    assert_eq!((seqn.index(), seqn.size()), (8, 8));
    slab.fini().await;
}

#[tokio::test]
async fn seqn_follow_waits_for_new_items_and_times_out() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let seqn = Seqn::open(&slab, "seqn").await.unwrap();
    seqn.add(Value::from(0)).await.unwrap();
    // Without wait: just what exists.
    let rows: Vec<_> = seqn.follow(0, false, None).try_collect().await.unwrap();
    assert_eq!(offsets(&rows), vec![0]);
    // With a timeout and nothing new: ends normally.
    let rows: Vec<_> = seqn
        .follow(0, true, Some(Duration::from_millis(50)))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(offsets(&rows), vec![0]);
    // Following: items appended later arrive.
    let mut stream = seqn.follow(1, true, None);
    let writer = seqn.clone();
    let task = tokio::spawn(async move {
        for idx in 1..=3 {
            writer.add(Value::from(idx)).await.unwrap();
        }
    });
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(stream.next().await.unwrap().unwrap().0);
    }
    assert_eq!(got, vec![1, 2, 3]);
    task.await.unwrap();
    assert!(
        seqn.wait_for_offset(3, Some(Duration::from_millis(1)))
            .await
    );
    assert!(
        !seqn
            .wait_for_offset(4, Some(Duration::from_millis(20)))
            .await
    );
    slab.fini().await;
}

#[tokio::test]
async fn safe_keyval_prefixes_and_limits() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let err = SafeKeyVal::open(&slab, "nope", "", false)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Database name='nope' does not exist.");
    let err = SafeKeyVal::open(&slab, "kv", &"p".repeat(511), true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadArg(_)));
    let kv = SafeKeyVal::open(&slab, "kv", "", true).await.unwrap();
    assert_eq!(kv.set("a:b", Value::from(1)).await.unwrap(), Value::from(1));
    kv.set("a:c", Value::from(2)).await.unwrap();
    kv.set("z", Value::from("zz")).await.unwrap();
    let sub = kv.sub("a:").unwrap();
    assert_eq!(
        sub.items("").await.unwrap(),
        vec![
            ("b".to_owned(), Value::from(1)),
            ("c".to_owned(), Value::from(2))
        ]
    );
    assert_eq!(sub.get("b").await.unwrap(), Some(Value::from(1)));
    assert_eq!(
        kv.keys("a").await.unwrap(),
        vec!["a:b".to_owned(), "a:c".to_owned()]
    );
    assert!(kv.sub("").is_err());
    let long = SafeKeyVal::open(&slab, "kv", &"p".repeat(500), true)
        .await
        .unwrap();
    let err = long.set(&"n".repeat(12), Value::Nil).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "SafeKeyVal keys with prefix {} must be less < 11 bytes in length.",
            "p".repeat(500)
        )
    );
    assert_eq!(kv.pop("z").await.unwrap(), Some(Value::from("zz")));
    assert!(!kv.delete("z").await.unwrap());
    assert_eq!(sub.truncate("").await.unwrap(), 2);
    assert!(kv.items("").await.unwrap().is_empty());
    slab.fini().await;
}

#[tokio::test]
async fn hot_counts_flush_at_commit_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.lmdb");
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let hot = HotCount::open(&slab, "metrics").await.unwrap();
    hot.inc("foo", 1);
    hot.inc("foo", 5);
    hot.set("bar", -2);
    assert_eq!(hot.get("foo"), 6);
    assert_eq!(hot.get("nope"), 0);
    // The commit writes the counters (8-byte signed big-endian).
    slab.commit().await.unwrap();
    let db = slab.initdb("metrics", DbOptions::default()).await.unwrap();
    assert_eq!(
        slab.get(db, b"bar").await.unwrap(),
        Some(vec![0xff; 7].into_iter().chain([0xfe]).collect())
    );
    // An increment alone reaches disk within the commit period.
    hot.inc("foo", 1);
    let kv = HotKeyVal::open(&slab, "hkv").await.unwrap();
    kv.set("k", Value::from("v"));
    slab.fini().await;
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let hot = HotCount::open(&slab, "metrics").await.unwrap();
    let mut packed: Vec<_> = hot.pack().into_iter().collect();
    packed.sort();
    assert_eq!(packed, vec![("bar".to_owned(), -2), ("foo".to_owned(), 7)]);
    assert!(hot.delete("bar").await.unwrap());
    let kv = HotKeyVal::open(&slab, "hkv").await.unwrap();
    assert_eq!(kv.get("k"), Some(Value::from("v")));
    slab.fini().await;
}

#[tokio::test]
async fn abrv_dict_and_hist() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let abrv = NameAbrv::open(&slab, "names").await.unwrap();
    let first = abrv.set_byts_to_abrv(b"hehe").await.unwrap();
    assert_eq!(first, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(abrv.set_byts_to_abrv(b"haha").await.unwrap()[7], 1);
    assert_eq!(abrv.set_byts_to_abrv(b"hehe").await.unwrap(), first);
    assert_eq!(abrv.abrv_to_byts(&first).await.unwrap(), b"hehe".to_vec());
    assert!(matches!(
        abrv.byts_to_abrv(b"nope").await,
        Err(Error::NoSuchAbrv)
    ));
    assert!(matches!(
        abrv.abrv_to_byts(b"12345678").await,
        Err(Error::NoSuchAbrv)
    ));
    let keys: Vec<_> = abrv.keys().try_collect().await.unwrap();
    assert_eq!(keys, vec![b"haha".to_vec(), b"hehe".to_vec()]);

    let db = slab.initdb("dict", DbOptions::default()).await.unwrap();
    let dict = SlabDict::open(&slab, db, b"pre:").await.unwrap();
    dict.set("a", Value::from(1)).await.unwrap();
    assert_eq!(dict.inc("a", 2).await.unwrap(), 3);
    let again = SlabDict::open(&slab, db, b"pre:").await.unwrap();
    assert_eq!(again.get("a"), Some(Value::from(3)));
    assert_eq!(again.pop("a").await.unwrap(), Some(Value::from(3)));

    let hist = Hist::open(&slab, "hist").await.unwrap();
    hist.add(Value::from("b"), Some(10)).await.unwrap();
    hist.add(Value::from("a"), Some(10)).await.unwrap();
    hist.add(Value::from("c"), Some(20)).await.unwrap();
    hist.add(Value::from("d"), Some(30)).await.unwrap();
    let rows: Vec<_> = hist.carve(10, Some(20)).try_collect().await.unwrap();
    assert_eq!(
        rows,
        vec![
            (10, Value::from("a")),
            (10, Value::from("b")),
            (20, Value::from("c"))
        ]
    );
    slab.fini().await;
}

#[tokio::test]
async fn multiqueue_puts_gets_and_waits() {
    use synapse_slab::MultiQueue;
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let mq = MultiQueue::open(&slab, "mq").await.unwrap();
    mq.add("q1", Value::from("meta")).await.unwrap();
    assert!(matches!(
        mq.add("q1", Value::Nil).await,
        Err(Error::DupName(_))
    ));
    assert!(matches!(
        mq.puts("nope", vec![], None).await,
        Err(Error::NoSuchName(_))
    ));
    let items: Vec<Value> = ["a", "b", "c"].into_iter().map(Value::from).collect();
    assert_eq!(mq.puts("q1", items.clone(), None).await.unwrap(), 0);
    assert_eq!(
        mq.puts("q1", vec![Value::from("d")], Some(Value::from("r1")))
            .await
            .unwrap(),
        3
    );
    // A retry with the same reqid writes nothing.
    assert_eq!(
        mq.puts("q1", vec![Value::from("d")], Some(Value::from("r1")))
            .await
            .unwrap(),
        4
    );
    let status = mq.status("q1").unwrap();
    assert_eq!((status.size, status.offs), (Some(4), Some(4)));
    let rows: Vec<_> = mq
        .gets("q1", 1, Some(2), false, false)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, Value::from("b")), (2, Value::from("c"))]);
    // get with cull removes what precedes.
    assert_eq!(
        mq.get("q1", 2, false, true).await.unwrap(),
        Some((2, Value::from("c")))
    );
    assert_eq!(mq.size("q1"), Some(2));
    assert_eq!(mq.pop("q1", 3).await.unwrap(), Some((3, Value::from("d"))));
    assert_eq!(mq.size("q1"), Some(1));
    mq.sets("q1", 2, vec![Value::from("C"), Value::from("E")])
        .await
        .unwrap();
    assert_eq!(mq.status("q1").unwrap().offs, Some(4));
    // Offset 2 was overwritten, offset 3 (popped) filled again.
    assert_eq!(mq.size("q1"), Some(2));
    assert_eq!(mq.dele("q1", 3, 3).await.unwrap(), 1);
    // A waiting reader gets items put later.
    let mut waiting = mq.gets("q1", 4, None, false, true);
    let writer = mq.clone();
    let put = tokio::spawn(async move { writer.put("q1", Value::from("late"), None).await });
    assert_eq!(
        waiting.next().await.unwrap().unwrap(),
        (4, Value::from("late"))
    );
    put.await.unwrap().unwrap();
    // Removing the queue ends waiting readers.
    let mut waiting = mq.gets("q1", 5, None, false, true);
    let remover = mq.clone();
    let rem = tokio::spawn(async move { remover.rem("q1").await });
    assert!(waiting.next().await.is_none());
    rem.await.unwrap().unwrap();
    assert!(!mq.exists("q1"));
    assert!(mq.list().is_empty());
    slab.fini().await;
}

#[tokio::test]
async fn flush_and_readonly_hot_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.lmdb");
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let hot = HotCount::open(&slab, "metrics").await.unwrap();
    hot.inc("n", 3);
    slab.flush().await.unwrap();
    slab.fini().await;
    // A read-only slab: counters load, and changes to them stay in memory.
    let slab = Slab::open(&path, SlabOptions::readonly()).await.unwrap();
    let hot = HotCount::open(&slab, "metrics").await.unwrap();
    assert_eq!(hot.get("n"), 3);
    hot.inc("n", 1);
    slab.commit().await.unwrap();
    assert_eq!(hot.get("n"), 4);
    assert_eq!(slab.info().commitstats.len(), 0);
    slab.fini().await;
}
