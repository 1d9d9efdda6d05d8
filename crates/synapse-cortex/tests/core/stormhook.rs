//! The Storm runtime hook: with a runtime installed the storm methods are offered and get
//! the caller as `opts.user` (another user needs `impersonate`); errors keep their class.
//! The runtime here only echoes what it was given: it tests the plumbing, not Storm.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rmpv::Value;
use synapse_cell::Error;
use synapse_cortex::cortex::{Cortex, StormCall, StormRuntime};

use crate::util::*;

struct Echo;

fn described(call: &StormCall) -> Value {
    dict(vec![
        ("text", s(&call.text)),
        ("user", s(&call.user.name)),
        ("opts", call.opts.clone()),
    ])
}

impl StormRuntime for Echo {
    fn storm(&self, _core: Arc<Cortex>, call: StormCall) -> BoxStream<'static, Value> {
        let msgs = vec![
            list(vec![s("init"), dict(vec![])]),
            list(vec![s("print"), described(&call)]),
            list(vec![s("fini"), dict(vec![])]),
        ];
        futures::stream::iter(msgs).boxed()
    }

    fn call_storm(
        &self,
        _core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxFuture<'static, synapse_cell::Result<Value>> {
        Box::pin(async move {
            if call.text == "raise" {
                return Err(Error::named("StormRaise", "bad thing").with("errname", "FooErr"));
            }
            Ok(described(&call))
        })
    }

    fn count(
        &self,
        _core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxFuture<'static, synapse_cell::Result<i64>> {
        Box::pin(async move { Ok(call.text.len() as i64) })
    }

    fn export_storm(
        &self,
        _core: Arc<Cortex>,
        call: StormCall,
    ) -> BoxStream<'static, synapse_cell::Result<Value>> {
        futures::stream::iter(vec![Ok(described(&call))]).boxed()
    }

    fn req_valid_storm(&self, text: &str, _opts: &Value) -> synapse_cell::Result<()> {
        if text.contains('[') && !text.contains(']') {
            return Err(Error::named("BadSyntax", "Unexpected token").with("at", 1));
        }
        Ok(())
    }
}

#[tokio::test]
async fn storm_methods_go_to_the_runtime() {
    let (_dir, core) = fresh().await;
    core.service().set_storm_runtime(Arc::new(Echo));
    let api = root(&core);
    assert!(api.methods().iter().any(|m| m.name == "storm" && m.genr));
    assert!(
        api.methods()
            .iter()
            .any(|m| m.name == "exportStorm" && m.genr)
    );
    assert!(
        api.methods()
            .iter()
            .any(|m| m.name == "callStorm" && !m.genr)
    );

    let msgs = genr(
        &api,
        "storm",
        vec![s("inet:ipv4"), dict(vec![("repr", Value::Boolean(true))])],
    )
    .await
    .unwrap();
    assert_eq!(msgs.len(), 3);
    let info = &msgs[1].as_array().unwrap()[1];
    assert_eq!(get(info, "user"), &s("root"));
    let opts = get(info, "opts");
    assert_eq!(get(opts, "repr"), &Value::Boolean(true));
    let root_iden = core.cell().auth().root_iden();
    assert_eq!(get(opts, "user"), &s(&root_iden));

    let res = call(&api, "callStorm", vec![s("return(1)")]).await.unwrap();
    assert_eq!(get(&res, "text"), &s("return(1)"));
    let err = call(&api, "callStorm", vec![s("raise")]).await.unwrap_err();
    assert_eq!(err.name(), "StormRaise");
    assert_eq!(err.get("errname").and_then(|v| v.as_str()), Some("FooErr"));
    assert_eq!(
        call(&api, "count", vec![s("abc")]).await.unwrap(),
        Value::from(3)
    );
    assert_eq!(
        genr(&api, "exportStorm", vec![s("x")]).await.unwrap().len(),
        1
    );
    assert_eq!(
        call(&api, "reqValidStorm", vec![s("inet:ipv4")])
            .await
            .unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        call(&api, "reqValidStorm", vec![s("[")])
            .await
            .unwrap_err()
            .name(),
        "BadSyntax"
    );
    let res = call(&api, "isValidStorm", vec![s("[")]).await.unwrap();
    let pair = res.as_array().unwrap();
    assert_eq!(pair[0], Value::Boolean(false));
    assert_eq!(pair[1].as_array().unwrap()[0], s("BadSyntax"));
    assert_eq!(
        call(&api, "isValidStorm", vec![s("x")]).await.unwrap(),
        list(vec![Value::Boolean(true), dict(vec![])])
    );
    assert_eq!(
        genr(&api, "storm", vec![Value::from(1)])
            .await
            .unwrap_err()
            .name(),
        "BadArg"
    );

    // impersonation
    let (visi, iden) = user(&core, "visi").await;
    let res = call(&visi, "callStorm", vec![s("x")]).await.unwrap();
    assert_eq!(get(&res, "user"), &s("visi"));
    let as_root = dict(vec![("user", s(&root_iden))]);
    let err = call(&visi, "callStorm", vec![s("x"), as_root.clone()])
        .await
        .unwrap_err();
    assert_eq!(err.name(), "AuthDeny");
    assert!(
        err.mesg().ends_with("must have permission impersonate"),
        "{}",
        err.mesg()
    );
    allow(&core, &iden, &["impersonate"], None).await;
    let res = call(&visi, "callStorm", vec![s("x"), as_root])
        .await
        .unwrap();
    assert_eq!(get(&res, "user"), &s("root"));
}
