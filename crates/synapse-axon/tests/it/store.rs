//! The store itself: saving, reading (chunks and ranges), listing, deleting, limits,
//! persistence and the cleanup of interrupted uploads.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use proptest::prelude::*;
use synapse_axon::{Axon, AxonOptions, CHUNK_SIZE, Error, Sha256};

async fn open() -> (tempfile::TempDir, Axon) {
    let dir = tempfile::tempdir().unwrap();
    let axon = Axon::open(dir.path(), AxonOptions::default())
        .await
        .unwrap();
    (dir, axon)
}

async fn read_all(axon: &Axon, sha256: &Sha256, range: Option<(u64, u64)>) -> Vec<Vec<u8>> {
    axon.get(sha256, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn spool_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("tmp")).unwrap().count()
}

#[tokio::test]
async fn example_session() {
    let (_dir, axon) = open().await;
    let asdf = Sha256::of(b"asdfasdf");
    assert_eq!(axon.metrics().file_count, 0);
    assert_eq!(axon.put(b"asdfasdf".to_vec()).await.unwrap(), (8, asdf));
    assert_eq!(axon.put(b"asdfasdf".to_vec()).await.unwrap(), (8, asdf));
    assert!(axon.has(&asdf).await.unwrap());
    assert!(!axon.has(&Sha256([0; 32])).await.unwrap());
    assert_eq!(axon.size(&asdf).await.unwrap(), Some(8));
    assert_eq!(axon.size(&Sha256([0; 32])).await.unwrap(), None);
    assert_eq!(
        read_all(&axon, &asdf, None).await,
        vec![b"asdfasdf".to_vec()]
    );
    assert_eq!(
        read_all(&axon, &asdf, Some((2, 3))).await,
        vec![b"dfa".to_vec()]
    );
    // A range starting past the end yields one empty piece.
    assert_eq!(
        read_all(&axon, &asdf, Some((20, 3))).await,
        vec![Vec::<u8>::new()]
    );
    // A range running past the end is cut.
    assert_eq!(
        read_all(&axon, &asdf, Some((6, 100))).await,
        vec![b"df".to_vec()]
    );

    for data in [&b"visi"[..], b"hehehaha", b"lolz"] {
        axon.put(data.to_vec()).await.unwrap();
    }
    let rows: Vec<_> = axon.hashes(0, false, None).try_collect().await.unwrap();
    assert_eq!(rows.len(), 4, "the second put of asdfasdf adds no row");
    assert_eq!(rows[0], (0, (asdf, 8)));
    assert_eq!(rows[3].1, (Sha256::of(b"lolz"), 4));
    let later: Vec<_> = axon.hashes(2, false, None).try_collect().await.unwrap();
    assert_eq!(later.len(), 2);
    let hist: Vec<_> = axon.history(0, None).try_collect().await.unwrap();
    assert_eq!(hist.len(), 4);
    let none: Vec<_> = axon.history(0, Some(1)).try_collect().await.unwrap();
    assert!(none.is_empty());
    let metrics = axon.metrics();
    assert_eq!((metrics.file_count, metrics.size_bytes), (4, 24));

    let wants = axon
        .wants(vec![Sha256([0; 32]), asdf, Sha256([1; 32])])
        .await
        .unwrap();
    assert_eq!(wants, vec![Sha256([0; 32]), Sha256([1; 32])]);

    let set = axon.hashset(&asdf).await.unwrap();
    assert_eq!(set.md5, "6a204bd89f3c8348afd5c77c717a097a");
    assert_eq!(set.sha1, "92429d82a41e930486c6de5ebda9602d55c39986");
    assert_eq!(set.sha256, asdf.hex());
    let err = axon.hashset(&Sha256([0; 32])).await.unwrap_err();
    assert_eq!(err.name(), "NoSuchFile");
    axon.fini().await;
}

#[tokio::test]
async fn uploads_are_reusable_and_empty_saves_store_the_empty_file() {
    let (dir, axon) = open().await;
    let mut upload = axon.upload();
    upload.write(b"part1".to_vec()).await.unwrap();
    upload.write(b"part2".to_vec()).await.unwrap();
    assert_eq!(
        upload.save().await.unwrap(),
        (10, Sha256::of(b"part1part2"))
    );
    upload.write(b"second".to_vec()).await.unwrap();
    assert_eq!(upload.save().await.unwrap(), (6, Sha256::of(b"second")));
    assert_eq!(upload.save().await.unwrap(), (0, Sha256::EMPTY));
    assert!(axon.has(&Sha256::EMPTY).await.unwrap());
    assert!(read_all(&axon, &Sha256::EMPTY, None).await.is_empty());
    assert_eq!(
        read_all(&axon, &Sha256::EMPTY, Some((0, 1))).await,
        vec![Vec::<u8>::new()]
    );
    assert_eq!(axon.metrics().file_count, 3);

    // A large upload in uneven writes, interleaved with small ones.
    let data: Vec<u8> = (0..(9 * 1024 * 1024 + 123))
        .map(|i| (i * 7 % 253) as u8)
        .collect();
    for piece in data.chunks(777_777) {
        upload.write(piece.to_vec()).await.unwrap();
    }
    let (size, sha256) = upload.save().await.unwrap();
    assert_eq!((size, sha256), (data.len() as u64, Sha256::of(&data)));
    assert_eq!(read_all(&axon, &sha256, None).await.concat(), data);
    assert_eq!(spool_files(dir.path()), 0);
    axon.fini().await;
}

#[tokio::test]
async fn streamed_uploads_mix_small_and_large_writes() {
    let (dir, axon) = open().await;
    // Past the in-memory gathering, small writes are copied together and large ones handed
    // on as they are; with and without the hash set.
    let mut data = Vec::new();
    let mut pieces = Vec::new();
    for i in 0..90usize {
        let len = if i % 3 == 0 { 300_000 } else { 1000 + i * 377 };
        let piece: Vec<u8> = (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect();
        data.extend_from_slice(&piece);
        pieces.push(piece);
    }
    assert!(data.len() > 9 * 1024 * 1024);
    for hashset in [false, true] {
        let mut upload = if hashset {
            axon.upload_hashset()
        } else {
            axon.upload()
        };
        for piece in &pieces {
            upload.write(piece.clone()).await.unwrap();
        }
        let (size, sha256, set) = upload.save_hashset().await.unwrap();
        assert_eq!((size, sha256), (data.len() as u64, Sha256::of(&data)));
        assert_eq!(set.is_some(), hashset);
        if let Some(set) = set {
            assert_eq!(set.sha256, sha256.hex());
            assert_eq!(set.size, size);
            let md5 = {
                use md5::Digest;
                hex::encode(md5::Md5::digest(&data))
            };
            assert_eq!(set.md5, md5);
            let sha1 = {
                use sha1::Digest;
                hex::encode(sha1::Sha1::digest(&data))
            };
            assert_eq!(set.sha1, sha1);
            let sha512 = hex::encode(ring::digest::digest(&ring::digest::SHA512, &data));
            assert_eq!(set.sha512, sha512);
            // The hash set of the stored blob, read back in pieces, is the same.
            assert_eq!(axon.hashset(&sha256).await.unwrap(), set);
        }
        assert_eq!(read_all(&axon, &sha256, None).await.concat(), data);
        assert_eq!(spool_files(dir.path()), 0);
        assert!(axon.del(&sha256).await.unwrap());
    }
    axon.fini().await;
}

#[tokio::test]
async fn chunks_and_ranges_follow_the_reference() {
    let (_dir, axon) = open().await;
    // A 41943045-byte blob reads back as [16 MiB, 16 MiB, 8388613] (verified on 2.256).
    let size = 41_943_045usize;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let (got, sha256) = axon.put(data.clone()).await.unwrap();
    assert_eq!(got, size as u64);
    let chunks = read_all(&axon, &sha256, None).await;
    let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![16_777_216, 16_777_216, 8_388_613]);
    assert_eq!(chunks.concat(), data);

    // get(sha, 16777213, 20971520) -> [3, 16777216, 4194301] (verified on 2.256).
    let chunks = read_all(&axon, &sha256, Some((16_777_213, 20_971_520))).await;
    let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![3, 16_777_216, 4_194_301]);
    assert_eq!(chunks.concat(), data[16_777_213..16_777_213 + 20_971_520]);

    // A range starting exactly on a chunk boundary starts with that chunk (2.256, not the
    // 2.250 bug that yielded the previous chunk).
    let chunks = read_all(&axon, &sha256, Some((CHUNK_SIZE, 5))).await;
    assert_eq!(chunks, vec![data[16_777_216..16_777_221].to_vec()]);
    let chunks = read_all(&axon, &sha256, Some((CHUNK_SIZE - 1, 2))).await;
    assert_eq!(chunks.concat(), data[16_777_215..16_777_217]);
    assert_eq!(chunks.len(), 2);
    // Small pieces never cross a chunk boundary either.
    let pieces: Vec<Vec<u8>> = axon
        .read(&sha256, Some((CHUNK_SIZE - 10, 30)), 7)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let lens: Vec<usize> = pieces.iter().map(Vec::len).collect();
    assert_eq!(lens, vec![7, 3, 7, 7, 6]);
    axon.fini().await;
}

#[tokio::test]
async fn deletes_and_readds() {
    let (dir, axon) = open().await;
    let (_, a) = axon.put(b"aaaa".to_vec()).await.unwrap();
    let (_, b) = axon.put(b"bbbbbb".to_vec()).await.unwrap();
    assert_eq!(
        axon.dels(&[a, Sha256([9; 32])]).await.unwrap(),
        vec![true, false]
    );
    assert!(!axon.del(&a).await.unwrap());
    assert!(!axon.has(&a).await.unwrap());
    assert!(!axon.blob_path(&a).exists());
    assert_eq!(axon.get(&a, None).await.unwrap_err().name(), "NoSuchFile");
    let metrics = axon.metrics();
    assert_eq!((metrics.file_count, metrics.size_bytes), (1, 6));
    let rows: Vec<_> = axon.hashes(0, false, None).try_collect().await.unwrap();
    assert_eq!(rows, vec![(1, (b, 6))]);
    // History keeps deleted adds.
    let hist: Vec<_> = axon.history(0, None).try_collect().await.unwrap();
    assert_eq!(hist.len(), 2);
    // A re-added blob shows at its old and new offsets.
    axon.put(b"aaaa".to_vec()).await.unwrap();
    let rows: Vec<_> = axon.hashes(0, false, None).try_collect().await.unwrap();
    assert_eq!(rows, vec![(0, (a, 4)), (1, (b, 6)), (2, (a, 4))]);
    assert_eq!(read_all(&axon, &a, None).await, vec![b"aaaa".to_vec()]);
    assert_eq!(spool_files(dir.path()), 0);
    axon.fini().await;
}

#[tokio::test]
async fn hashes_can_wait_for_new_blobs() {
    let (_dir, axon) = open().await;
    axon.put(b"first".to_vec()).await.unwrap();
    let mut rows = axon.hashes(0, true, Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        rows.next().await.unwrap().unwrap().1.0,
        Sha256::of(b"first")
    );
    let writer = axon.clone();
    let task = tokio::spawn(async move { writer.put(b"second".to_vec()).await });
    assert_eq!(
        rows.next().await.unwrap().unwrap(),
        (1, (Sha256::of(b"second"), 6))
    );
    task.await.unwrap().unwrap();
    // With a short timeout and nothing new, the stream ends quietly.
    let rows: Vec<_> = axon
        .hashes(2, true, Some(std::time::Duration::from_millis(50)))
        .try_collect()
        .await
        .unwrap();
    assert!(rows.is_empty());
    axon.fini().await;
}

#[tokio::test]
async fn limits() {
    let dir = tempfile::tempdir().unwrap();
    let opts = AxonOptions {
        max_count: Some(2),
        max_bytes: None,
    };
    let axon = Axon::open(dir.path(), opts).await.unwrap();
    axon.put(b"one".to_vec()).await.unwrap();
    axon.put(b"two".to_vec()).await.unwrap();
    let err = axon.put(b"three".to_vec()).await.unwrap_err();
    assert!(matches!(err, Error::HitLimit(_)));
    assert_eq!(err.to_string(), "Axon is at file:count limit: 2");
    // Re-uploading a present blob is not blocked.
    axon.put(b"one".to_vec()).await.unwrap();
    axon.fini().await;

    let dir = tempfile::tempdir().unwrap();
    let opts = AxonOptions {
        max_count: None,
        max_bytes: Some(5),
    };
    let axon = Axon::open(dir.path(), opts).await.unwrap();
    // One upload can overshoot the limit; the next is refused.
    axon.put(b"0123456789".to_vec()).await.unwrap();
    let err = axon.put(b"x".to_vec()).await.unwrap_err();
    assert_eq!(err.to_string(), "Axon is at size:bytes limit: 5");
    assert_eq!(axon.metrics().file_count, 1);
    axon.fini().await;
}

#[tokio::test]
async fn puts_stores_a_batch_as_puts_in_turn_would() {
    let dir = tempfile::tempdir().unwrap();
    let opts = AxonOptions {
        max_count: Some(4),
        max_bytes: None,
    };
    let axon = Axon::open(dir.path(), opts).await.unwrap();
    axon.put(b"one".to_vec()).await.unwrap();
    // Present, new, empty, given twice: each answered in order, each stored once.
    let files: Vec<Vec<u8>> = vec![
        b"one".to_vec(),
        b"two".to_vec(),
        Vec::new(),
        b"two".to_vec(),
    ];
    let want: Vec<(u64, Sha256)> = files
        .iter()
        .map(|f| (f.len() as u64, Sha256::of(f)))
        .collect();
    assert_eq!(axon.puts(files).await.unwrap(), want);
    assert_eq!(axon.metrics().file_count, 3);
    assert_eq!(axon.metrics().size_bytes, 6);
    let hist: Vec<_> = axon.hashes(0, false, None).try_collect().await.unwrap();
    assert_eq!(hist.len(), 3);
    assert_eq!(
        read_all(&axon, &Sha256::of(b"two"), None).await.concat(),
        b"two"
    );
    assert_eq!(axon.puts(Vec::new()).await.unwrap(), vec![]);
    // The limit stops the batch where a sequence of puts would stop: "four" is stored,
    // "five" is refused, "six" never tried.
    let err = axon
        .puts(vec![b"four".to_vec(), b"five".to_vec(), b"six".to_vec()])
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Axon is at file:count limit: 4");
    assert!(axon.has(&Sha256::of(b"four")).await.unwrap());
    assert!(!axon.has(&Sha256::of(b"five")).await.unwrap());
    assert!(!axon.has(&Sha256::of(b"six")).await.unwrap());
    axon.fini().await;
    // All of it was committed.
    let axon = Axon::open(dir.path(), AxonOptions::default())
        .await
        .unwrap();
    assert_eq!(axon.metrics().file_count, 4);
    assert_eq!(
        read_all(&axon, &Sha256::of(b"four"), None).await.concat(),
        b"four"
    );
    assert_eq!(spool_files(dir.path()), 0);
    axon.fini().await;
}

#[tokio::test]
async fn data_persists_and_interrupted_uploads_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let axon = Axon::open(dir.path(), AxonOptions::default())
        .await
        .unwrap();
    let (_, kept) = axon.put(b"kept".to_vec()).await.unwrap();
    // An upload dropped before save: its spool goes away, nothing becomes visible.
    let big = vec![5u8; 6 * 1024 * 1024];
    let mut upload = axon.upload();
    upload.write(big.clone()).await.unwrap();
    drop(upload);
    // A reset upload also discards its bytes.
    let mut upload = axon.upload();
    upload.write(big.clone()).await.unwrap();
    upload.reset();
    assert_eq!(upload.save().await.unwrap(), (0, Sha256::EMPTY));
    drop(upload);
    assert!(!axon.has(&Sha256::of(&big)).await.unwrap());
    // The blocking job of the dropped upload removes its spool when it ends.
    for _ in 0..100 {
        if spool_files(dir.path()) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(spool_files(dir.path()), 0);
    axon.fini().await;

    // A stale spool (left by a crash) is removed at the next start.
    std::fs::write(dir.path().join("tmp").join("stale.upload"), b"junk").unwrap();
    let axon = Axon::open(dir.path(), AxonOptions::default())
        .await
        .unwrap();
    assert_eq!(spool_files(dir.path()), 0);
    assert_eq!(read_all(&axon, &kept, None).await, vec![b"kept".to_vec()]);
    assert_eq!(axon.metrics().file_count, 2);
    let rows: Vec<_> = axon.hashes(0, false, None).try_collect().await.unwrap();
    assert_eq!(rows.len(), 2);
    axon.fini().await;
}

#[tokio::test]
async fn orphaned_blob_files_are_swept() {
    let (_dir, axon) = open().await;
    let (_, kept) = axon.put(b"kept".to_vec()).await.unwrap();
    // What a crash between placing a blob and committing it leaves behind.
    let orphan = Sha256::of(b"orphan");
    let path = axon.blob_path(&orphan);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"orphan").unwrap();
    let stray = path.with_file_name("not-a-blob");
    std::fs::write(&stray, b"x").unwrap();
    assert_eq!(axon.sweep_orphans().await.unwrap(), 1);
    assert!(!path.exists());
    assert!(stray.exists(), "only blob names are touched");
    assert!(axon.blob_path(&kept).exists());
    assert_eq!(axon.sweep_orphans().await.unwrap(), 0);
    axon.fini().await;
}

#[tokio::test]
async fn a_truncated_blob_file_is_an_error_not_bad_data() {
    let (_dir, axon) = open().await;
    let (_, sha256) = axon.put(vec![1u8; 1000]).await.unwrap();
    let path = axon.blob_path(&sha256);
    std::fs::write(&path, [1u8; 10]).unwrap();
    let mut chunks = axon.get(&sha256, None).await.unwrap();
    let err = chunks.next().await.unwrap().unwrap_err();
    assert_eq!(err.name(), "InconsistentStorage");
    assert!(chunks.next().await.is_none());
    axon.fini().await;
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>),
    Del(usize),
    Get(usize, Option<(u64, u64)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::Put),
        (0usize..8).prop_map(Op::Del),
        (0usize..8, prop::option::of((0u64..320, 1u64..320))).prop_map(|(i, r)| Op::Get(i, r)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The store against a map: contents, ranges, presence and metrics.
    #[test]
    fn behaves_like_a_map(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let (_dir, axon) = open().await;
            let mut model: HashMap<Sha256, Vec<u8>> = HashMap::new();
            let mut names: Vec<Sha256> = Vec::new();
            for op in ops {
                match op {
                    Op::Put(data) => {
                        let (size, sha256) = axon.put(data.clone()).await.unwrap();
                        assert_eq!((size, sha256), (data.len() as u64, Sha256::of(&data)));
                        names.push(sha256);
                        model.insert(sha256, data);
                    }
                    Op::Del(indx) => {
                        let Some(sha256) = names.get(indx) else { continue };
                        let removed = axon.del(sha256).await.unwrap();
                        assert_eq!(removed, model.remove(sha256).is_some());
                    }
                    Op::Get(indx, range) => {
                        let Some(sha256) = names.get(indx) else { continue };
                        match model.get(sha256) {
                            None => assert!(axon.get(sha256, range).await.is_err()),
                            Some(data) => {
                                let got = read_all(&axon, sha256, range).await.concat();
                                let want = match range {
                                    None => data.clone(),
                                    Some((offs, size)) => {
                                        let start = (offs as usize).min(data.len());
                                        let end = (offs + size).min(data.len() as u64) as usize;
                                        data[start..end.max(start)].to_vec()
                                    }
                                };
                                assert_eq!(got, want);
                            }
                        }
                    }
                }
            }
            let metrics = axon.metrics();
            assert_eq!(metrics.file_count, model.len() as i64);
            assert_eq!(metrics.size_bytes, model.values().map(|d| d.len() as i64).sum::<i64>());
            for (sha256, data) in &model {
                assert_eq!(axon.size(sha256).await.unwrap(), Some(data.len() as u64));
            }
            axon.fini().await;
        });
    }
}
