//! Opening, CRUD, dupsort semantics, commits, growth and bad input.

use futures::TryStreamExt;
use synapse_slab::{DbOptions, Error, MEBIBYTE, PutOptions, Scan, Slab, SlabOptions};

use crate::tmp_slab;

#[tokio::test]
async fn crud_and_replace_pop_delete() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("hehe", DbOptions::default()).await.unwrap();
    assert!(slab.put(db, b"foo", b"bar").await.unwrap());
    assert_eq!(slab.get(db, b"foo").await.unwrap(), Some(b"bar".to_vec()));
    assert!(
        !slab
            .put_with(db, b"foo", b"baz", PutOptions::no_overwrite())
            .await
            .unwrap()
    );
    assert_eq!(
        slab.replace(db, b"foo", b"baz").await.unwrap(),
        Some(b"bar".to_vec())
    );
    assert_eq!(slab.replace(db, b"new", b"1").await.unwrap(), None);
    assert_eq!(slab.pop(db, b"foo").await.unwrap(), Some(b"baz".to_vec()));
    assert_eq!(slab.pop(db, b"foo").await.unwrap(), None);
    assert!(slab.delete(db, b"new", None).await.unwrap());
    assert!(!slab.delete(db, b"new", None).await.unwrap());
    assert_eq!(slab.count(db, b"nope").await.unwrap(), 0);
    slab.fini().await;
}

#[tokio::test]
async fn dupsort_semantics() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("dups", DbOptions::dupsort()).await.unwrap();
    assert!(db.is_dupsort());
    for val in [b"c", b"a", b"b"] {
        assert!(slab.put(db, b"k", val).await.unwrap());
    }
    assert!(!slab.put(db, b"k", b"a").await.unwrap());
    slab.put(db, b"j", b"x").await.unwrap();
    assert_eq!(slab.count(db, b"k").await.unwrap(), 3);
    assert_eq!(slab.count(db, b"j").await.unwrap(), 1);
    assert_eq!(slab.get(db, b"k").await.unwrap(), Some(b"a".to_vec()));
    let keys: Vec<_> = slab
        .scan_keys(db, Scan::full())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![b"j".to_vec(), b"k".to_vec(), b"k".to_vec(), b"k".to_vec()]
    );
    let keys: Vec<_> = slab
        .scan_keys(db, Scan::full().nodup())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, vec![b"j".to_vec(), b"k".to_vec()]);
    // Delete one value, then the key.
    assert!(slab.delete(db, b"k", Some(b"b")).await.unwrap());
    assert!(!slab.delete(db, b"k", Some(b"zz")).await.unwrap());
    assert_eq!(slab.count(db, b"k").await.unwrap(), 2);
    let vals: Vec<_> = slab
        .scan(db, Scan::dups(b"k").back())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        vals,
        vec![
            (b"k".to_vec(), b"c".to_vec()),
            (b"k".to_vec(), b"a".to_vec())
        ]
    );
    assert_eq!(slab.pop(db, b"k").await.unwrap(), Some(b"a".to_vec()));
    assert_eq!(slab.count(db, b"k").await.unwrap(), 0);
    // putmulti with dupdata reports a re-put pair as added, as the reference does.
    let rows = vec![
        (b"m".to_vec(), b"1".to_vec()),
        (b"m".to_vec(), b"1".to_vec()),
    ];
    let opts = PutOptions {
        dupdata: true,
        ..PutOptions::default()
    };
    assert_eq!(slab.put_multi(db, rows, opts).await.unwrap(), (2, 2));
    slab.fini().await;
}

#[tokio::test]
async fn writes_survive_reopen_and_double_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.lmdb");
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    let err = Slab::open(&path, SlabOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyOpen { .. }), "{err}");
    assert_eq!(err.class(), "SlabAlreadyOpen");
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    slab.put(db, b"k", b"v").await.unwrap();
    slab.fini().await;
    assert!(slab.put(db, b"k", b"v").await.is_err());
    // The options file is written next to the slab.
    assert!(dir.path().join("x.opts.yaml").exists());

    let slab = Slab::open(&path, SlabOptions::readonly()).await.unwrap();
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    assert_eq!(slab.get(db, b"k").await.unwrap(), Some(b"v".to_vec()));
    let err = slab.put(db, b"k", b"w").await.unwrap_err();
    assert!(matches!(err, Error::ReadOnly), "{err}");
    let err = slab
        .initdb("missing", DbOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Database name='missing' does not exist.");
    slab.fini().await;
}

#[tokio::test]
async fn foreign_and_corrupt_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.lmdb");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("data.mdb"), vec![0x5a; 64 * 1024]).unwrap();
    let err = Slab::open(&path, SlabOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    // A plain file where the slab directory should be.
    let file = dir.path().join("file.lmdb");
    std::fs::write(&file, b"hello").unwrap();
    let err = Slab::open(&file, SlabOptions::default()).await.unwrap_err();
    assert!(
        matches!(err, Error::Io { .. } | Error::Corrupt { .. }),
        "{err}"
    );
    // The failed opens left nothing registered: a valid slab opens at a fresh path.
    std::fs::remove_dir_all(&path).unwrap();
    let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
    slab.fini().await;
}

#[tokio::test]
async fn bad_keys_and_values_are_clear_errors() {
    let opts = SlabOptions {
        max_value_size: 1024,
        ..SlabOptions::default()
    };
    let (_dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let err = slab.put(db, &[7u8; 512], b"v").await.unwrap_err();
    assert!(
        matches!(err, Error::BadKeySize { len: 512, max: 511 }),
        "{err}"
    );
    let err = slab.put(db, b"", b"v").await.unwrap_err();
    assert!(matches!(err, Error::BadKeySize { len: 0, .. }), "{err}");
    assert!(slab.put(db, &[7u8; 511], b"v").await.unwrap());
    let err = slab.put(db, b"k", &[0u8; 1025]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ValueTooLarge {
                len: 1025,
                max: 1024
            }
        ),
        "{err}"
    );
    // Lookups of keys that cannot exist are simply absent.
    assert_eq!(slab.get(db, &[1u8; 600]).await.unwrap(), None);
    // A handle from another slab is refused.
    let (_dir2, other) = tmp_slab(SlabOptions::default()).await;
    let err = other.get(db, b"k").await.unwrap_err();
    assert!(matches!(err, Error::BadArg(_)), "{err}");
    other.fini().await;
    slab.fini().await;
}

/// A slab whose map starts at 1 MiB, a database in it, and the map's size.
async fn small_map_slab() -> (tempfile::TempDir, Slab, synapse_slab::Db, u64) {
    let opts = SlabOptions {
        map_size: MEBIBYTE,
        ..SlabOptions::default()
    };
    let (dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let before = slab.info().mapsize;
    (dir, slab, db, before)
}

#[tokio::test]
async fn the_map_grows_and_replays_the_pending_batch() {
    let (_dir, slab, db, before) = small_map_slab().await;
    // 8 MiB in one uncommitted batch: the map must grow (and replay) several times.
    slab.write(move |txn| {
        for idx in 0u32..2048 {
            txn.put(db, &idx.to_be_bytes(), &[idx as u8; 4096])?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert!(slab.info().mapsize > before);
    let count = slab
        .read(move |txn| {
            let mut count = 0;
            for row in txn.scan(db, Scan::full())? {
                let (key, val) = row?;
                let idx = u32::from_be_bytes(key.try_into().unwrap());
                assert_eq!(val, &[idx as u8; 4096][..]);
                count += 1;
            }
            Ok::<_, Error>(count)
        })
        .await
        .unwrap();
    assert_eq!(count, 2048);
    slab.commit().await.unwrap();
    slab.fini().await;
}

#[tokio::test]
async fn put_many_appends_grows_the_map_and_stops_at_the_first_refused_row() {
    let (_dir, slab, db, before) = small_map_slab().await;
    // 8 MiB appended in runs through one cursor each: the map grows (and replays) mid-run.
    let stored = slab
        .write(move |txn| {
            let mut stored = 0;
            for run in 0u32..4 {
                let keys: Vec<[u8; 4]> =
                    (run * 512..run * 512 + 512).map(u32::to_be_bytes).collect();
                let vals: Vec<Vec<u8>> = (run * 512..run * 512 + 512)
                    .map(|idx| vec![idx as u8; 4096])
                    .collect();
                let rows: Vec<(&[u8], &[u8])> = keys
                    .iter()
                    .map(|key| &key[..])
                    .zip(vals.iter().map(Vec::as_slice))
                    .collect();
                stored += txn.put_many(db, &rows, PutOptions::append())?;
            }
            // A run whose third key is not past the last: two rows are stored.
            let keys = [5000u32, 5001, 10, 5002].map(u32::to_be_bytes);
            let rows: Vec<(&[u8], &[u8])> = keys.iter().map(|key| (&key[..], &b"x"[..])).collect();
            stored += txn.put_many(db, &rows, PutOptions::append())?;
            // Bad input is refused before anything is written.
            let long = vec![0u8; 600];
            let bad: [(&[u8], &[u8]); 2] = [(b"\xff\xff\xff\xff", b"y"), (&long, b"z")];
            assert!(txn.put_many(db, &bad, PutOptions::append()).is_err());
            Ok::<_, Error>(stored)
        })
        .await
        .unwrap();
    assert_eq!(stored, 2048 + 2);
    assert!(slab.info().mapsize > before);
    slab.commit().await.unwrap();
    let rows = slab
        .read(move |txn| {
            let mut rows = Vec::new();
            for row in txn.scan(db, Scan::full())? {
                let (key, val) = row?;
                rows.push((u32::from_be_bytes(key.try_into().unwrap()), val.to_vec()));
            }
            Ok::<_, Error>(rows)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2048 + 2);
    for (idx, (key, val)) in rows.iter().take(2048).enumerate() {
        assert_eq!(*key, idx as u32);
        assert_eq!(val, &vec![idx as u8; 4096]);
    }
    assert_eq!(rows[2048], (5000, b"x".to_vec()));
    assert_eq!(rows[2049], (5001, b"x".to_vec()));
    slab.fini().await;
}

#[tokio::test]
async fn max_size_refuses_growth_and_keeps_earlier_writes() {
    let opts = SlabOptions {
        map_size: MEBIBYTE,
        max_size: Some(2 * MEBIBYTE),
        ..SlabOptions::default()
    };
    let (dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    slab.put(db, b"first", b"kept").await.unwrap();
    let res = slab
        .write(move |txn| {
            for idx in 0u32..4096 {
                txn.put(db, &idx.to_be_bytes(), &[1u8; 4096])?;
            }
            Ok::<_, Error>(())
        })
        .await;
    let err = res.unwrap_err();
    assert!(matches!(err, Error::OutOfSpace { .. }), "{err}");
    assert_eq!(err.class(), "DbOutOfSpace");
    assert_eq!(
        slab.get(db, b"first").await.unwrap(),
        Some(b"kept".to_vec())
    );
    slab.commit().await.unwrap();
    slab.fini().await;
    let text = std::fs::read_to_string(dir.path().join("test.opts.yaml")).unwrap();
    assert!(text.contains("maxsize: 2097152"), "{text}");
}

#[tokio::test]
async fn closures_panicking_or_failing_leave_the_slab_usable() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let err = slab
        .write(move |txn| -> Result<(), Error> {
            txn.put(db, b"a", b"1")?;
            panic!("boom");
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Panicked));
    // Writes made before the panic are kept, as with an error.
    assert_eq!(slab.get(db, b"a").await.unwrap(), Some(b"1".to_vec()));
    let err = slab
        .read(move |txn| -> Result<(), Error> { txn.get(db, b"a").map(|_| ()) })
        .await;
    assert!(err.is_ok());
    slab.fini().await;
}

#[tokio::test]
async fn blocking_calls_from_the_slab_thread_are_refused() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let inner = slab.clone();
    let res = slab
        .read(move |_txn| Ok::<_, Error>(inner.read_blocking(move |txn| txn.has(db, b"x"))))
        .await
        .unwrap();
    assert!(matches!(res, Err(Error::Reentrant)));
    // From a blocking thread it works.
    let other = slab.clone();
    let found = tokio::task::spawn_blocking(move || {
        other.write_blocking(move |txn| txn.put(db, b"x", b"y"))?;
        other.read_blocking(move |txn| txn.has(db, b"x"))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(found);
    slab.fini().await;
}

#[tokio::test]
async fn commits_happen_by_count_and_on_demand() {
    let opts = SlabOptions {
        max_replay_log: 100,
        commit_period: std::time::Duration::from_secs(3600),
        ..SlabOptions::default()
    };
    let (_dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    for idx in 0u32..250 {
        slab.put(db, &idx.to_be_bytes(), b"v").await.unwrap();
    }
    let stats = slab.info().commitstats;
    let sizes: Vec<usize> = stats.iter().map(|stat| stat.1).collect();
    assert_eq!(sizes, vec![100, 100]);
    assert_eq!(slab.info().xactops, 50);
    slab.commit().await.unwrap();
    let sizes: Vec<usize> = slab.info().commitstats.iter().map(|stat| stat.1).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    // Nothing pending: a commit records nothing.
    slab.commit().await.unwrap();
    assert_eq!(slab.info().commitstats.len(), 3);
    slab.fini().await;
}

#[tokio::test]
async fn snapshot_reads_see_committed_data_only() {
    let opts = SlabOptions {
        commit_period: std::time::Duration::from_secs(3600),
        ..SlabOptions::default()
    };
    let (_dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    slab.put(db, b"k", b"v").await.unwrap();
    let seen = slab.snapshot(move |txn| txn.has(db, b"k")).await.unwrap();
    assert!(!seen);
    slab.write_commit(move |txn| txn.put(db, b"k2", b"v"))
        .await
        .unwrap();
    let seen = slab
        .snapshot(move |txn| Ok::<_, Error>((txn.has(db, b"k")?, txn.has(db, b"k2")?)))
        .await
        .unwrap();
    assert_eq!(seen, (true, true));
    slab.fini().await;
}

#[tokio::test]
async fn dropdb_and_dbexists() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    assert!(!slab.dbexists("gone").await.unwrap());
    let db = slab.initdb("gone", DbOptions::default()).await.unwrap();
    slab.put(db, b"k", b"v").await.unwrap();
    assert!(slab.dbexists("gone").await.unwrap());
    slab.dropdb("gone").await.unwrap();
    assert!(!slab.dbexists("gone").await.unwrap());
    slab.dropdb("gone").await.unwrap();
    let db = slab.initdb("gone", DbOptions::default()).await.unwrap();
    assert_eq!(slab.get(db, b"k").await.unwrap(), None);
    slab.fini().await;
}

#[tokio::test]
async fn dropping_every_handle_commits_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.lmdb");
    {
        let slab = Slab::open(&path, SlabOptions::default()).await.unwrap();
        let db = slab.initdb("db", DbOptions::default()).await.unwrap();
        slab.put(db, b"k", b"v").await.unwrap();
    }
    // The slab thread commits and closes in the background; wait for it to let go.
    let slab = loop {
        match Slab::open(&path, SlabOptions::default()).await {
            Ok(slab) => break slab,
            Err(Error::AlreadyOpen { .. }) => tokio::task::yield_now().await,
            Err(err) => panic!("{err}"),
        }
    };
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    assert_eq!(slab.get(db, b"k").await.unwrap(), Some(b"v".to_vec()));
    slab.fini().await;
}

#[tokio::test]
async fn jobs_run_in_call_order_not_await_order() {
    let (_dir, slab) = tmp_slab(SlabOptions::default()).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let first = slab.write(move |txn| txn.put(db, b"k", b"first"));
    let second = slab.write(move |txn| txn.put(db, b"k", b"second"));
    let seen = slab.read(move |txn| Ok::<_, Error>(txn.get(db, b"k")?.map(<[u8]>::to_vec)));
    second.await.unwrap();
    first.await.unwrap();
    assert_eq!(seen.await.unwrap(), Some(b"second".to_vec()));
    slab.fini().await;
}

#[tokio::test]
async fn copydb_and_copyslab() {
    let (dir, slab) = tmp_slab(SlabOptions::default()).await;
    let plain = slab.initdb("plain", DbOptions::default()).await.unwrap();
    let dups = slab.initdb("dups", DbOptions::dupsort()).await.unwrap();
    slab.write(move |txn| {
        for idx in 0u32..3000 {
            txn.put(plain, &idx.to_be_bytes(), b"v")?;
            txn.put(dups, &(idx % 7).to_be_bytes(), &idx.to_be_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let (_dir2, other) = tmp_slab(SlabOptions::default()).await;
    assert_eq!(slab.copydb(dups, &other, "copy").await.unwrap(), 3000);
    let copy = other.initdb("copy", DbOptions::dupsort()).await.unwrap();
    assert!(copy.is_dupsort());
    assert_eq!(other.count(copy, &3u32.to_be_bytes()).await.unwrap(), 429);
    let err = slab.copydb(dups, &other, "copy").await.unwrap_err();
    assert!(matches!(err, Error::DataAlreadyExists(_)), "{err}");
    other.fini().await;

    let dst = dir.path().join("backup.lmdb");
    slab.copyslab(&dst).await.unwrap();
    assert!(matches!(
        slab.copyslab(&dst).await,
        Err(Error::DataAlreadyExists(_))
    ));
    let backup = Slab::open(&dst, SlabOptions::readonly()).await.unwrap();
    let plain2 = backup.initdb("plain", DbOptions::default()).await.unwrap();
    let dups2 = backup.initdb("dups", DbOptions::dupsort()).await.unwrap();
    assert!(dups2.is_dupsort());
    assert_eq!(backup.stat(plain2).await.unwrap().entries, 3000);
    assert_eq!(backup.stat(dups2).await.unwrap().entries, 3000);
    assert!(dir.path().join("backup.opts.yaml").exists());
    backup.fini().await;
    slab.fini().await;
}

/// Slab threads that went idle in this test process.
static RESTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_rest() {
    RESTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

#[tokio::test]
async fn an_idle_slab_thread_runs_the_idle_hook_once_per_rest() {
    synapse_slab::set_idle_hook(count_rest);
    let opts = SlabOptions {
        commit_period: std::time::Duration::from_millis(20),
        ..SlabOptions::default()
    };
    let (_dir, slab) = tmp_slab(opts).await;
    let db = slab.initdb("db", DbOptions::default()).await.unwrap();
    let before = RESTED.load(std::sync::atomic::Ordering::SeqCst);
    slab.put(db, b"k", b"v").await.unwrap();
    // The write is committed by the period, then the thread rests and runs the hook.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while RESTED.load(std::sync::atomic::Ordering::SeqCst) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the idle hook never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The data was committed before the thread rested.
    assert_eq!(slab.get(db, b"k").await.unwrap(), Some(b"v".to_vec()));
    slab.fini().await;
}
