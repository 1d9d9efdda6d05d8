//! Scan semantics checked against the reference's verified behaviour, and streaming scans
//! that survive writes between batches.

use futures::{StreamExt, TryStreamExt};
use synapse_slab::{Db, DbOptions, Error, Scan, Slab, SlabOptions};

use crate::tmp_slab;

async fn keys(slab: &Slab, db: Db, scan: Scan) -> Vec<String> {
    let rows: Vec<_> = slab.scan(db, scan).try_collect().await.unwrap();
    rows.into_iter()
        .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
        .collect()
}

async fn fill(slab: &Slab, db: Db, keys: &[&str]) {
    let keys: Vec<Vec<u8>> = keys.iter().map(|key| key.as_bytes().to_vec()).collect();
    slab.write(move |txn| {
        for key in &keys {
            txn.put(db, key, b"v")?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn ranges_match_the_reference() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    fill(&slab, db, &["a1", "a2", "a3", "b1", "b2", "c1"]).await;
    // The forward upper bound is prefix-inclusive.
    assert_eq!(
        keys(&slab, db, Scan::range(b"a2", Some(b"b"))).await,
        ["a2", "a3", "b1", "b2"]
    );
    assert_eq!(
        keys(&slab, db, Scan::range(b"a2", None)).await,
        ["a2", "a3", "b1", "b2", "c1"]
    );
    // The backward start excludes keys that merely start with it.
    assert_eq!(
        keys(&slab, db, Scan::range_back(Some(b"b"), Some(b"a2"))).await,
        ["a3", "a2"]
    );
    assert_eq!(
        keys(&slab, db, Scan::range_back(Some(b"b1"), None)).await,
        ["b1", "a3", "a2", "a1"]
    );
    assert_eq!(
        keys(&slab, db, Scan::prefix(b"a")).await,
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        keys(&slab, db, Scan::prefix(b"b").back()).await,
        ["b2", "b1"]
    );
    assert_eq!(keys(&slab, db, Scan::prefix(b"c").back()).await, ["c1"]);
    assert_eq!(
        keys(&slab, db, Scan::prefix(b"z").back()).await,
        Vec::<String>::new()
    );
    assert_eq!(
        keys(&slab, db, Scan::full().back()).await,
        ["c1", "b2", "b1", "a3", "a2", "a1"]
    );
    assert_eq!(
        keys(&slab, db, Scan::prefix(b"a").start_at(b"a2", None)).await,
        ["a2", "a3"]
    );
    let exists = slab
        .read(move |txn| {
            Ok::<_, Error>((
                txn.prefix_exists(db, b"b")?,
                txn.prefix_exists(db, b"d")?,
                txn.range_exists(db, b"a4", Some(b"a9"))?,
                txn.range_exists(db, b"a4", Some(b"b"))?,
                txn.first_key(db)?.map(<[u8]>::to_vec),
                txn.last_key(db)?.map(<[u8]>::to_vec),
            ))
        })
        .await
        .unwrap();
    assert_eq!(
        exists,
        (
            true,
            false,
            false,
            true,
            Some(b"a1".to_vec()),
            Some(b"c1".to_vec())
        )
    );
    let seeks = slab
        .read(move |txn| {
            let key = |at: &[u8]| -> Result<Option<Vec<u8>>, Error> {
                Ok(txn.seek(db, at)?.map(|(key, _)| key.to_vec()))
            };
            Ok::<_, Error>([key(b"a2")?, key(b"a21")?, key(b"b")?, key(b"c2")?])
        })
        .await
        .unwrap();
    assert_eq!(
        seeks,
        [
            Some(b"a2".to_vec()),
            Some(b"a3".to_vec()),
            Some(b"b1".to_vec()),
            None
        ]
    );
    slab.fini().await;
}

#[tokio::test]
async fn prefix_back_handles_the_successor_and_0xff() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let rows: Vec<Vec<u8>> = vec![
        vec![0x01, 0xff],
        vec![0x01, 0xff, 0x00],
        vec![0x02, 0x00],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0x01],
    ];
    let put = rows.clone();
    slab.write(move |txn| {
        for key in &put {
            txn.put(db, key, b"v")?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let back: Vec<_> = slab
        .scan_keys(db, Scan::prefix(&[0x01, 0xff]).back())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back, vec![rows[1].clone(), rows[0].clone()]);
    let back: Vec<_> = slab
        .scan_keys(db, Scan::prefix(&[0xff, 0xff]).back())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(back, vec![rows[4].clone(), rows[3].clone()]);
    let all: Vec<_> = slab
        .scan_keys(db, Scan::prefix(b"").back())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    slab.fini().await;
}

#[tokio::test]
async fn dupsort_ranges_and_resume_points() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::dupsort()).await.unwrap();
    slab.write(move |txn| {
        for key in [b"a", b"b", b"c"] {
            for val in [b"1", b"2", b"3"] {
                txn.put(db, key, val)?;
            }
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let pairs = |rows: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<String> {
        rows.into_iter()
            .map(|(k, v)| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect()
    };
    let rows = slab
        .scan(db, Scan::range_back(Some(b"b"), None))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b3", "b2", "b1", "a3", "a2", "a1"]);
    let rows = slab
        .scan(db, Scan::full().after(b"b", b"2"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b3", "c1", "c2", "c3"]);
    let rows = slab
        .scan(db, Scan::full().back().after(b"b", b"2"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b1", "a3", "a2", "a1"]);
    // Resuming after a value that is gone lands on the next one.
    let rows = slab
        .scan(db, Scan::full().after(b"b", b"25"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b3", "c1", "c2", "c3"]);
    let rows = slab
        .scan(db, Scan::full().back().after(b"b", b"25"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b2", "b1", "a3", "a2", "a1"]);
    let rows = slab
        .scan(db, Scan::full().after(b"b", b"9"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["c1", "c2", "c3"]);
    let rows = slab
        .scan(db, Scan::full().back().after(b"b", b"0"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["a3", "a2", "a1"]);
    let rows = slab
        .scan(db, Scan::prefix(b"b").start_at(b"b", Some(b"2")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["b2", "b3"]);
    let rows = slab
        .scan(db, Scan::full().nodup().back())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pairs(rows), ["c3", "b3", "a3"]);
    slab.fini().await;
}

#[tokio::test]
async fn streamed_scans_survive_deletes_and_inserts_between_batches() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    slab.write(move |txn| {
        for idx in 0u32..5000 {
            txn.put(db, &(idx * 2).to_be_bytes(), b"v")?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let mut stream = slab.scan_keys(db, Scan::full());
    let mut seen = Vec::new();
    while let Some(key) = stream.next().await {
        let key = key.unwrap();
        let idx = u32::from_be_bytes(key.as_slice().try_into().unwrap());
        // Delete the row just yielded and the one behind it; add one far ahead (beyond any
        // batch already fetched) and one behind.
        slab.delete(db, &key, None).await.unwrap();
        if idx >= 2 {
            slab.delete(db, &(idx - 2).to_be_bytes(), None)
                .await
                .unwrap();
        }
        if idx % 1000 == 0 {
            slab.put(db, &(idx + 3001).to_be_bytes(), b"ahead")
                .await
                .unwrap();
            if idx > 0 {
                slab.put(db, &(idx - 1).to_be_bytes(), b"behind")
                    .await
                    .unwrap();
            }
        }
        if idx % 700 == 0 {
            slab.commit().await.unwrap();
        }
        seen.push(idx);
    }
    let mut want: Vec<u32> = (0u32..5000).map(|idx| idx * 2).collect();
    want.extend((0u32..10).map(|n| n * 1000 + 3001));
    want.sort();
    let missing: Vec<_> = want.iter().filter(|idx| !seen.contains(idx)).collect();
    let extra: Vec<_> = seen.iter().filter(|idx| !want.contains(idx)).collect();
    assert_eq!((missing, extra), (vec![], vec![]));
    assert_eq!(seen.len(), want.len());
    let first_diff = seen.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "scan diverged from the expected rows");
    slab.fini().await;
}

#[tokio::test]
async fn streamed_dups_resume_inside_one_key() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::dupsort()).await.unwrap();
    slab.write(move |txn| {
        for idx in 0u32..3000 {
            txn.put(db, b"key", &idx.to_be_bytes())?;
        }
        txn.put(db, b"kez", b"other")?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    for back in [false, true] {
        let scan = if back {
            Scan::dups(b"key").back()
        } else {
            Scan::dups(b"key")
        };
        let vals: Vec<u32> = slab
            .scan_map(db, scan, |_, val| {
                Ok(u32::from_be_bytes(val.try_into().unwrap_or_default()))
            })
            .try_collect()
            .await
            .unwrap();
        let mut want: Vec<u32> = (0..3000).collect();
        if back {
            want.reverse();
        }
        assert_eq!(vals, want);
    }
    let count = slab.count(db, b"key").await.unwrap();
    assert_eq!(count, 3000);
    assert_eq!(slab.count_prefix(db, b"ke", None).await.unwrap(), 3001);
    assert_eq!(slab.count_prefix(db, b"ke", Some(10)).await.unwrap(), 10);
    slab.fini().await;
}

#[tokio::test]
async fn hierarchical_key_scans_match_the_reference() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("test", DbOptions::default()).await.unwrap();
    let hier = |prefix: &'static [u8], sepr: u8, depth: usize| {
        let slab = slab.clone();
        async move {
            let keys: Vec<Vec<u8>> = slab
                .scan_keys_hier(db, prefix, sepr, depth, false)
                .try_collect()
                .await
                .unwrap();
            keys.into_iter()
                .map(|key| String::from_utf8(key).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let bad: Result<Vec<Vec<u8>>, Error> = slab
        .scan_keys_hier(db, b"foo", 0xff, 0, false)
        .try_collect()
        .await;
    assert!(matches!(bad, Err(Error::BadArg(_))));
    assert!(hier(b"foo", b'.', 0).await.is_empty());
    fill(
        &slab,
        db,
        &[
            "foo",
            "foo.bar",
            "foo.bar.baz",
            "foo.bar.baz.faz",
            "foo.cat",
            "foo.cat.dog",
            "goo",
        ],
    )
    .await;
    assert_eq!(hier(b"foo.", b'.', 0).await, ["foo.bar", "foo.cat"]);
    assert_eq!(
        hier(b"foo.", b'.', 1).await,
        ["foo.bar", "foo.bar.baz", "foo.cat", "foo.cat.dog"]
    );
    assert_eq!(
        hier(b"foo.", b'.', 2).await,
        [
            "foo.bar",
            "foo.bar.baz",
            "foo.bar.baz.faz",
            "foo.cat",
            "foo.cat.dog"
        ]
    );
    assert!(hier(b"zzz", b'.', 0).await.is_empty());
    assert!(hier(b"goo.", b'.', 0).await.is_empty());
    fill(
        &slab,
        db,
        &["xx.a", "xx.a.b.c", "xx.a.b.d", "xx.a.b.e", "xx.z"],
    )
    .await;
    assert_eq!(hier(b"xx.", b'.', 0).await, ["xx.a", "xx.z"]);
    fill(&slab, db, &["yy.a.b", "yy.a.c"]).await;
    assert!(hier(b"yy.", b'.', 0).await.is_empty());
    fill(&slab, db, &["mm.a.b", "nn.x"]).await;
    assert!(hier(b"mm.", b'.', 0).await.is_empty());
    fill(&slab, db, &["aa:bb", "aa:bb:cc", "aa:dd"]).await;
    assert_eq!(hier(b"aa:", b':', 0).await, ["aa:bb", "aa:dd"]);
    fill(&slab, db, &["pp.a.b", "pp.c.d", "pp.e"]).await;
    assert_eq!(hier(b"pp.", b'.', 0).await, ["pp.e"]);

    let dups = slab.initdb("dups", DbOptions::dupsort()).await.unwrap();
    slab.write(move |txn| {
        txn.put(dups, b"tt.a", b"v1")?;
        txn.put(dups, b"tt.a", b"v2")?;
        txn.put(dups, b"tt.a.b", b"v1")?;
        txn.put(dups, b"tt.c", b"v1")?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let nodup: Vec<Vec<u8>> = slab
        .scan_keys_hier(dups, b"tt.", b'.', 0, true)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(nodup, vec![b"tt.a".to_vec(), b"tt.c".to_vec()]);
    let all: Vec<Vec<u8>> = slab
        .scan_keys_hier(dups, b"tt.", b'.', 0, false)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![b"tt.a".to_vec(), b"tt.a".to_vec(), b"tt.c".to_vec()]
    );
    // Batches resume after their last key, dups of one key are never split.
    let many = slab.initdb("many", DbOptions::dupsort()).await.unwrap();
    slab.write(move |txn| {
        for idx in 0u32..1500 {
            let key = format!("k.{idx:05}");
            txn.put(many, key.as_bytes(), b"1")?;
            txn.put(many, key.as_bytes(), b"2")?;
            txn.put(many, format!("{key}.deep").as_bytes(), b"1")?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let keys: Vec<Vec<u8>> = slab
        .scan_keys_hier(many, b"k.", b'.', 0, false)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys.len(), 3000);
    assert!(keys.windows(2).all(|pair| pair[0] <= pair[1]));
    slab.fini().await;
}
