//! A test server exposing the same methods as the reference capture's `VecAxonApi`, with
//! password authentication (`root/secret`, `visi/visipass`, `locked/lockedpass` locked).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use sha2::Digest;
use synapse_telepath::{
    AuthRequest, Authenticator, Call, Daemon, Family, Identity, Methods, RemoteError, Session,
    Share, ShareFactory, Value, genr, vmap,
};

/// Shared state the tests inspect.
#[derive(Default)]
pub(crate) struct State {
    /// Generators cancelled (dropped before their end).
    pub(crate) cancelled: AtomicUsize,
    /// Uploads saved.
    pub(crate) saved: Mutex<Vec<Vec<u8>>>,
    /// Shares torn down.
    pub(crate) share_finis: AtomicUsize,
    /// API objects torn down (one per session).
    pub(crate) api_finis: AtomicUsize,
}

pub(crate) struct TestApi {
    pub(crate) state: Arc<State>,
    pub(crate) user: Option<Identity>,
    pub(crate) path: Vec<String>,
}

struct CancelGuard(Arc<State>, bool);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub(crate) struct Upload {
    state: Arc<State>,
    buf: Mutex<Vec<u8>>,
}

fn upload_methods() -> Arc<Methods<Upload>> {
    Arc::new(
        Methods::<Upload>::new([
            "synapse.axon.UpLoadShare",
            "synapse.axon.UpLoad",
            "synapse.lib.share.Share",
            "synapse.lib.base.Base",
        ])
        .typename("upload")
        .unary("write", |up, mut call: Call| async move {
            let byts: Vec<u8> = call.params(&["byts"])?.req("byts")?;
            up.buf.lock().unwrap().extend_from_slice(&byts);
            Ok(Value::Nil)
        })
        .unary("save", |up, mut call: Call| async move {
            call.no_args()?;
            let byts = std::mem::take(&mut *up.buf.lock().unwrap());
            let size = byts.len();
            let sha256 = sha2::Sha256::digest(&byts).to_vec();
            up.state.saved.lock().unwrap().push(byts);
            Ok(Value::Array(vec![Value::from(size), Value::from(sha256)]))
        })
        .on_fini(|up| async move {
            up.state.share_finis.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

/// The `CellApi` part: methods the reference defines on `CellApi` (argument errors name it).
fn cell_methods() -> Methods<TestApi> {
    Methods::<TestApi>::new([
        "synapse.lib.cell.CellApi",
        "synapse.lib.share.Share",
        "synapse.lib.base.Base",
    ])
    .unary("getCellIden", |_api, mut call: Call| async move {
        call.no_args()?;
        Ok("6b8ae65ee1b2bf1256e20a8335e34c17")
    })
    .unary("getCellType", |_api, mut call: Call| async move {
        call.no_args()?;
        Ok("vecaxon")
    })
    .unary("getCellUser", |api, mut call: Call| async move {
        call.no_args()?;
        let user = api.user.clone().unwrap_or(Identity {
            iden: String::new(),
            name: String::new(),
        });
        // The layout of the reference's user info.
        Ok(vmap([
            ("type", Value::from("user")),
            ("iden", Value::from(user.iden)),
            ("name", Value::from(user.name.as_str())),
            ("rules", Value::Array(vec![])),
            ("roles", Value::Array(vec![])),
            ("admin", Value::from(user.name == "root")),
            ("email", Value::Nil),
            ("locked", Value::from(false)),
            ("archived", Value::from(false)),
            ("authgates", Value::Map(vec![])),
        ]))
    })
    .unary("addUser", |_api, mut call: Call| async move {
        let mut params = call.params(&["name", "passwd=", "email=", "iden="])?;
        let name: String = params.req("name")?;
        if USERS.iter().any(|user| user.0 == name) {
            return Err(RemoteError::new(
                "DupUserName",
                format!("Duplicate username, name='{name}' already exists."),
            )
            .with("name", name.as_str()));
        }
        Ok(vmap([("name", name)]))
    })
    .unary("getAuthUsers", |api, mut call: Call| async move {
        call.params(&["archived="])?;
        let user = api
            .user
            .clone()
            .ok_or_else(|| RemoteError::auth_deny("no user"))?;
        if user.name != "root" {
            return Err(RemoteError::not_admin(&user.name, &user.iden));
        }
        Ok(Value::Array(
            USERS.iter().map(|user| vmap([("name", user.0)])).collect(),
        ))
    })
}

pub(crate) fn api_methods() -> Arc<Methods<TestApi>> {
    let uploads = upload_methods();
    let cell = cell_methods();
    Arc::new(
        Methods::<TestApi>::new([
            "capture.VecAxonApi",
            "synapse.axon.AxonApi",
            "synapse.lib.cell.CellApi",
            "synapse.lib.share.Share",
            "synapse.lib.base.Base",
        ])
        .inherit(&cell, Arc::clone)
        .genr("get", |_api, mut call: Call| {
            let sha256: Vec<u8> = call.params(&["sha256", "offs=", "size="])?.req("sha256")?;
            Ok(genr(move |y| async move {
                if sha256 != sha2::Sha256::digest(b"hello world").to_vec() {
                    return Err(RemoteError::new("NoSuchFile", "no such file"));
                }
                y.emit(b"hello world".to_vec()).await;
                Ok(())
            }))
        })
        .unary("echo", |_api, call: Call| async move {
            let kwargs: Vec<(Value, Value)> = call
                .kwargs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect();
            Ok(Value::Array(vec![
                Value::Array(call.args),
                Value::Map(kwargs),
            ]))
        })
        .genr("genr", |_api, mut call: Call| {
            let n: i64 = call.params(&["n"])?.req("n")?;
            Ok(genr(move |y| async move {
                for i in 0..n {
                    y.emit(Value::Array(vec![Value::from("item"), Value::from(i)]))
                        .await;
                }
                Ok(())
            }))
        })
        .genr("genrFail", |_api, mut call: Call| {
            let n: i64 = call.params(&["n"])?.req("n")?;
            Ok(genr(move |y| async move {
                for i in 0..n {
                    y.emit(i).await;
                }
                Err(RemoteError::bad_arg(format!("genrFail after {n} items")).with("count", n))
            }))
        })
        .genr("slowGenr", |api, mut call: Call| {
            let n: i64 = call.params(&["n"])?.req("n")?;
            let state = Arc::clone(&api.state);
            Ok(genr(move |y| async move {
                let mut guard = CancelGuard(state, false);
                for i in 0..n {
                    y.emit(i).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                guard.1 = true;
                Ok(())
            }))
        })
        .genr("bigGenr", |_api, mut call: Call| {
            let mut params = call.params(&["n", "size="])?;
            let n: u64 = params.req("n")?;
            let size: usize = params.or("size", 0)?;
            Ok(genr(move |y| async move {
                for i in 0..n {
                    if size == 0 {
                        y.emit(i).await;
                    } else {
                        y.emit(vec![(i % 251) as u8; size]).await;
                    }
                }
                Ok(())
            }))
        })
        .method("syncGenr", false, |_api, mut call: Call| async move {
            let n: i64 = call.params(&["n"])?.req("n")?;
            let items = (0..n).map(|i| Ok(Value::from(i * 10)));
            Ok(synapse_telepath::Reply::Stream(Box::pin(
                futures::stream::iter(items),
            )))
        })
        .unary("raiseSynErr", |_api, mut call: Call| async move {
            call.no_args()?;
            Err::<Value, _>(RemoteError::bad_arg("you passed a bad arg").with("arg", "foo"))
        })
        .unary("raiseBuiltin", |_api, mut call: Call| async move {
            call.no_args()?;
            Err::<Value, _>(RemoteError::new("ValueError", "a plain python ValueError"))
        })
        .unary("sleep", |_api, mut call: Call| async move {
            let secs: f64 = call.params(&["secs"])?.req("secs")?;
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Ok(true)
        })
        .unary("bytes", |_api, mut call: Call| async move {
            let size: usize = call.params(&["size"])?.req("size")?;
            Ok(vec![7u8; size])
        })
        .unary("getPath", |api, mut call: Call| async move {
            call.no_args()?;
            Ok(Value::Array(
                api.path
                    .iter()
                    .map(|part| Value::from(part.as_str()))
                    .collect(),
            ))
        })
        .unary("watchCancel", |api, mut call: Call| async move {
            call.no_args()?;
            // Record when the call is cancelled (the handler itself is dropped then).
            let token = call.ctx.token().clone();
            let state = Arc::clone(&api.state);
            tokio::spawn(async move {
                token.cancelled().await;
                state.cancelled.fetch_add(1, Ordering::SeqCst);
            });
            std::future::pending::<()>().await;
            Ok(Value::Nil)
        })
        .unary("_secret", |_api, _call: Call| async move {
            Ok("should never be reachable")
        })
        .share("upload", move |api, mut call: Call| {
            let uploads = Arc::clone(&uploads);
            async move {
                call.no_args()?;
                let up = Upload {
                    state: Arc::clone(&api.state),
                    buf: Mutex::new(Vec::new()),
                };
                Ok(uploads.bind(Arc::new(up)))
            }
        })
        .on_fini(|api| async move {
            api.state.api_finis.fetch_add(1, Ordering::SeqCst);
        }),
    )
}

/// Password checks as a Cell would do them.
pub(crate) struct TestAuth;

const USERS: &[(&str, &str, &str, bool)] = &[
    ("root", "dee7a1daba7afe2d77fdee59aec7a5f9", "secret", false),
    (
        "visi",
        "b6e6c90aab82fe1974a42b9504a57299",
        "visipass",
        false,
    ),
    (
        "locked",
        "962b8d32dbe44444483041d0be7d9650",
        "lockedpass",
        true,
    ),
];

impl Authenticator for TestAuth {
    fn authenticate<'a>(
        &'a self,
        req: &'a AuthRequest,
    ) -> BoxFuture<'a, Result<Identity, RemoteError>> {
        async move {
            let trusted = req.peer.family == Family::Unix;
            // A verified client certificate names the user (and overrides auth).
            if let Some(cn) = &req.peer.cert_cn {
                let name = cn.split('@').next().unwrap_or(cn);
                let Some((name, iden, _, locked)) = USERS.iter().find(|u| u.0 == name) else {
                    return Err(RemoteError::no_such_user(cn));
                };
                if *locked {
                    return Err(RemoteError::auth_deny(format!("User ({name}) is locked.")));
                }
                return Ok(Identity {
                    iden: (*iden).to_owned(),
                    name: (*name).to_owned(),
                });
            }
            let name = match (&req.user, trusted) {
                (Some(name), _) => name.clone(),
                (None, true) => "root".to_owned(),
                (None, false) => return Err(RemoteError::no_anon_user()),
            };
            let Some((name, iden, passwd, locked)) = USERS.iter().find(|u| u.0 == name) else {
                return Err(RemoteError::no_such_user(&name));
            };
            if !trusted && (*locked || req.passwd.as_deref() != Some(*passwd)) {
                return Err(RemoteError::invalid_password(name, iden));
            }
            Ok(Identity {
                iden: (*iden).to_owned(),
                name: (*name).to_owned(),
            })
        }
        .boxed()
    }
}

/// Makes one `TestApi` per session.
pub(crate) struct TestFactory {
    pub(crate) state: Arc<State>,
    pub(crate) methods: Arc<Methods<TestApi>>,
}

impl ShareFactory for TestFactory {
    fn features(&self) -> Option<Value> {
        Some(vmap([
            ("tellready", 1),
            ("dynmirror", 1),
            ("tasks", 1),
            ("issuewait", 1),
            ("shutdowndrain", 1),
            ("byterange", 1),
            ("unpack", 1),
        ]))
    }

    fn open<'a>(
        &'a self,
        sess: &'a Session,
        path: &'a [String],
    ) -> BoxFuture<'a, Result<Arc<dyn Share>, RemoteError>> {
        let api = TestApi {
            state: Arc::clone(&self.state),
            user: sess.user().cloned(),
            path: path.to_vec(),
        };
        futures::future::ready(Ok(self.methods.bind(Arc::new(api)))).boxed()
    }
}

/// A daemon sharing the test API as `*` and `vecaxon`, with password auth.
pub(crate) fn test_daemon() -> (Daemon, Arc<State>) {
    test_daemon_with(synapse_telepath::DaemonConfig::default())
}

/// [`test_daemon`] with settings.
pub(crate) fn test_daemon_with(conf: synapse_telepath::DaemonConfig) -> (Daemon, Arc<State>) {
    let state = Arc::new(State::default());
    let daemon = Daemon::with_config(conf);
    let factory = Arc::new(TestFactory {
        state: Arc::clone(&state),
        methods: api_methods(),
    });
    daemon.share_factory("*", factory.clone());
    daemon.share_factory("vecaxon", factory);
    daemon.set_auth(Arc::new(TestAuth));
    daemon.set_ahainfo(Some(vmap([("name", Value::Nil)])));
    (daemon, state)
}

/// A test daemon listening on a free TCP port: (daemon, state, "tcp://127.0.0.1:port").
pub(crate) async fn tcp_daemon() -> (Daemon, Arc<State>, String) {
    let (daemon, state) = test_daemon();
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    (
        daemon,
        state,
        format!("tcp://127.0.0.1:{}", addr.port().unwrap()),
    )
}
