//! The telepath CellApi, called in-process as a session user.

use rmpv::Value;
use serde_json::json;
use synapse_cell::{Args, BaseCell, CellApi, ConnInfo, ErrKind, Reply, TaskOpts, to_json};

use crate::open_cell;

fn s(text: &str) -> Value {
    Value::from(text)
}

async fn call(
    api: &CellApi<BaseCell>,
    meth: &str,
    args: Vec<Value>,
) -> synapse_cell::Result<Value> {
    call_kw(api, meth, args, vec![]).await
}

async fn call_kw(
    api: &CellApi<BaseCell>,
    meth: &str,
    args: Vec<Value>,
    kwargs: Vec<(&str, Value)>,
) -> synapse_cell::Result<Value> {
    let args = Args {
        args,
        kwargs: kwargs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    };
    match api.call(meth, args).await? {
        Reply::Value(valu) => Ok(valu),
        other => panic!("unexpected reply {other:?}"),
    }
}

fn rule(allow: bool, path: &[&str]) -> Value {
    Value::Array(vec![
        Value::Boolean(allow),
        Value::Array(path.iter().map(|p| s(p)).collect()),
    ])
}

#[tokio::test]
async fn cell_info_and_identity() {
    let (_dir, cell) = open_cell(&[]).await;
    let root = cell.cell().auth().root_iden();
    let api = cell.session(&root, ConnInfo::local());
    assert_eq!(call(&api, "getCellType", vec![]).await.unwrap(), s("cell"));
    assert_eq!(
        call(&api, "getCellIden", vec![]).await.unwrap(),
        s(cell.cell().iden())
    );
    assert_eq!(
        call(&api, "isCellActive", vec![]).await.unwrap(),
        Value::Boolean(true)
    );
    let info = to_json(&call(&api, "getCellInfo", vec![]).await.unwrap());
    assert_eq!(info["synapse"]["version"], json!([2, 256, 0]));
    assert_eq!(info["synapse"]["verstring"], "2.256.0");
    assert_eq!(info["cell"]["type"], "cell");
    assert_eq!(info["cell"]["iden"], cell.cell().iden());
    assert_eq!(info["cell"]["active"], true);
    assert_eq!(info["cell"]["cellvers"]["cell:storage"], 2);
    assert_eq!(info["features"]["tellready"], 1);
    assert_eq!(
        info["cell"]["aha"],
        json!({"name": null, "leader": null, "network": null})
    );
    let me = to_json(&call(&api, "getCellUser", vec![]).await.unwrap());
    assert_eq!(me["name"], "root");
    assert_eq!(me["admin"], true);
    let health = to_json(&call(&api, "getHealthCheck", vec![]).await.unwrap());
    assert_eq!(health["status"], "nominal");
    assert_eq!(
        call(&api, "ps", vec![]).await.unwrap(),
        Value::Array(vec![])
    );
    assert_eq!(
        call(&api, "kill", vec![s("nope")]).await.unwrap(),
        Value::Boolean(false)
    );
    assert_eq!(
        call(&api, "getPermDefs", vec![]).await.unwrap(),
        Value::Array(vec![])
    );
    let sysinfo = to_json(&call(&api, "getSystemInfo", vec![]).await.unwrap());
    assert!(sysinfo["volsize"].as_u64().unwrap() > 0);
    // no telepath sessions: the API was made in-process
    assert_eq!(
        call(&api, "getDmonSessions", vec![]).await.unwrap(),
        Value::Array(vec![])
    );

    // errors: unknown and private methods, bad arguments
    let err = call(&api, "nope", vec![]).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::NoSuchMeth);
    assert_eq!(err.mesg(), "CellApi has no method: nope.");
    assert_eq!(
        call(&api, "_secret", vec![]).await.unwrap_err().kind(),
        ErrKind::NoSuchMeth
    );
    let err = call(&api, "getCellIden", vec![s("x")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::TypeError);
    assert_eq!(
        err.mesg(),
        "CellApi.getCellIden() takes 1 positional argument but 2 were given"
    );
    cell.fini().await;
}

#[tokio::test]
async fn users_roles_rules_and_allowed() {
    let (_dir, cell) = open_cell(&[]).await;
    let auth = cell.cell().auth().clone();
    let root = auth.root_iden();
    let api = cell.session(&root, ConnInfo::local());

    let udef = to_json(
        &call(&api, "addUser", vec![s("visi"), s("visipass")])
            .await
            .unwrap(),
    );
    assert_eq!(udef["roles"][0]["name"], "all"); // full role defs
    let visi = udef["iden"].as_str().unwrap().to_string();
    let err = call(&api, "addUser", vec![s("visi")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::DupUserName);
    assert_eq!(
        err.mesg(),
        "Duplicate username, name='visi' already exists."
    );
    let rdef = to_json(&call(&api, "addRole", vec![s("analysts")]).await.unwrap());
    let role = rdef["iden"].as_str().unwrap().to_string();
    assert_eq!(
        call(&api, "addRole", vec![s("analysts")])
            .await
            .unwrap_err()
            .kind(),
        ErrKind::DupRoleName
    );

    call(&api, "addUserRole", vec![s(&visi), s(&role)])
        .await
        .unwrap();
    call(&api, "addRoleRule", vec![s(&role), rule(true, &["node"])])
        .await
        .unwrap();
    call(
        &api,
        "addUserRule",
        vec![s(&visi), rule(false, &["node", "del"])],
    )
    .await
    .unwrap();
    let allowed = |perm: &[&str]| {
        let api = &api;
        let visi = visi.clone();
        let perm = Value::Array(perm.iter().map(|p| s(p)).collect());
        async move {
            call(api, "isUserAllowed", vec![s(&visi), perm])
                .await
                .unwrap()
        }
    };
    assert_eq!(allowed(&["node", "add"]).await, Value::Boolean(true));
    assert_eq!(allowed(&["node", "del"]).await, Value::Boolean(false));
    assert_eq!(allowed(&["other"]).await, Value::Boolean(false));
    assert_eq!(
        call(
            &api,
            "isRoleAllowed",
            vec![s(&role), Value::Array(vec![s("node")])]
        )
        .await
        .unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        call(
            &api,
            "delUserRule",
            vec![s(&visi), rule(false, &["node", "del"])]
        )
        .await
        .unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(allowed(&["node", "del"]).await, Value::Boolean(true));

    // info shapes
    let info = to_json(&call(&api, "getUserInfo", vec![s("visi")]).await.unwrap());
    assert_eq!(info["roles"], json!(["all", "analysts"]));
    let users = to_json(&call(&api, "getAuthUsers", vec![]).await.unwrap());
    assert_eq!(users[1]["roles"][0], auth.all_role_iden());
    let tried = to_json(
        &call(&api, "tryUserPasswd", vec![s("visi"), s("visipass")])
            .await
            .unwrap(),
    );
    assert_eq!(tried["name"], "visi");
    assert_eq!(
        call(&api, "tryUserPasswd", vec![s("visi"), s("nope")])
            .await
            .unwrap(),
        Value::Nil
    );
    let byname = to_json(
        &call(&api, "getUserDefByName", vec![s("visi")])
            .await
            .unwrap(),
    );
    assert_eq!(byname["iden"], visi);
    assert_eq!(
        call(&api, "getUserDef", vec![s("nope")]).await.unwrap(),
        Value::Nil
    );
    let err = call(&api, "delUser", vec![s("nope")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::NoSuchUser);
    assert_eq!(err.mesg(), "No user with iden nope.");

    // profile
    call(
        &api,
        "setUserProfInfo",
        vec![s(&visi), s("color"), s("blue")],
    )
    .await
    .unwrap();
    assert_eq!(
        call(&api, "getUserProfInfo", vec![s(&visi), s("color")])
            .await
            .unwrap(),
        s("blue")
    );
    assert_eq!(
        call(&api, "popUserProfInfo", vec![s(&visi), s("color")])
            .await
            .unwrap(),
        s("blue")
    );
    assert_eq!(
        call_kw(
            &api,
            "popUserProfInfo",
            vec![s(&visi), s("color")],
            vec![("default", s("d"))]
        )
        .await
        .unwrap(),
        s("d")
    );

    // session of the new user: allowed() checks its own permissions
    let vapi = cell.session(&visi, ConnInfo::local());
    let perm = Value::Array(vec![s("node"), s("add")]);
    assert_eq!(
        call(&vapi, "allowed", vec![perm]).await.unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        call(&vapi, "allowed", vec![Value::Array(vec![s("x")])])
            .await
            .unwrap(),
        Value::Nil
    );

    // API keys: own keys allowed by default
    let made = call(&vapi, "addUserApiKey", vec![s("mykey")])
        .await
        .unwrap();
    let Value::Array(parts) = made else { panic!() };
    let key = parts[0].as_str().unwrap().to_string();
    let kiden = to_json(&parts[1])["iden"].as_str().unwrap().to_string();
    let listed = to_json(&call(&vapi, "listUserApiKeys", vec![]).await.unwrap());
    assert_eq!(listed[0]["name"], "mykey");
    assert!(listed[0].get("shadow").is_none());
    let checked = to_json(&call(&api, "checkUserApiKey", vec![s(&key)]).await.unwrap());
    assert_eq!(checked[0], true);
    assert_eq!(checked[1]["udef"]["name"], "visi");
    let err = call_kw(
        &vapi,
        "listUserApiKeys",
        vec![],
        vec![("useriden", s(&root))],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrKind::AuthDeny);
    assert_eq!(
        call(&vapi, "delUserApiKey", vec![s(&kiden)]).await.unwrap(),
        Value::Boolean(true)
    );
    let err = call(&vapi, "delUserApiKey", vec![s(&kiden)])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::NoSuchIden);

    // delete role and user
    call(&api, "delRole", vec![s(&role)]).await.unwrap();
    assert_eq!(
        call(&api, "getRoleDef", vec![s(&role)]).await.unwrap(),
        Value::Nil
    );
    call(&api, "delUser", vec![s(&visi)]).await.unwrap();
    assert_eq!(
        call(&api, "getUserDef", vec![s(&visi)]).await.unwrap(),
        Value::Nil
    );
    cell.fini().await;
}

#[tokio::test]
async fn non_admins_cannot_raise_their_permissions() {
    let (_dir, cell) = open_cell(&[]).await;
    let auth = cell.cell().auth().clone();
    let visi = auth
        .add_user("visi", Some("visipass"), None, None)
        .await
        .unwrap();
    let other = auth
        .add_user("other", Some("otherpass"), None, None)
        .await
        .unwrap();
    let vapi = cell.session(&visi.iden, ConnInfo::local());
    let me = s(&visi.iden);
    let attempts: Vec<(&str, Vec<Value>)> = vec![
        ("setUserAdmin", vec![me.clone(), Value::Boolean(true)]),
        ("addUserRule", vec![me.clone(), rule(true, &["node"])]),
        (
            "setUserRules",
            vec![me.clone(), Value::Array(vec![rule(true, &["node"])])],
        ),
        ("addUserRole", vec![me.clone(), s(&auth.all_role_iden())]),
        (
            "addRoleRule",
            vec![s(&auth.all_role_iden()), rule(true, &["node"])],
        ),
        ("addUser", vec![s("sneaky")]),
        ("setUserLocked", vec![s(&other.iden), Value::Boolean(true)]),
        ("getAuthUsers", vec![]),
        ("getUserDef", vec![me.clone()]),
        ("genUserOnepass", vec![s(&auth.root_iden())]),
        ("tryUserPasswd", vec![s("root"), s("secret")]),
        ("setAuthAdmin", vec![s("visi"), Value::Boolean(true)]),
    ];
    for (meth, args) in attempts {
        let err = call(&vapi, meth, args).await.unwrap_err();
        assert_eq!(err.kind(), ErrKind::AuthDeny, "{meth}");
        assert_eq!(err.mesg(), "User is not an admin [visi]", "{meth}");
    }
    // another user's password needs auth.user.set.passwd
    let err = call(&vapi, "setUserPasswd", vec![s(&other.iden), s("x")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::AuthDeny);
    assert_eq!(
        err.mesg(),
        format!(
            "User 'visi' ({}) must have permission auth.user.set.passwd",
            visi.iden
        )
    );
    assert!(
        auth.try_user_passwd(&other.iden, Some("otherpass"))
            .await
            .unwrap()
    );
    // own password is allowed by default, unless denied
    call(&vapi, "setUserPasswd", vec![me.clone(), s("mine")])
        .await
        .unwrap();
    assert!(
        auth.try_user_passwd(&visi.iden, Some("mine"))
            .await
            .unwrap()
    );
    auth.add_user_rule(
        &visi.iden,
        synapse_cell::Rule::new(false, &["auth", "self", "set", "passwd"]),
        None,
        None,
    )
    .await
    .unwrap();
    let err = call(&vapi, "setUserPasswd", vec![me.clone(), s("again")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrKind::AuthDeny);
    // health needs the permission
    let err = call(&vapi, "getHealthCheck", vec![]).await.unwrap_err();
    assert_eq!(err.mesg(), "User must have permission health");
    // getUserInfo: self only
    call(&vapi, "getUserInfo", vec![s("visi")]).await.unwrap();
    let err = call(&vapi, "getUserInfo", vec![s("other")])
        .await
        .unwrap_err();
    assert_eq!(err.mesg(), "getUserInfo denied for non-admin and non-self");
    // setCellUser is admin only
    let err = call(&vapi, "setCellUser", vec![s(&auth.root_iden())])
        .await
        .unwrap_err();
    assert_eq!(err.mesg(), "setCellUser() caller must be admin.");
    let me_now = auth.req_user(&visi.iden).unwrap();
    assert!(!me_now.is_admin());
    assert_eq!(me_now.rules.len(), 1);
    cell.fini().await;
}

#[tokio::test]
async fn locked_session_users_lose_their_permissions() {
    let (_dir, cell) = open_cell(&[]).await;
    let auth = cell.cell().auth().clone();
    let visi = auth.add_user("visi", None, None, None).await.unwrap();
    auth.set_user_admin(&visi.iden, true, None).await.unwrap();
    let vapi = cell.session(&visi.iden, ConnInfo::local());
    call(&vapi, "getAuthUsers", vec![]).await.unwrap();
    auth.set_user_locked(&visi.iden, true).await.unwrap();
    let perm = Value::Array(vec![s("anything")]);
    assert_eq!(
        call(&vapi, "allowed", vec![perm]).await.unwrap(),
        Value::Boolean(false)
    );
    cell.fini().await;
}

#[tokio::test]
async fn ps_and_kill_tasks() {
    let (_dir, cell) = open_cell(&[]).await;
    let auth = cell.cell().auth().clone();
    let visi = auth.add_user("visi", None, None, None).await.unwrap();
    let other = auth.add_user("other", None, None, None).await.unwrap();
    let boss = cell.cell().boss();
    let (mine, _t1) = boss
        .spawn(
            TaskOpts::new("storm", &visi.iden, "visi"),
            std::future::pending::<()>(),
        )
        .unwrap();
    let (theirs, _t2) = boss
        .spawn(
            TaskOpts::new("storm", &other.iden, "other"),
            std::future::pending::<()>(),
        )
        .unwrap();
    let vapi = cell.session(&visi.iden, ConnInfo::local());
    let tasks = to_json(&call(&vapi, "ps", vec![]).await.unwrap());
    assert_eq!(tasks.as_array().unwrap().len(), 1);
    assert_eq!(tasks[0]["iden"], mine);
    assert_eq!(tasks[0]["user"], "visi");
    let err = call(&vapi, "kill", vec![s(&theirs)]).await.unwrap_err();
    assert_eq!(err.kind(), ErrKind::AuthDeny);
    assert_eq!(
        err.mesg(),
        "User (visi) must have permission task.del or own the task"
    );
    assert_eq!(
        call(&vapi, "kill", vec![s(&mine)]).await.unwrap(),
        Value::Boolean(true)
    );
    let root = cell.session(&auth.root_iden(), ConnInfo::local());
    let all = to_json(&call(&root, "ps", vec![]).await.unwrap());
    assert_eq!(all.as_array().unwrap().len(), 1);
    let task = to_json(&call(&root, "getTask", vec![s(&theirs)]).await.unwrap());
    assert_eq!(task["user"], other.iden);
    assert_eq!(task["username"], "other");
    let Reply::Genr(stream) = root.call("getTasks", Args::default()).await.unwrap() else {
        panic!()
    };
    use futures::StreamExt;
    assert_eq!(stream.count().await, 1);
    assert_eq!(
        call(&root, "killTask", vec![s(&theirs)]).await.unwrap(),
        Value::Boolean(true)
    );
    assert!(boss.ps().is_empty());
    cell.fini().await;
}

#[tokio::test]
async fn data_survives_a_restart_of_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn synapse_cell::Store> =
        std::sync::Arc::new(synapse_cell::MemStore::new());
    let open = || {
        let mut opts = synapse_cell::CellOptions::new(
            dir.path().join("cell"),
            &<BaseCell as synapse_cell::Service>::def(),
        );
        opts.store = Some(store.clone());
        synapse_cell::ServiceCell::<BaseCell>::open(opts)
    };
    let cell = open().await.unwrap();
    let iden = cell.cell().iden().to_string();
    let visi = cell
        .cell()
        .auth()
        .add_user("visi", Some("pass"), None, None)
        .await
        .unwrap();
    cell.fini().await;
    let cell = open().await.unwrap();
    assert_eq!(cell.cell().iden(), iden);
    assert!(!cell.cell().is_inaugural());
    assert!(
        cell.cell()
            .auth()
            .try_user_passwd(&visi.iden, Some("pass"))
            .await
            .unwrap()
    );
    cell.fini().await;
}

#[tokio::test]
async fn inaugural_config_runs_at_first_boot() {
    let conf = json!({"roles": [{"name": "analysts", "rules": [[true, ["node"]]]}],
                      "users": [{"name": "visi", "admin": true, "email": "v@v.l", "roles": ["analysts"],
                                 "rules": [[false, ["x"]]]}]});
    let (_dir, cell) = open_cell(&[("inaugural", conf)]).await;
    let auth = cell.cell().auth();
    let visi = auth.user_by_name("visi").unwrap();
    assert!(visi.is_admin());
    assert_eq!(visi.email.as_deref(), Some("v@v.l"));
    let role = auth.role_by_name("analysts").unwrap();
    assert!(visi.roles.contains(&role.iden));
    let expect = synapse_cell::guid_of(&Value::Array(vec![
        s(cell.cell().iden()),
        s("auth"),
        s("user"),
        s("visi"),
    ]));
    assert_eq!(visi.iden, expect);
    cell.fini().await;
}
