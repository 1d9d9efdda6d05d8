//! The Axon link: readiness, the upload share and blob reads passed through, feeds from the
//! Axon. The Axon here is an in-memory stand-in implementing `AxonClient` (the real local
//! Axon is composed by synapse-servers and tested there).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;
use sha2::Digest;
use synapse_cell::{Args, MethDef, Reply, ShareObject};
use synapse_cortex::cortex::AxonClient;
use synapse_cortex::nodeedit::{buid, packb};

use crate::util::*;

#[derive(Default)]
struct MemAxon {
    blobs: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
}

struct MemUpload {
    blobs: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>,
    buf: Mutex<Vec<u8>>,
}

impl ShareObject for MemUpload {
    fn typename(&self) -> &str {
        "upload"
    }
    fn methods(&self) -> Vec<MethDef> {
        vec![MethDef::call("write"), MethDef::call("save")]
    }
    fn classes(&self) -> Vec<String> {
        vec!["synapse.axon.UpLoadShare".into()]
    }
    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, synapse_cell::Result<Reply>> {
        let meth = meth.to_owned();
        Box::pin(async move {
            match meth.as_str() {
                "write" => {
                    let Some(Value::Binary(byts)) = args.args.first() else {
                        return Err(synapse_cell::Error::bad_arg("bytes"));
                    };
                    self.buf.lock().unwrap().extend_from_slice(byts);
                    Ok(Reply::Value(Value::Nil))
                }
                _ => {
                    let byts = std::mem::take(&mut *self.buf.lock().unwrap());
                    let sha = sha2::Sha256::digest(&byts).to_vec();
                    let size = byts.len();
                    self.blobs.lock().unwrap().insert(sha.clone(), byts);
                    Ok(Reply::Value(list(vec![
                        Value::from(size),
                        Value::Binary(sha),
                    ])))
                }
            }
        })
    }
}

impl AxonClient for MemAxon {
    fn call<'a>(&'a self, meth: &'a str, args: Args) -> BoxFuture<'a, synapse_cell::Result<Reply>> {
        Box::pin(async move {
            match meth {
                "upload" => Ok(Reply::Share(Arc::new(MemUpload {
                    blobs: Arc::clone(&self.blobs),
                    buf: Mutex::new(Vec::new()),
                }))),
                "get" => {
                    let Some(Value::Binary(sha)) = args.args.first() else {
                        return Err(synapse_cell::Error::bad_arg("sha256 bytes"));
                    };
                    let byts = self
                        .blobs
                        .lock()
                        .unwrap()
                        .get(sha)
                        .cloned()
                        .unwrap_or_default();
                    let chunks: Vec<synapse_cell::Result<Value>> = byts
                        .chunks(3)
                        .map(|c| Ok(Value::Binary(c.to_vec())))
                        .collect();
                    Ok(Reply::Genr(futures::stream::iter(chunks).boxed()))
                }
                "iterMpkFile" => {
                    let sha = hex::decode(args.args[0].as_str().unwrap()).unwrap();
                    let byts = self
                        .blobs
                        .lock()
                        .unwrap()
                        .get(&sha)
                        .cloned()
                        .unwrap_or_default();
                    let mut cursor = byts.as_slice();
                    let mut items = Vec::new();
                    while !cursor.is_empty() {
                        items.push(Ok(rmpv::decode::read_value(&mut cursor).unwrap()));
                    }
                    Ok(Reply::Genr(futures::stream::iter(items).boxed()))
                }
                other => Err(synapse_cell::Error::named("NoSuchMeth", other.to_string())),
            }
        })
    }
}

#[tokio::test]
async fn axon_upload_bytes_and_feeds() {
    let (_dir, core) = fresh().await;
    let api = root(&core);
    let cortex = core.service().clone();
    assert!(!cortex.axon_ready());

    // a caller waiting for the Axon gets it once it is set
    let api2 = root(&core);
    let waiting = tokio::spawn(async move {
        let Reply::Share(share) = api2.call("getAxonUpload", Args::default()).await.unwrap() else {
            panic!("not a share")
        };
        share
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    cortex.set_axon(Arc::new(MemAxon::default()));
    let upload = waiting.await.unwrap();
    assert!(cortex.axon_ready());
    let info = call(&api, "getCellInfo", vec![]).await.unwrap();
    assert_eq!(get(get(&info, "cell"), "axon:ready"), &Value::Boolean(true));

    upload
        .call(
            "write",
            Args::positional(vec![Value::Binary(b"asdf".to_vec())]),
        )
        .await
        .unwrap();
    upload
        .call(
            "write",
            Args::positional(vec![Value::Binary(b"qwer".to_vec())]),
        )
        .await
        .unwrap();
    let Reply::Value(saved) = upload.call("save", Args::default()).await.unwrap() else {
        panic!("save")
    };
    let sha = sha2::Sha256::digest(b"asdfqwer").to_vec();
    assert_eq!(
        saved,
        list(vec![Value::from(8), Value::Binary(sha.clone())])
    );
    let chunks = genr(&api, "getAxonBytes", vec![s(&hex::encode(sha))])
        .await
        .unwrap();
    let joined: Vec<u8> = chunks
        .iter()
        .flat_map(|c| match c {
            Value::Binary(b) => b.clone(),
            _ => panic!("not bytes"),
        })
        .collect();
    assert_eq!(joined, b"asdfqwer");
    let err = genr(&api, "getAxonBytes", vec![s("zz")]).await.unwrap_err();
    assert_eq!(err.name(), "BadArg");

    // a .nodes file: msgpack podes back to back
    let mut nodes = Vec::new();
    for i in 0..5u32 {
        nodes.extend(packb(&nodedef(
            "inet:ipv4",
            Value::from(i),
            dict(vec![(
                "tags",
                dict(vec![("from.axon", list(vec![Value::Nil, Value::Nil]))]),
            )]),
        )));
    }
    let Reply::Value(saved) = ({
        let Reply::Share(up) = api.call("getAxonUpload", Args::default()).await.unwrap() else {
            panic!("share")
        };
        up.call("write", Args::positional(vec![Value::Binary(nodes)]))
            .await
            .unwrap();
        up.call("save", Args::default()).await.unwrap()
    }) else {
        panic!("save")
    };
    let Value::Binary(sha) = &saved.as_array().unwrap()[1] else {
        panic!("sha")
    };
    let count = call(&api, "feedFromAxon", vec![s(&hex::encode(sha))])
        .await
        .unwrap();
    assert_eq!(count, Value::from(5));
    let view = cortex.default_view();
    for i in 0..5u32 {
        let node = view
            .get_node(buid("inet:ipv4", &Value::from(i)))
            .await
            .unwrap()
            .unwrap();
        assert!(node.tag("from.axon").is_some());
    }

    // permissions
    let (visi, iden) = user(&core, "visi").await;
    let err = call(&visi, "getAxonUpload", vec![]).await.unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.mesg(),
        format!("User 'visi' ({iden}) must have permission axon.upload")
    );
    assert_eq!(
        genr(&visi, "getAxonBytes", vec![s(&hex::encode(sha))])
            .await
            .unwrap_err()
            .name(),
        "AuthDeny"
    );
    assert_eq!(
        call(&visi, "feedFromAxon", vec![s(&hex::encode(sha))])
            .await
            .unwrap_err()
            .name(),
        "AuthDeny"
    );
}
