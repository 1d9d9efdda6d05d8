//! A service built on the cell (extra directives, telepath methods by table and by hook, a
//! share, a generator, an HTTP route, health and perm defs), driven over a real telepath
//! Daemon with the Rust Proxy.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use futures::StreamExt;
use futures::future::BoxFuture;
use rmpv::Value;
use serde_json::json;
use synapse_cell::{
    Args, Cell, CellOptions, ConfDef, ConfType, HealthComponent, MethDef, Reply, Result, Route,
    Service, ServiceApi, ServiceCell, ServiceDef, Session, handler, ok,
};
use synapse_telepath::{Call, Methods, Proxy, RemoteError, genr};

use crate::http::{basic, send};

struct Widget {
    max: i64,
    made: AtomicI64,
    table: Arc<Methods<ServiceApi<Widget>>>,
}

struct Counter {
    total: AtomicI64,
}

fn widget_table() -> Arc<Methods<ServiceApi<Widget>>> {
    Arc::new(
        Methods::<ServiceApi<Widget>>::new(["example.WidgetApi", "synapse.lib.cell.CellApi"])
            .unary(
                "makeWidget",
                |api: Arc<ServiceApi<Widget>>, mut call: Call| async move {
                    let name: String = call.params(&["name"])?.req("name")?;
                    api.sess.req_allowed(&["widget".into(), "make".into()])?;
                    let made = api.service.made.fetch_add(1, Ordering::SeqCst) + 1;
                    if made > api.service.max {
                        return Err(RemoteError::new("HitLimit", "Too many widgets."));
                    }
                    Ok(Value::from(format!("{name}:{made}")))
                },
            )
            .genr(
                "iterWidgets",
                |api: Arc<ServiceApi<Widget>>, mut call: Call| {
                    let n: i64 = call.params(&["n"])?.req("n")?;
                    let user = api.sess.user_iden();
                    Ok(genr(move |y| async move {
                        for i in 0..n {
                            y.emit(Value::from(format!("{user}:{i}"))).await;
                        }
                        Ok(())
                    }))
                },
            )
            .share(
                "counter",
                |_api: Arc<ServiceApi<Widget>>, _call: Call| async move {
                    let methods = Arc::new(Methods::<Counter>::new(["example.Counter"]).unary(
                        "add",
                        |ctr: Arc<Counter>, mut call: Call| async move {
                            let n: i64 = call.params(&["n"])?.req("n")?;
                            Ok(Value::from(ctr.total.fetch_add(n, Ordering::SeqCst) + n))
                        },
                    ));
                    Ok(methods.bind(Arc::new(Counter {
                        total: AtomicI64::new(0),
                    })))
                },
            ),
    )
}

/// A share made the `ShareObject` way.
struct LegacyCounter {
    total: AtomicI64,
}

impl synapse_cell::ShareObject for LegacyCounter {
    fn typename(&self) -> &str {
        "counter"
    }

    fn methods(&self) -> Vec<MethDef> {
        vec![MethDef::call("add")]
    }

    fn classes(&self) -> Vec<String> {
        vec![
            "example.LegacyCounter".into(),
            "synapse.lib.share.Share".into(),
        ]
    }

    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, Result<Reply>> {
        let meth = meth.to_string();
        Box::pin(async move {
            match meth.as_str() {
                "add" => {
                    let bound = args.bind(
                        "LegacyCounter.add",
                        &[("n", synapse_cell::ArgDefault::Required)],
                    )?;
                    let n = bound.opt_int(0, "n")?.unwrap_or(0);
                    Ok(Reply::Value(Value::from(
                        self.total.fetch_add(n, Ordering::SeqCst) + n,
                    )))
                }
                other => Err(synapse_cell::Error::new(
                    synapse_cell::ErrKind::NoSuchMeth,
                    format!("LegacyCounter has no method: {other}."),
                )),
            }
        })
    }
}

impl Service for Widget {
    fn def() -> ServiceDef {
        let mut def = ServiceDef::new("widget");
        def.confdefs.push(
            ConfDef::new("widget:max", &[ConfType::Integer], "Most widgets.")
                .default(json!(3))
                .with_schema(|s| s.minimum(1.0)),
        );
        def.api_classes = vec!["example.WidgetApi".into()];
        def.features = vec![("widgets".into(), 2)];
        def.version = [1, 2, 3];
        def
    }

    async fn init(cell: &Cell) -> Result<Self> {
        Ok(Widget {
            max: cell.conf().get_i64("widget:max").unwrap_or(3),
            made: AtomicI64::new(0),
            table: widget_table(),
        })
    }

    fn api_table(&self) -> Option<Arc<Methods<ServiceApi<Self>>>> {
        Some(self.table.clone())
    }

    fn methods(&self) -> Vec<MethDef> {
        vec![
            MethDef::call("widgetCount"),
            MethDef::genr("legacyGenr"),
            MethDef::call("legacyCounter"),
        ]
    }

    fn call<'a>(
        self: &'a Arc<Self>,
        sess: &'a Session,
        meth: &'a str,
        args: Args,
    ) -> Option<BoxFuture<'a, Result<Reply>>> {
        match meth {
            "widgetCount" => Some(Box::pin(async move {
                args.bind("WidgetApi.widgetCount", &[])?;
                sess.user()?;
                Ok(Reply::Value(Value::from(self.made.load(Ordering::SeqCst))))
            })),
            "legacyGenr" => Some(Box::pin(async move {
                let bound = args.bind(
                    "WidgetApi.legacyGenr",
                    &[("n", synapse_cell::ArgDefault::Required)],
                )?;
                let n = bound.opt_int(0, "n")?.unwrap_or(0);
                let items: Vec<Result<Value>> = (0..n).map(|i| Ok(Value::from(i))).collect();
                Ok(Reply::Genr(futures::stream::iter(items).boxed()))
            })),
            "legacyCounter" => Some(Box::pin(async move {
                Ok(Reply::Share(Arc::new(LegacyCounter {
                    total: AtomicI64::new(10),
                })))
            })),
            // override a CellApi method
            "getCellType" => Some(Box::pin(
                async move { Ok(Reply::Value(Value::from("widget!"))) },
            )),
            _ => None,
        }
    }

    fn routes(self: &Arc<Self>) -> Vec<Route> {
        let svc = self.clone();
        vec![
            Route::new("/api/v1/widget/(\\d+)").get(handler(move |mut req| {
                let svc = svc.clone();
                async move {
                    if let Err(resp) = req.req_allowed(&["widget", "get"], false, None).await {
                        return resp;
                    }
                    let n: i64 = req.param(0).parse().unwrap_or(0);
                    ok(json!({"n": n, "made": svc.made.load(Ordering::SeqCst)}))
                }
            })),
        ]
    }

    fn perm_defs(&self) -> Vec<Value> {
        vec![synapse_cell::map([
            (
                "perm",
                Value::Array(vec![Value::from("widget"), Value::from("make")]),
            ),
            ("desc", Value::from("Make widgets.")),
        ])]
    }

    async fn health(&self) -> Vec<HealthComponent> {
        vec![HealthComponent {
            name: "widgets".into(),
            status: "degraded".into(),
            mesg: "running low".into(),
            data: Value::Map(vec![]),
        }]
    }
}

#[tokio::test]
async fn a_service_over_telepath_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CellOptions::new(dir.path().join("widget"), &Widget::def())
        .conf("auth:passwd", "secret".into())
        .unwrap()
        .conf("widget:max", 2.into())
        .unwrap();
    // bad service configuration is refused
    let bad = CellOptions::new(dir.path().join("bad"), &Widget::def()).conf("widget:max", 0.into());
    assert!(bad.is_err());

    let cell = ServiceCell::<Widget>::open(opts).await.unwrap();
    let auth = cell.cell().auth().clone();
    let visi = auth
        .add_user("visi", Some("visipass"), None, None)
        .await
        .unwrap();
    let addr = cell
        .cell()
        .daemon()
        .listen("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let port = match addr {
        synapse_telepath::ListenAddr::Tcp(sockaddr) => sockaddr.port(),
        other => panic!("{other:?}"),
    };

    // handshake failures
    let err = Proxy::open(&format!("tcp://root:wrong@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(err.remote().unwrap().mesg(), Some("Invalid password"));
    let err = Proxy::open(&format!("tcp://nobody:x@127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchUser");
    let err = Proxy::open(&format!("tcp://127.0.0.1:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");

    let root = Proxy::open(&format!("tcp://root:secret@127.0.0.1:{port}/"))
        .await
        .unwrap();
    assert_eq!(root.classes()[0], "example.WidgetApi");
    assert!(root.has_method("makeWidget"));
    assert!(root.has_method("getCellInfo"));
    assert!(root.is_genr("iterWidgets"));
    assert!(root.is_genr("getTasks"));
    assert!(root.has_feature("widgets", 2));
    assert!(root.has_feature("tellready", 1));
    assert_eq!(
        root.call("getCellType", vec![], vec![]).await.unwrap(),
        Value::from("widget!")
    );
    let info = synapse_cell::to_json(&root.call("getCellInfo", vec![], vec![]).await.unwrap());
    assert_eq!(info["cell"]["type"], "widget");
    assert_eq!(info["cell"]["version"], json!([1, 2, 3]));
    assert_eq!(info["synapse"]["version"], json!([2, 256, 0]));

    let made = root
        .call("makeWidget", vec![Value::from("a")], vec![])
        .await
        .unwrap();
    assert_eq!(made, Value::from("a:1"));
    let err = root.call("makeWidget", vec![], vec![]).await.unwrap_err();
    assert_eq!(err.name(), "TypeError");
    let items: Vec<_> = root
        .stream("iterWidgets", vec![Value::from(3)], vec![])
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3);
    let counter = root.share("counter", vec![], vec![]).await.unwrap();
    assert_eq!(
        counter
            .call("add", vec![Value::from(2)], vec![])
            .await
            .unwrap(),
        Value::from(2)
    );
    assert_eq!(
        counter
            .call("add", vec![Value::from(3)], vec![])
            .await
            .unwrap(),
        Value::from(5)
    );
    counter.fini().await;
    assert_eq!(
        root.call("widgetCount", vec![], vec![]).await.unwrap(),
        Value::from(1)
    );
    let perms = synapse_cell::to_json(&root.call("getPermDefs", vec![], vec![]).await.unwrap());
    assert_eq!(perms[0]["perm"], json!(["widget", "make"]));
    let health = synapse_cell::to_json(&root.call("getHealthCheck", vec![], vec![]).await.unwrap());
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["components"][0]["name"], "widgets");
    let sessions =
        synapse_cell::to_json(&root.call("getDmonSessions", vec![], vec![]).await.unwrap());
    assert_eq!(sessions[0]["items"]["null"], "example.WidgetApi");

    // a non-admin: service permission checks, and every CellApi method is still there
    let user = Proxy::open(&format!("tcp://visi:visipass@127.0.0.1:{port}/"))
        .await
        .unwrap();
    let err = user
        .call("makeWidget", vec![Value::from("b")], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("User must have permission widget.make")
    );
    auth.add_user_rule(
        &visi.iden,
        synapse_cell::Rule::new(true, &["widget"]),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        user.call("makeWidget", vec![Value::from("b")], vec![])
            .await
            .unwrap(),
        Value::from("b:2")
    );
    let err = user
        .call("makeWidget", vec![Value::from("c")], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "HitLimit");
    let err = user
        .call("addUser", vec![Value::from("x")], vec![])
        .await
        .unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("User is not an admin [visi]")
    );
    let me = synapse_cell::to_json(&user.call("getCellUser", vec![], vec![]).await.unwrap());
    assert_eq!(me["name"], "visi");
    let err = user.call("_private", vec![], vec![]).await.unwrap_err();
    assert_eq!(err.name(), "NoSuchMeth");

    // the HTTP route of the service, then the cell's
    let api = cell.http();
    let vauth = basic("visi", "visipass");
    let resp = send(
        &api,
        "GET",
        "/api/v1/widget/7",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.json()["result"], json!({"n": 7, "made": 3}));
    let resp = send(
        &api,
        "GET",
        "/api/v1/widget/x",
        &[("Authorization", &vauth)],
        None,
    )
    .await;
    assert_eq!(resp.status, http::StatusCode::NOT_FOUND);
    let resp = send(&api, "GET", "/api/v1/active", &[], None).await;
    assert_eq!(resp.status, http::StatusCode::OK);

    user.fini().await;
    root.fini().await;
    cell.fini().await;
}

#[tokio::test]
async fn anonymous_unix_socket_and_shutdown() {
    let (_dir, cell) = crate::open_cell(&[("auth:anon", json!("visi"))]).await;
    let auth = cell.cell().auth().clone();
    let sock = cell.cell().dirn().join("sock");
    let daemon = cell.cell().daemon();
    daemon
        .listen(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let addr = daemon.listen("tcp://127.0.0.1:0").await.unwrap();
    let port = match addr {
        synapse_telepath::ListenAddr::Tcp(sockaddr) => sockaddr.port(),
        other => panic!("{other:?}"),
    };
    let anon = format!("tcp://127.0.0.1:{port}/");

    // the anonymous user must exist
    let err = Proxy::open(&anon).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("Anon user (visi) is not found.")
    );
    let visi = auth.add_user("visi", None, None, None).await.unwrap();
    let prox = Proxy::open(&anon).await.unwrap();
    let me = synapse_cell::to_json(&prox.call("getCellUser", vec![], vec![]).await.unwrap());
    assert_eq!(me["name"], "visi");
    prox.fini().await;
    auth.set_user_locked(&visi.iden, true).await.unwrap();
    let err = Proxy::open(&anon).await.unwrap_err();
    assert_eq!(
        err.remote().unwrap().mesg(),
        Some("Anon user (visi) is locked.")
    );

    // the unix socket trusts its peer: root by default, any user by name, no password
    let prox = Proxy::open(&format!("cell://{}", cell.cell().dirn().display()))
        .await
        .unwrap();
    let me = synapse_cell::to_json(&prox.call("getCellUser", vec![], vec![]).await.unwrap());
    assert_eq!(me["name"], "root");
    let family =
        synapse_cell::to_json(&prox.call("getDmonSessions", vec![], vec![]).await.unwrap());
    assert!(
        family
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["conninfo"]["family"] == "unix")
    );
    prox.fini().await;
    let prox = Proxy::open(&format!("unix://visi@{}", sock.display()))
        .await
        .unwrap();
    let me = synapse_cell::to_json(&prox.call("getCellUser", vec![], vec![]).await.unwrap());
    assert_eq!(me["name"], "visi");
    prox.fini().await;
    let err = Proxy::open(&format!("unix://nobody@{}", sock.display()))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "NoSuchUser");

    // a remote graceful shutdown tears the cell down
    let root = Proxy::open(&format!("cell://{}", cell.cell().dirn().display()))
        .await
        .unwrap();
    assert_eq!(
        root.call("shutdown", vec![], vec![]).await.unwrap(),
        Value::Boolean(true)
    );
    assert!(
        cell.cell()
            .base()
            .wait_fini(Some(std::time::Duration::from_secs(30)))
            .await
    );
    assert!(
        cell.cell()
            .boss()
            .spawn(synapse_cell::TaskOpts::new("x", "u", "v"), async {})
            .is_err()
    );
}
